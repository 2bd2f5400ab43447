"""stop_tasks: background loops stop even when a library swallowed the cancellation."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.tasks import stop_tasks


class PoolTimeout(Exception):
    """What redis-py's pool raises when its own timeout and a cancellation fire at once."""


async def _swallowing_loop(rounds: list[int], stubborn: asyncio.Event) -> None:
    """A loop that turns a cancellation into a 'retry later' the way such a library does."""
    while stubborn.is_set():
        try:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                raise PoolTimeout from None
        except PoolTimeout:
            rounds.append(1)
            continue


async def test_a_loop_that_swallowed_one_cancellation_still_stops() -> None:
    rounds: list[int] = []

    async def swallow_once() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            rounds.append(1)  # swallowed; a plain cancel-and-await would wait 10 s here
        await asyncio.sleep(10)

    task = asyncio.create_task(swallow_once())
    await asyncio.sleep(0)
    assert await stop_tasks([task], timeout_s=5)
    assert task.done() and rounds == [1]


async def test_a_loop_that_never_stops_is_left_behind_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    stubborn = asyncio.Event()
    stubborn.set()
    task = asyncio.create_task(_swallowing_loop(rounds, stubborn), name="stubborn-reader")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="hub.tasks"):
        assert not await stop_tasks([task], timeout_s=0.3)
    assert len(rounds) >= 2  # cancelled again and again, not once
    assert "stubborn-reader" in caplog.text
    stubborn.clear()
    assert await stop_tasks([task])


async def test_finished_and_missing_tasks_are_fine() -> None:
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    assert await stop_tasks([None, done])


async def test_a_task_that_failed_while_stopping_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup broke") from None

    task = asyncio.create_task(fails_on_cancel(), name="breaks")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="hub.tasks"):
        assert await stop_tasks([task])
    assert "breaks" in caplog.text and "cleanup broke" in caplog.text
