"""Leader election's decisions (reentry.engine.lease): client-go's rules, judged by the replica's own clock."""

from __future__ import annotations

from reentry.engine.lease import (
    LEASE_DURATION,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    LeaseRecord,
    Move,
    next_move,
)


def lease(holder: str | None, duration: float | None = 10) -> LeaseRecord:
    return LeaseRecord(holder=holder, duration=duration, transitions=0, version="7")


def test_none_is_created_our_own_is_renewed_a_released_one_is_taken() -> None:
    assert next_move(None, "a", observed=0, now=0) == Move.CREATE
    assert next_move(lease("a"), "a", observed=0, now=100) == Move.RENEW
    assert next_move(lease(None), "a", observed=5, now=5) == Move.TAKE_OVER
    assert next_move(lease(""), "a", observed=5, now=5) == Move.TAKE_OVER


def test_anothers_lease_is_taken_only_once_it_went_unchanged_for_its_duration_by_our_clock() -> None:
    held = lease("b", duration=10)
    assert next_move(held, "a", observed=100, now=109.9) == Move.WAIT
    assert next_move(held, "a", observed=100, now=110) == Move.TAKE_OVER
    # no duration written: the default
    assert next_move(lease("b", None), "a", observed=0, now=LEASE_DURATION - 0.1) == Move.WAIT
    assert next_move(lease("b", None), "a", observed=0, now=LEASE_DURATION) == Move.TAKE_OVER


def test_a_leader_fences_itself_before_anyone_may_take_over() -> None:
    # the leader stops acting RENEW_DEADLINE after its last renewal; a standby waits LEASE_DURATION
    assert 0 < RETRY_PERIOD < RENEW_DEADLINE < LEASE_DURATION
