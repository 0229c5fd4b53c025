"""``kubectl reentry``: the kubectl plugin. Only its name exists so far."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Say plainly that the plugin is not built yet, and what to use meanwhile."""
    print("kubectl reentry: not yet implemented; use `kubectl get rplan` and "
          "`kubectl get rplan NAME -o yaml` meanwhile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
