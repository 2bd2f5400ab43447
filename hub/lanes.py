"""Per-conversation lanes: one conversation in order, many in parallel."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from hub.tasks import stop_tasks

__all__ = ["Lanes"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Lanes(Generic[T]):
    """Run ``worker(item)`` for each pushed item, one at a time per lane key.

    A lane exists only while it has work: the first push starts a task that
    drains the lane's queue and ends when it is empty. The worker must handle
    its own errors; one escaping is logged and the lane goes on.
    """

    def __init__(self, worker: Callable[[T], Awaitable[None]]) -> None:
        self._worker = worker
        self._queues: dict[str, deque[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def push(self, key: str, item: T) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        queue = self._queues[key] = deque([item])
        task = asyncio.create_task(self._drain(key, queue), name=f"lane:{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: str, queue: deque[T]) -> None:
        try:
            while queue:
                try:
                    await self._worker(queue[0])
                except Exception:
                    logger.exception("lane %s: worker failed", key)
                finally:
                    queue.popleft()
        finally:
            del self._queues[key]

    async def join(self) -> None:
        """Wait until every lane is empty."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Let running work finish for ``timeout_s``, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=timeout_s)
        await stop_tasks(pending)
