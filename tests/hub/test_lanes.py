"""Lanes: one conversation in order; an item that steps aside lets the next one start."""

from __future__ import annotations

import asyncio

from hub.lanes import Lanes, overtaken, step_aside, step_aside_after


async def test_items_of_one_lane_run_in_order_and_lanes_in_parallel() -> None:
    ran: list[str] = []
    gate = asyncio.Event()

    async def worker(item: str) -> None:
        if item == "a1":
            await gate.wait()  # lane a is busy; lane b is not held up by it
        ran.append(item)
        if item == "b1":
            gate.set()

    lanes: Lanes[str] = Lanes(worker)
    for key, item in (("a", "a1"), ("a", "a2"), ("b", "b1")):
        lanes.push(key, item)
    await lanes.join()
    assert ran == ["b1", "a1", "a2"]


async def test_an_item_that_steps_aside_lets_the_next_run_and_still_finishes() -> None:
    ran: list[str] = []
    later_done = asyncio.Event()
    counts: dict[str, int] = {}

    async def worker(item: str) -> None:
        if item == "slow":
            assert step_aside() and not step_aside()  # once
            await later_done.wait()
        ran.append(item)
        counts[item] = overtaken()
        if item == "second":
            later_done.set()

    lanes: Lanes[str] = Lanes(worker)
    for item in ("slow", "first", "second"):
        lanes.push("c", item)
    await lanes.join()  # waits for the item aside too
    assert ran == ["first", "second", "slow"]  # nothing lost, each once
    assert counts == {"first": 0, "second": 0, "slow": 2}


async def test_a_message_after_the_lane_emptied_still_counts_as_going_ahead() -> None:
    release = asyncio.Event()
    counts: dict[str, int] = {}
    started = asyncio.Event()

    async def worker(item: str) -> None:
        if item == "slow":
            async with step_aside_after(0.01):
                started.set()
                await release.wait()
        counts[item] = overtaken()
        if item == "late":
            release.set()

    lanes: Lanes[str] = Lanes(worker)
    lanes.push("c", "slow")
    await started.wait()
    async with asyncio.timeout(10):
        while len(lanes):  # noqa: ASYNC110 (bounded poll: empty once "slow" stepped aside)
            await asyncio.sleep(0.01)
    lanes.push("c", "late")
    await lanes.join()
    assert counts == {"late": 0, "slow": 1}


async def test_outside_a_lane_there_is_nothing_to_step_aside_from() -> None:
    assert not step_aside() and overtaken() == 0
    async with step_aside_after(0):
        await asyncio.sleep(0)
