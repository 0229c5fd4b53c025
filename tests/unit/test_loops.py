"""One loop per plan: started by its first event, fed its newest version, stopped when it goes."""

from __future__ import annotations

import asyncio

from reentry.loops import LivePlan, PlanLoops


def body(version: str) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "resourceVersion": version}}


def test_a_plan_gets_one_loop_that_reads_its_newest_version_and_stops_when_it_goes():
    async def scenario() -> None:
        loops, seen, started = PlanLoops(), [], []

        async def loop(live: LivePlan) -> None:
            started.append(live)
            while True:
                seen.append(live.resource_version)
                await asyncio.sleep(0.01)

        assert loops.seen(("ns", "p"), body("1"), loop)
        assert not loops.seen(("ns", "p"), body("2"), loop)  # the same loop, the newer version
        await asyncio.sleep(0.05)
        assert len(started) == 1 and seen[-1] == "2" and loops.running() == [("ns", "p")]
        loops.gone(("ns", "p"))
        await asyncio.sleep(0)
        assert loops.running() == []
        await loops.stop(1.0)

    asyncio.run(scenario())


def test_a_loop_that_crashed_is_started_again_by_the_next_event_and_stop_ends_them_all(caplog):
    async def scenario() -> None:
        loops, runs = PlanLoops(), []

        async def crashing(live: LivePlan) -> None:
            runs.append(live.resource_version)
            raise RuntimeError("a bug")

        loops.seen(("ns", "p"), body("1"), crashing)
        await asyncio.sleep(0.01)
        assert loops.running() == []
        assert loops.seen(("ns", "p"), body("2"), crashing)
        await asyncio.sleep(0.01)
        assert runs == ["1", "2"]

        async def forever(live: LivePlan) -> None:
            await asyncio.Event().wait()

        loops.seen(("ns", "a"), body("1"), forever)
        loops.seen(("ns", "b"), body("1"), forever)
        await loops.stop(1.0)
        assert loops.running() == []

    asyncio.run(scenario())
    assert "the loop of plan ns/p ended: RuntimeError('a bug')" in caplog.text


def test_a_standby_knows_every_plan_runs_no_loop_and_starts_them_all_when_it_leads_and_fences_at_once():
    async def scenario() -> None:
        loops, running = PlanLoops(acting=False), []

        async def loop(live: LivePlan) -> None:
            running.append(live.resource_version)
            await asyncio.Event().wait()

        assert not loops.seen(("ns", "a"), body("1"), loop)
        assert not loops.seen(("ns", "b"), body("1"), loop)
        assert not loops.seen(("ns", "a"), body("2"), loop)  # the newest version is kept all the same
        loops.gone(("ns", "b"))
        await asyncio.sleep(0.01)
        assert loops.running() == [] and running == []

        assert loops.act() == 1  # the plans it knows (b is gone), from their newest version
        await asyncio.sleep(0.01)
        assert running == ["2"] and loops.running() == [("ns", "a")]
        assert loops.seen(("ns", "c"), body("1"), loop)  # while it acts, a new plan starts at once

        assert loops.fence() == 2  # cancelled, not waited for
        await asyncio.sleep(0)
        assert loops.running() == [] and not loops.acting
        assert not loops.seen(("ns", "a"), body("3"), loop)  # fenced: nothing starts again
        assert loops.act() == 2
        await loops.stop(1.0)

    asyncio.run(scenario())


def test_a_loop_context_keeps_only_the_named_variables():
    import contextvars

    from reentry.loops import context_for_loops

    cause = contextvars.ContextVar("cause_var")
    queue = contextvars.ContextVar("event_queue_var")

    def inside() -> contextvars.Context:
        cause.set({"metadata": {"name": "a plan whose whole body must not outlive it"}})
        queue.set("the queue")
        return context_for_loops({"event_queue_var"})

    slim = contextvars.copy_context().run(inside)
    assert dict(slim.items()) == {queue: "the queue"}


def test_the_operator_keeps_the_variables_kopf_posts_events_through():
    from kopf._core.engines import posting  # kopf's own names: a rename must fail here, not drop Events

    from reentry.handlers import POSTING_VARIABLES

    assert {posting.event_queue_loop_var.name, posting.event_queue_var.name, posting.settings_var.name} \
        == POSTING_VARIABLES
