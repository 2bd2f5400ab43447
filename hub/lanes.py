"""Per-conversation lanes: one conversation in order, many in parallel.

An item may **step aside** (:func:`step_aside`): it goes on running, and the
next item of its lane starts meanwhile. The LLM stage does that for an answer
pending longer than ``[llm] hold_s``, so a "hello" that a rule answers does not
wait out a slow provider (docs/llm.md, "Holding a conversation").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Generic, TypeVar

from hub.tasks import stop_tasks

__all__ = ["Lanes", "overtaken", "step_aside", "step_aside_after"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Slot:
    """The running item of a lane; ``released`` lets the lane go on (done, or aside)."""

    def __init__(self) -> None:
        self.released: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.aside = False
        self.done = False
        self.overtaken = 0  # later items of the lane started while this one was aside

    def release(self) -> None:
        if not self.released.done():
            self.released.set_result(None)


_SLOT: ContextVar[_Slot | None] = ContextVar("lane_slot", default=None)


def step_aside() -> bool:
    """Let the next item of this lane start while this one goes on; False outside a
    lane or when already aside."""
    return _step(_SLOT.get())


def _step(slot: _Slot | None) -> bool:
    if slot is None or slot.aside or slot.released.done():
        return False
    slot.aside = True
    slot.release()
    return True


def overtaken() -> int:
    """How many later items of this lane started while the running item was aside."""
    slot = _SLOT.get()
    return slot.overtaken if slot is not None else 0


@contextlib.asynccontextmanager
async def step_aside_after(seconds: float) -> AsyncIterator[None]:
    """Step aside if the body still runs after ``seconds`` (nothing outside a lane)."""
    slot = _SLOT.get()
    if slot is None:
        yield
        return
    timer = asyncio.get_running_loop().call_later(seconds, _step, slot)
    try:
        yield
    finally:
        timer.cancel()


class Lanes(Generic[T]):
    """Run ``worker(item)`` for each pushed item, one at a time per lane key.

    A lane exists only while it has work: the first push starts a task that
    drains the lane's queue and ends when it is empty. Each item runs in a task
    of its own, which the lane waits for unless the item steps aside. The
    worker must handle its own errors; one escaping is logged and the lane goes on.
    """

    def __init__(self, worker: Callable[[T], Awaitable[None]]) -> None:
        self._worker = worker
        self._queues: dict[str, deque[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._aside: dict[str, list[_Slot]] = {}  # per lane: items still running aside

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, key: str, item: T) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        queue = self._queues[key] = deque([item])
        self._track(asyncio.create_task(self._drain(key, queue), name=f"lane:{key}"))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: str, queue: deque[T]) -> None:
        try:
            while queue:
                for earlier in self._aside.get(key, ()):
                    earlier.overtaken += 1
                slot = _Slot()
                self._track(asyncio.create_task(self._run(key, queue[0], slot), name=f"lane:{key}:item"))
                try:
                    await asyncio.shield(slot.released)
                finally:
                    queue.popleft()
                if slot.aside and not slot.done:
                    self._aside.setdefault(key, []).append(slot)
        finally:
            del self._queues[key]

    async def _run(self, key: str, item: T, slot: _Slot) -> None:
        _SLOT.set(slot)
        try:
            await self._worker(item)
        except Exception:
            logger.exception("lane %s: worker failed", key)
        finally:
            slot.done = True
            slot.release()
            self._forget_aside(key, slot)

    def _forget_aside(self, key: str, slot: _Slot) -> None:
        aside = self._aside.get(key)
        if aside is not None and slot in aside:
            aside.remove(slot)
            if not aside:
                del self._aside[key]

    async def join(self) -> None:
        """Wait until every lane is empty and every item (aside or not) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let running work finish for ``timeout_s``, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout_s)
        await stop_tasks(pending)
