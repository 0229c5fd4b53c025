"""The model's lists of kinds are the registries: each kind runs from the module named after it."""

from __future__ import annotations

import inspect
import pkgutil

import pytest

from reentry import actions, checks, kinds, model, targets


@pytest.mark.parametrize(("kind", "module"), [
    ("workload", "workload"), ("serviceAccountToken", "service_account_token"),
    ("releaseLeases", "release_leases"), ("httpRoute", "http_route"), ("configMapKey", "config_map_key")])
def test_a_kind_lives_in_the_module_named_after_it(kind, module):
    assert kinds.module_name(kind) == module


@pytest.mark.parametrize(("package", "registry", "names", "functions"), [
    (checks, checks.PROBES, model.CHECK_KINDS, ("probe",)),
    (actions, actions.EXECUTORS, model.ACTION_KINDS, ("execute",)),
    (targets, targets.TARGETS, model.TARGET_KINDS, ("observe", "apply")),
])
def test_every_kind_of_the_model_has_its_module_and_no_module_runs_an_unknown_kind(package, registry, names,
                                                                                   functions):
    assert list(registry) == list(names)
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    for kind in names:
        assert kinds.module_name(kind) in modules
    # A module that has the kind's functions but no kind in the model would never run: a name drifted.
    runners = {name for name in modules
               if all(inspect.iscoroutinefunction(getattr(__import__(f"{package.__name__}.{name}",
                                                                      fromlist=["_"]), f, None))
                      for f in functions)}
    assert runners == {kinds.module_name(kind) for kind in names}
