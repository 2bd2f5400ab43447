"""At most ``max_concurrency`` provider calls per tier at once; the rest queue, in order.

A provider (and our pool of connections to it) is not asked 1,000 things at
once: each tier has a :class:`Gate` with ``[[llm.tiers]] max_concurrency``
slots. A question that finds them taken waits its turn, first come first
served; one that waits longer than ``[llm] queue_notice_s`` has ``on_long_wait``
called once (the stage tells the customer it is still working on it).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.config import LLMTierConfig

__all__ = ["Gate", "TierGates"]


@dataclass
class Gate:
    """One tier's slots and its queue."""

    limit: int
    busy: int = 0
    peak: int = 0
    _waiting: deque[asyncio.Future[None]] = field(default_factory=deque, repr=False)

    @property
    def queued(self) -> int:
        return sum(1 for waiter in self._waiting if not waiter.done())

    @asynccontextmanager
    async def slot(
        self, notice_after_s: float, on_long_wait: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Hold one slot for the body; wait for it in line if they are all taken."""
        await self._enter(notice_after_s, on_long_wait)
        try:
            yield
        finally:
            self.busy -= 1
            self._wake()

    async def _enter(
        self, notice_after_s: float, on_long_wait: Callable[[], Awaitable[None]] | None
    ) -> None:
        if self.busy < self.limit and not self._waiting:
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            done, _ = await asyncio.wait((waiter,), timeout=notice_after_s)
            if not done and on_long_wait is not None:
                await on_long_wait()
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.busy -= 1  # the slot was handed over just as we gave up: pass it on
                self._wake()
            else:
                waiter.cancel()
                self._waiting.remove(waiter)
            raise

    def _take(self) -> None:
        self.busy += 1
        self.peak = max(self.peak, self.busy)

    def _wake(self) -> None:
        while self._waiting and self.busy < self.limit:
            waiter = self._waiting.popleft()
            if not waiter.done():
                self._take()  # handed over: counted for the waiter before it runs
                waiter.set_result(None)


@dataclass
class TierGates:
    """A gate per tier name; a reload that changes a limit resizes the gate in place."""

    _gates: dict[str, Gate] = field(default_factory=dict)

    def for_tier(self, tier: LLMTierConfig) -> Gate:
        gate = self._gates.get(tier.name)
        if gate is None:
            gate = self._gates[tier.name] = Gate(tier.max_concurrency)
        elif gate.limit != tier.max_concurrency:
            gate.limit = tier.max_concurrency
            gate._wake()
        return gate

    def health(self) -> dict[str, Any]:
        return {
            name: {"in_flight": g.busy, "queued": g.queued, "limit": g.limit, "peak": g.peak}
            for name, g in self._gates.items()
        }
