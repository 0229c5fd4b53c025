"""Which replica acts: leader election over a coordination.k8s.io Lease (``reentry run --leader-elect``).

Every replica watches everything (its caches stay warm); only the one holding the Lease runs the
plans' loops. The rules are in ``reentry.engine.lease``; this module makes the calls and keeps time:

- every :data:`~reentry.engine.lease.RETRY_PERIOD` seconds the leader renews the Lease (one write
  at the version it last wrote; a Conflict makes it read again), and a standby reads it and takes it
  over (free, released or expired as this replica's own clock sees it) or waits: one request per
  replica every two seconds;
- a leader that has not renewed for :data:`~reentry.engine.lease.RENEW_DEADLINE` seconds (the API
  server unreachable, a partition) fences itself: a timer set at each renewal fires at that
  deadline, whatever the renewing call is still waiting for, and every plan loop is cancelled. The
  Lease lasts longer than that (:data:`~reentry.engine.lease.LEASE_DURATION`), so the fenced
  leader has stopped before a standby may take over;
- a replica that stops cleanly releases the Lease, so the standby takes over at its next attempt
  instead of waiting for the Lease to expire.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from reentry import errors
from reentry.engine.lease import LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD, LeaseRecord, Move, next_move
from reentry.kube import Kube

log = logging.getLogger(__name__)


class Leadership:
    """One replica's part in the election for the Lease ``namespace/name``, as ``identity``.

    ``on_lead`` is called when it becomes leader, ``on_fence`` when it must stop acting.
    """

    def __init__(self, kube: Kube, namespace: str, name: str, identity: str, on_lead: Callable[[], None],
                 on_fence: Callable[[], None], lease_duration: float = LEASE_DURATION,
                 renew_deadline: float = RENEW_DEADLINE, retry_period: float = RETRY_PERIOD) -> None:
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs 0 < retry period < renew deadline < lease duration")
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.on_lead, self.on_fence = on_lead, on_fence
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.leading = False
        self._record: LeaseRecord | None = None
        self._observed_version: str | None = None
        self._observed_at = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Take part until cancelled."""
        while True:
            await self.attempt()
            await asyncio.sleep(self.retry_period)

    async def attempt(self) -> None:
        """Read the Lease and make this replica's move (at most one retry period long)."""
        started = asyncio.get_running_loop().time()
        try:
            await asyncio.wait_for(self._move(started), timeout=self.retry_period)
        except errors.Conflict:
            log.debug("the Lease %s/%s changed while it was written; reading it again", self.namespace, self.name)
            self._record = None
        except (errors.ApiRefused, OSError, TimeoutError) as err:
            log.warning("leader election: the Lease %s/%s could not be read or written: %s",
                        self.namespace, self.name, err or type(err).__name__)

    async def _move(self, started: float) -> None:
        if self.leading and self._record is not None and self._record.holder == self.identity:
            record: LeaseRecord | None = self._record  # a leader renews what it last wrote: a Conflict if it changed
        else:
            record = await self.kube.read_lease(self.namespace, self.name)
            self._observe(record)
        move = next_move(record, self.identity, self._observed_at, time.monotonic(), self.lease_duration)
        if move == Move.WAIT:
            if self.leading:  # someone else holds it: we were fenced too late, or it was taken by hand
                self._fence(f"the Lease is held by {record.holder if record else 'nobody'}")
            return
        written = await self.kube.write_lease(self.namespace, self.name, self.identity, self.lease_duration,
                                              None if move == Move.CREATE else record)
        self._observe(written)
        self._renewed(started)
        if not self.leading:
            self.leading = True
            log.info("leader election: %s leads (Lease %s/%s, transitions %d)", self.identity, self.namespace,
                     self.name, written.transitions)
            self.on_lead()

    def _observe(self, record: LeaseRecord | None) -> None:
        """Remember when this replica first saw the Lease as it is now (its own clock)."""
        version = record.version if record else None
        if version != self._observed_version or record is None:
            self._observed_version, self._observed_at = version, time.monotonic()
        self._record = record

    def _renewed(self, started: float) -> None:
        """A renewal sent at ``started`` (the event loop's clock) succeeded: the fencing deadline moves
        to ``started + renew_deadline``. From the start of the call, not its end: whoever observes the
        write saw it after it was sent."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = asyncio.get_running_loop().call_at(started + self.renew_deadline, self._fence,
                                                            f"not renewed for {self.renew_deadline:.0f} s")

    def _fence(self, why: str, level: int = logging.ERROR) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self.leading:
            self.leading = False
            log.log(level, "leader election: %s stops acting (%s)", self.identity, why)
            self.on_fence()

    async def release(self) -> None:
        """Stop acting and hand the Lease back (a clean stop), so a standby takes over at once."""
        was_leading = self.leading
        self._fence("stopping", logging.INFO)
        if not was_leading or self._record is None or self._record.holder != self.identity:
            return
        try:
            await asyncio.wait_for(self.kube.write_lease(self.namespace, self.name, None, self.lease_duration,
                                                         self._record), timeout=self.retry_period)
            log.info("leader election: %s released the Lease %s/%s", self.identity, self.namespace, self.name)
        except (errors.ApiRefused, OSError, TimeoutError) as err:
            log.warning("leader election: the Lease could not be released (%s); a standby takes over when it "
                        "expires", err or type(err).__name__)
