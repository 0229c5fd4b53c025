"""serviceAccountToken: judging a TokenReview and naming the step and failure class of a refusal."""

from __future__ import annotations

import pytest

from reentry import errors
from reentry.checks import service_account_token
from reentry.checks.service_account_token import Review, judge_review
from reentry.model import FailureClass, Outcome, ServiceAccountTokenCheck

USER = "system:serviceaccount:shop:orders"


def test_an_authenticated_token_with_every_audience_passes():
    problem, _, observed = judge_review(Review(True, USER, ("vault", "api")), USER, ["vault"])
    assert (problem, observed) == (None, f"authenticated as {USER}, audiences vault, api")
    assert judge_review(Review(True, USER, ("https://kubernetes.default.svc.cluster.local",)), USER, [])[0] is None


def test_a_token_the_api_server_does_not_authenticate_is_unauthorized_with_its_reason():
    problem, failure, observed = judge_review(Review(False, error="token has been invalidated"), USER, [])
    assert problem == "review: the API server does not authenticate the token (token has been invalidated)"
    assert (failure, observed) == (FailureClass.UNAUTHORIZED, "not authenticated")


def test_another_user_or_a_missing_audience_misses_the_threshold():
    problem, failure, _ = judge_review(Review(True, "system:serviceaccount:shop:other", ("api",)), USER, [])
    assert (problem, failure) == (f"review: the token authenticates as system:serviceaccount:shop:other, not {USER}",
                                  FailureClass.THRESHOLD_MISSED)
    problem, failure, observed = judge_review(Review(True, USER, ("api",)), USER, ["api", "vault"])
    assert (problem, failure) == ("review: the token is not valid for audience vault", FailureClass.THRESHOLD_MISSED)
    assert observed == f"authenticated as {USER}, audiences api"


def api_error(code: int, reason: str, message: str) -> errors.ApiRefused:
    """The typed error ``kube`` raises for an answer with a Status body."""
    return errors.api_refusal(code, reason, message)


@pytest.mark.parametrize(("code", "reason", "failure"), [
    (403, "Forbidden", FailureClass.UNAUTHORIZED),
    (422, "Invalid", FailureClass.INVALID_CONFIGURATION),
    (503, "ServiceUnavailable", FailureClass.UNREACHABLE),
])
def test_a_refused_issuance_names_the_step_and_its_class(code: int, reason: str, failure: FailureClass):
    result = service_account_token._issuance_refused(api_error(code, reason, "no"), "ServiceAccount orders in "
                                                     "namespace shop", "wanted")
    assert (result.outcome, result.failure) == (Outcome.ERROR, failure)
    assert result.message == f"issuance: refused for ServiceAccount orders in namespace shop: {code} {reason}: no"


def test_no_such_account_is_named_as_the_first_step():
    result = service_account_token._issuance_refused(
        api_error(404, "NotFound", 'serviceaccounts "orders" not found'), "ServiceAccount orders in namespace shop",
        "wanted")
    assert (result.outcome, result.failure, result.message) == (
        Outcome.FAIL, FailureClass.NO_DATA, "account: no ServiceAccount orders in namespace shop")


def test_the_threshold_names_the_audiences():
    spec = ServiceAccountTokenCheck.model_validate({"serviceAccount": "orders", "audiences": ["vault", "api"]})
    assert service_account_token.threshold(spec) == "token issued and authenticated, audiences vault, api"
    assert service_account_token.threshold(ServiceAccountTokenCheck(serviceAccount="orders")) == (
        "token issued and authenticated, audiences the API server's")
    with pytest.raises(ValueError):
        ServiceAccountTokenCheck.model_validate({"serviceAccount": "orders", "expirationSeconds": 60})
