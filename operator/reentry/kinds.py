"""Where each kind's implementation lives: a module of its package named after the kind.

A check kind ``serviceAccountToken`` is probed by ``reentry.checks.service_account_token``, an
action kind ``releaseLeases`` executed by ``reentry.actions.release_leases``, a traffic target
``configMapKey`` moved by ``reentry.targets.config_map_key``. The model's list of kinds
(``model.CHECK_KINDS``...) is the registry: adding a kind is its model, in ``reentry/model``, and
its module, nothing else (docs/architecture.md shows one). A kind without its module fails the
import of its package, so the operator does not start with a kind it cannot run.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from types import ModuleType


def module_name(kind: str) -> str:
    """The module of a kind: ``serviceAccountToken`` -> ``service_account_token``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def implementations(package: str, kinds: Iterable[str]) -> dict[str, ModuleType]:
    """Each kind's module in ``package``, imported, in the order of ``kinds``."""
    return {kind: importlib.import_module(f"{package}.{module_name(kind)}") for kind in kinds}
