"""``serviceAccountToken``: the restored API server issues a token for the ServiceAccount and accepts it.

Two steps, as a workload's own token would go: a TokenRequest for the ServiceAccount with the
audiences asked for (the API server's own when none), then a TokenReview of that token with the
same audiences. It passes when the review says authenticated, as
``system:serviceaccount:<namespace>:<name>``, with every audience asked for. A failure names the
step:

- **account**: no such ServiceAccount (or namespace): Fail, NoData, the restored system lacks it;
- **issuance**: the TokenRequest is refused: Unauthorized when the operator may not
  (``create serviceaccounts/token``), InvalidConfiguration when the API server rejects the request
  (e.g. an expirationSeconds it does not allow), Unreachable otherwise;
- **review**: the TokenReview is refused (Unauthorized: ``create tokenreviews``), or it does not
  authenticate the token (Fail, Unauthorized, with the API server's reason), or authenticates
  another user or fewer audiences (Fail, ThresholdMissed).

The token lives in memory for the two calls only: never in status, an event or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass

from reentry import errors, model
from reentry.checks import failures
from reentry.engine.observations import CheckResult
from reentry.kube import Kube
from reentry.model import FailureClass, Outcome
from reentry.objects import Objects, describe_error


def threshold(spec: model.ServiceAccountTokenCheck) -> str:
    """What the check wants, in one line."""
    audiences = ", ".join(spec.audiences) if spec.audiences else "the API server's"
    return f"token issued and authenticated, audiences {audiences}"


def username(namespace: str, name: str) -> str:
    """The user a ServiceAccount's token authenticates as."""
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class Review:
    """What a TokenReview answered: ``audiences`` is the intersection of the token's with those asked for."""

    authenticated: bool
    username: str | None = None
    audiences: tuple[str, ...] = ()
    error: str | None = None


def judge_review(review: Review, expected_user: str, audiences: list[str]) -> tuple[str | None, FailureClass, str]:
    """Why the review does not pass (None when it does), its failure class, and what was observed."""
    if not review.authenticated:
        return (f"review: the API server does not authenticate the token ({review.error or 'no reason given'})",
                FailureClass.UNAUTHORIZED, "not authenticated")
    observed = f"authenticated as {review.username}, audiences {', '.join(review.audiences) or 'none'}"
    if review.username != expected_user:
        return (f"review: the token authenticates as {review.username}, not {expected_user}",
                FailureClass.THRESHOLD_MISSED, observed)
    if missing := [a for a in audiences if a not in review.audiences]:
        return (f"review: the token is not valid for audience {', '.join(missing)}", FailureClass.THRESHOLD_MISSED,
                observed)
    return None, FailureClass.THRESHOLD_MISSED, observed


async def probe(kube: Kube, objects: Objects, namespace: str, spec: model.ServiceAccountTokenCheck) -> CheckResult:
    """Request a token, review it, report the step that failed."""
    wanted = threshold(spec)
    ns = spec.namespace or namespace
    account = f"ServiceAccount {spec.serviceAccount} in namespace {ns}"
    try:
        token = await kube.request_token(spec.serviceAccount, ns, spec.audiences, spec.expirationSeconds)
    except errors.ApiRefused as err:
        return _issuance_refused(err, account, wanted)
    if not token:
        return CheckResult(Outcome.FAIL, None, wanted, f"issuance: the API server answered without a token for "
                           f"{account}", FailureClass.NO_DATA)
    try:
        answer = await kube.review_token(token, spec.audiences)
    except errors.ApiRefused as err:
        return _refused("review", err, wanted)
    review = Review(answer.authenticated, answer.username, answer.audiences, answer.error)
    problem, failure, observed = judge_review(review, username(ns, spec.serviceAccount), spec.audiences)
    if problem is None:
        return CheckResult(Outcome.PASS, observed, wanted)
    return CheckResult(Outcome.FAIL, observed, wanted, f"{account}: {problem}", failure)


def _issuance_refused(err: errors.ApiRefused, account: str, wanted: str) -> CheckResult:
    if isinstance(err, errors.NotFound):
        return CheckResult(Outcome.FAIL, None, wanted, f"account: no {account}", FailureClass.NO_DATA)
    return _refused("issuance", err, wanted, f" for {account}")


def _refused(step: str, err: errors.ApiRefused, wanted: str, subject: str = "") -> CheckResult:
    return CheckResult(Outcome.ERROR, None, wanted, f"{step}: refused{subject}: {describe_error(err)}",
                       failures.classify(err))
