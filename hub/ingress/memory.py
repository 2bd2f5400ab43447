"""The ingress log in memory: the embedded default, for one process and for tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence

from hub.errors import RateLimited
from hub.ingress.log import DeadLetter, LogStats, dead_letter_json
from hub.ingress.work import Entry, Fence, Outbox, Work, partition_of
from hub.store.steps import Step

__all__ = ["MemoryLog"]


class MemoryLog:
    """Partitions as deques; pending entries kept until acked, as a stream group does."""

    def __init__(self, partitions: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.partitions = partitions
        self._clock = clock
        self._ids = itertools.count(1)
        self._new: list[deque[Entry]] = [deque() for _ in range(partitions)]
        self._pending: dict[str, Entry] = {}
        self._seen: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._outbox: dict[str, tuple[float, Outbox]] = {}
        self._dead: deque[DeadLetter] = deque(maxlen=10_000)
        self._arrived = asyncio.Event()

    # -- in ------------------------------------------------------------------------
    def _forget_expired(self) -> None:
        now = self._clock()
        while self._expiry and self._expiry[0][0] <= now:
            at, key = heapq.heappop(self._expiry)
            if self._seen.get(key) == at:
                del self._seen[key]
                self._outbox.pop(key, None)

    async def enqueue(self, work: Work, dedupe_ttl_s: float, guard: Step | None = None) -> bool:
        if guard is not None and not await guard.apply():
            raise RateLimited("no token left for this work")
        self._forget_expired()
        if work.key in self._seen:
            return False
        at = self._clock() + dedupe_ttl_s
        self._seen[work.key] = at
        heapq.heappush(self._expiry, (at, work.key))
        partition = partition_of(work.address, self.partitions)
        self._new[partition].append(Entry(f"{next(self._ids)}-0", partition, work))
        self._arrived.set()
        return True

    # -- out -----------------------------------------------------------------------
    async def read(self, partitions: Collection[int], count: int, block_s: float) -> list[Entry]:
        self._arrived.clear()  # before looking, so an arrival after the look wakes us
        entries = self._take(partitions, count)
        if entries or block_s <= 0:
            return entries
        try:
            await asyncio.wait_for(self._arrived.wait(), block_s)
        except TimeoutError:
            return []
        return self._take(partitions, count)

    def _take(self, partitions: Collection[int], count: int) -> list[Entry]:
        taken: list[Entry] = []
        for partition in partitions:
            queue = self._new[partition]
            while queue and len(taken) < count:
                entry = queue.popleft()
                self._pending[entry.id] = entry
                taken.append(entry)
        return taken

    async def recover(self, partition: int) -> list[Entry]:
        found = sorted(
            (e for e in self._pending.values() if e.partition == partition),
            key=lambda e: int(e.id.split("-")[0]),
        )
        recovered = [e.again() for e in found]
        self._pending.update((e.id, e) for e in recovered)
        return recovered

    async def adopt(
        self, partitions: Collection[int], in_flight: Collection[tuple[int, str]]
    ) -> list[Entry]:
        return []  # one process, no connection to lose: nothing is ever stranded

    async def retry(self, entry: Entry) -> Entry:
        again = entry.again()
        if entry.id in self._pending:
            self._pending[entry.id] = again
        return again

    # -- outbox and acks -------------------------------------------------------------
    async def outbox(self, entry: Entry) -> Outbox | None:
        if entry.work is None:
            return None
        kept = self._outbox.get(entry.work.key)
        return kept[1] if kept is not None else None

    async def commit(
        self,
        entry: Entry,
        outbox: Outbox,
        fence: Fence,
        ttl_s: float,
        steps: Sequence[Step] = (),
        *,
        ack: bool = False,
    ) -> bool:
        if entry.work is None:
            return False
        self._outbox[entry.work.key] = (self._clock() + ttl_s, outbox)
        for step in steps:
            await step.apply()
        if ack:
            await self.ack(entry)
        return True

    async def ack(self, entry: Entry) -> None:
        self._pending.pop(entry.id, None)

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        self._dead.appendleft(DeadLetter(**dead_letter_json(entry, reason, time.time())))
        await self.ack(entry)

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return list(self._dead)[:limit]

    async def stats(self, partitions: Collection[int] | None = None) -> LogStats:
        chosen = set(range(self.partitions) if partitions is None else partitions)
        lag = sum(len(self._new[p]) for p in chosen)
        pending = sum(1 for e in self._pending.values() if e.partition in chosen)
        return LogStats(lag=lag, pending=pending, dead_letters=len(self._dead))

    async def close(self) -> None:
        return None
