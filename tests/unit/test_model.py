from datetime import timedelta

import pytest
from pydantic import ValidationError

from reentry.errors import describe_validation_error
from reentry.model import RecoveryPlanSpec, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1h30m", 5400), ("250ms", 0.25), ("0s", 0)])
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_bad_duration_is_named():
    with pytest.raises(ValueError, match="invalid duration '10 minutes'"):
        parse_duration("10 minutes")


def _spec(**service):
    return {"owner": {"team": "t"}, "services": [{"name": "a", "selector": {}, "service": "a", **service}]}


@pytest.mark.parametrize("batch", [1, 3, "1%", "25%", "100%"])
def test_valid_batches(batch):
    RecoveryPlanSpec.model_validate(_spec(release={"batch": batch}))


@pytest.mark.parametrize("batch", [0, "0%", "101%", "half", "25"])
def test_invalid_batch_is_reported_with_its_path(batch):
    with pytest.raises(ValidationError) as info:
        RecoveryPlanSpec.model_validate(_spec(release={"batch": batch}))
    assert describe_validation_error(info.value).startswith("spec.services[0].release.batch")


def test_unknown_fields_are_refused_not_ignored():
    with pytest.raises(ValidationError) as info:
        RecoveryPlanSpec.model_validate({**_spec(), "trafic": {"checks": []}})
    assert "spec.trafic: Extra inputs are not permitted" in describe_validation_error(info.value)


def test_a_check_needs_exactly_one_kind():
    two = {"name": "x", "workload": {"name": "db"}, "endpoints": {"service": "db"}}
    with pytest.raises(ValidationError) as info:
        RecoveryPlanSpec.model_validate({**_spec(), "state": {"checks": [two]}})
    assert ("check 'x' needs exactly one of workload, endpoints, resource, leases, serviceAccountToken, certificate, "
            "signingKeys, secretFreshness, prometheus, http (got workload, endpoints)") in (
        describe_validation_error(info.value))


@pytest.mark.parametrize("text", ["99999999999999999999h", "8761h", "1" * 40 + "s"])
def test_a_duration_longer_than_a_year_is_refused_with_its_field_named(text):
    with pytest.raises(ValidationError) as info:
        RecoveryPlanSpec.model_validate({**_spec(), "restorationBudget": text})
    assert describe_validation_error(info.value).startswith("spec.restorationBudget: ")
    RecoveryPlanSpec.model_validate({**_spec(), "restorationBudget": "8760h"})
