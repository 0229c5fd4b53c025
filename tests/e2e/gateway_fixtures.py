"""The ``gateway_api`` session fixture: the Gateway API's standard CRDs in the session's cluster.

Requested by the tests that need HTTPRoutes; installed once per session from the pinned Go module
(see reentry.sandbox.gateway_api), through the session's own kubectl. Registered by an import in
tests/e2e/conftest.py: pytest refuses ``pytest_plugins`` in a conftest below the root one.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import pytest

from reentry.sandbox import gateway_api as gateway

if TYPE_CHECKING:  # conftest imports this module to register the fixture; no import back at run time
    from tests.e2e.conftest import Cluster


@pytest.fixture(scope="session")
def gateway_api(cluster: Cluster) -> list[str]:
    """The names of the installed (Established) Gateway API CRDs."""
    started = time.monotonic()
    names = gateway.install(lambda *argv: cluster.kubectl(*argv).stdout)
    print(f"\nGateway API {gateway.VERSION} CRDs Established in {time.monotonic() - started:.1f}s",
          file=sys.stderr)
    return names
