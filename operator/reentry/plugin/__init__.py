"""``kubectl reentry``: follow and steer RecoveryPlans from kubectl (the executable ``kubectl-reentry``).

``render`` and ``controls`` are pure (what is shown, what is patched); ``api`` is the only part
that talks to the API server; ``command`` is the command line.
"""

from reentry.plugin.command import main

__all__ = ["main"]
