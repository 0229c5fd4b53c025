"""Leader election over a coordination.k8s.io Lease: the decisions, without the calls.

The rules are client-go's (``tools/leaderelection``), which every Kubernetes controller manager
follows, so an admin reads our Lease the way they read kube-controller-manager's:

- a Lease whose holder has not renewed it within ``leaseDurationSeconds`` may be taken over;
- "has not renewed" is judged by *this* replica's clock, from when it last saw the record change
  (``observed``), never from the ``renewTime`` the holder wrote: two machines' clocks need not agree;
- the holder renews every ``retry`` seconds and, if it could not renew for ``renew_deadline``
  (shorter than the lease), stops acting *before* anyone else may take over: a leader that lost
  the API server (or its network) fences itself, so two operators never act at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: Seconds a Lease lasts after its last renewal: after that a standby takes over. Also roughly the
#: takeover time after a leader dies without releasing it (a SIGKILL, a node lost).
LEASE_DURATION = 10.0
#: A leader that could not renew for this long stops acting (fencing); shorter than the lease.
RENEW_DEADLINE = 7.0
#: Seconds between two attempts to renew (leader) or to acquire (standby).
RETRY_PERIOD = 2.0


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease says (``spec``), and its version for an optimistic write."""

    holder: str | None
    duration: float | None
    transitions: int
    version: str | None
    acquired: datetime | None = None
    """When the holder acquired it (kept as it is by a renewal)."""


class Move(StrEnum):
    """What a replica does with the Lease it just read."""

    CREATE = "create"  # there is none: create it, holding it
    RENEW = "renew"  # ours: write a new renewTime
    TAKE_OVER = "take over"  # free, released, or expired: write ourselves as holder
    WAIT = "wait"  # someone else holds it and it has not expired


def next_move(record: LeaseRecord | None, me: str, observed: float, now: float,
              default_duration: float = LEASE_DURATION) -> Move:
    """The move for a replica called ``me`` that read ``record``; ``observed`` is when (by its own
    monotonic clock) it first saw the record as it is now, ``now`` the same clock's present."""
    if record is None:
        return Move.CREATE
    if record.holder == me:
        return Move.RENEW
    if not record.holder:
        return Move.TAKE_OVER  # released by a leader that stopped cleanly
    duration = record.duration if record.duration and record.duration > 0 else default_duration
    return Move.TAKE_OVER if now - observed >= duration else Move.WAIT

