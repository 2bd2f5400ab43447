"""The consumer: owned partitions in, one asyncio lane per conversation, retries out.

It reads the partitions this process holds leases on, in batches. A partition
just acquired is first drained of the previous owner's pending entries, in
order, before anything new of it is read. Each entry runs in the lane of its
conversation address, so one conversation is strictly ordered and a slow LLM
call never holds up another conversation.

Failures:
- the store is unavailable: the entry stays pending and is retried with
  back-off, however long the outage; it never becomes an apology while it can
  still be answered;
- anything else: retried until its delivery count reaches ``max_deliveries``,
  then dead-lettered (the hub apologises and logs an ERROR); the partition goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

from hub.errors import StoreError
from hub.ingress.leases import Leases
from hub.ingress.log import IngressLog
from hub.ingress.work import Entry, Fence
from hub.lanes import Lanes
from hub.logs import log_address
from hub.tasks import stop_tasks

__all__ = ["Consumer", "ConsumerEvents"]

logger = logging.getLogger(__name__)

Process = Callable[[Entry, Fence], Awaitable[bool]]  # False: the fence did not hold
RELEASE_GRACE_S = 5.0  # a partition kept out of reads this long, and not released, is read again
DeadLettered = Callable[[Entry, str], Awaitable[None]]


class ConsumerEvents(Protocol):
    """What the consumer reports (the hub's metrics implement it)."""

    def redelivered(self, entry: Entry) -> None: ...

    def dead_lettered(self, entry: Entry) -> None: ...

    def recovered(self, partition: int, entries: int, seconds: float) -> None: ...


class _Silent:
    def redelivered(self, entry: Entry) -> None: ...

    def dead_lettered(self, entry: Entry) -> None: ...

    def recovered(self, partition: int, entries: int, seconds: float) -> None: ...


class Consumer:
    """Runs ``process(entry, fence)`` for every entry of the partitions this process owns."""

    def __init__(
        self,
        log: IngressLog,
        leases: Leases,
        process: Process,
        *,
        dead_lettered: DeadLettered,
        max_deliveries: int = 3,
        batch: int = 256,
        block_s: float = 0.5,
        max_in_flight: int = 20_000,
        events: ConsumerEvents | None = None,
    ) -> None:
        self.log = log
        self.leases = leases
        self._process = process
        self._dead_lettered = dead_lettered
        self.max_deliveries = max_deliveries
        self.batch = batch
        self.block_s = block_s
        self.max_in_flight = max_in_flight
        self.events = events or _Silent()
        self._lanes: Lanes[Entry] = Lanes(self._run)
        self._in_flight: set[tuple[int, str]] = set()  # stream ids repeat across partitions
        self._per_partition: Counter[int] = Counter()
        self._fences: dict[int, Fence] = {}  # the last fence held for each partition
        self._releasing: dict[int, tuple[int, float]] = {}  # partition -> (read epoch, since)
        self._read_epoch = 0
        self._reader: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.sweep_every_s = 2.0
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        await self.leases.start(self._acquired, self._lost, self._releasable)
        self._reader = asyncio.create_task(self._read_forever(), name="ingress-reader")
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="ingress-sweeper")

    async def stop(self, drain_s: float) -> bool:
        """Stop reading, finish in-flight work for up to ``drain_s``, release the leases.

        True if everything in flight finished. Work left over stays pending in
        the log, and the next owner of its partition takes it back.
        """
        self._stopping = True
        # bounded: a read stuck on a dead Redis connection must not hold shutdown
        await stop_tasks([self._reader, self._sweeper])
        drained = True
        try:
            await asyncio.wait_for(self._lanes.join(), drain_s)
        except TimeoutError:
            drained = False
            logger.warning("drain: %d entries still in flight after %.1f s; left pending",
                           len(self._in_flight), drain_s)
            await self._lanes.close(0)
        await self.leases.stop()
        return drained

    async def join(self) -> None:
        """Wait until nothing is in flight and nothing new is waiting (tests)."""
        while True:
            await self._lanes.join()
            stats = await self.log.stats(self.leases.owned())
            if not self._in_flight and stats.lag == 0 and stats.pending == 0:
                return
            await asyncio.sleep(0.01)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    # -- leases --------------------------------------------------------------------
    async def _acquired(self, partition: int, fence: Fence) -> None:
        """A partition is ours: finish the last owner's pending entries first, in order."""
        self._fences[partition] = fence
        self._releasing.pop(partition, None)
        started = time.monotonic()
        while True:
            try:
                entries = await self.log.recover(partition)
                break
            except StoreError as exc:
                logger.warning("partition %d: recovery waits for the store: %s", partition, exc)
                await asyncio.sleep(0.5)
        for entry in entries:
            self.events.redelivered(entry)
            self._push(entry)
        if entries:
            self.events.recovered(partition, len(entries), time.monotonic() - started)
            logger.info("partition %d: took back %d pending entries", partition, len(entries))

    async def _lost(self, partition: int) -> None:
        """Nothing to undo: work in flight is refused at commit if someone else took over."""

    def _releasable(self, partition: int) -> bool:
        """May the leases give ``partition`` away? Only once no read can still hand out
        its entries (a read that started before it was set aside has returned) and
        nothing of it is in flight."""
        marked = self._releasing.get(partition)
        if marked is None:
            self._releasing[partition] = (self._read_epoch, time.monotonic())
            return False
        return self._read_epoch > marked[0] and self._per_partition[partition] == 0

    def _readable(self) -> frozenset[int]:
        now = time.monotonic()
        for partition, (_, since) in list(self._releasing.items()):
            if now - since > RELEASE_GRACE_S:
                del self._releasing[partition]  # not released after all: read it again
        return self.leases.owned() - self._releasing.keys()

    # -- reading -------------------------------------------------------------------
    async def _read_forever(self) -> None:
        pause = 0.1
        while not self._stopping:
            owned = self._readable()
            if not owned or len(self._in_flight) >= self.max_in_flight:
                await asyncio.sleep(min(self.block_s, 0.05))
                continue
            try:
                entries = await self.log.read(owned, self.batch, self.block_s)
                self._read_epoch += 1
            except StoreError as exc:
                logger.warning("ingress read failed, retrying in %.1f s: %s", pause, exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            pause = 0.1
            for entry in entries:
                self._push(entry)

    async def _sweep_forever(self) -> None:
        """Adopt entries stranded in another consumer's pending list on our partitions
        (a paused ex-owner's read that returned after the takeover)."""
        while not self._stopping:
            await asyncio.sleep(self.sweep_every_s)
            try:
                stranded = await self.log.adopt(self.leases.owned(), set(self._in_flight))
            except StoreError:
                continue
            for entry in stranded:
                logger.info("adopted stranded entry %s of partition %d", entry.id, entry.partition)
                self._push(entry)

    def _push(self, entry: Entry) -> None:
        if (entry.partition, entry.id) in self._in_flight:
            return  # recovered while this process still works on it
        self._in_flight.add((entry.partition, entry.id))
        self._per_partition[entry.partition] += 1
        self._lanes.push(entry.address, entry)

    # -- running one entry ---------------------------------------------------------
    async def _run(self, entry: Entry) -> None:
        try:
            await self._attempt(entry)
        finally:
            self._in_flight.discard((entry.partition, entry.id))
            self._per_partition[entry.partition] -= 1
            if self._per_partition[entry.partition] <= 0:
                del self._per_partition[entry.partition]

    async def _attempt(self, entry: Entry) -> None:
        pause = 0.05
        while True:
            if entry.work is None:
                await self._give_up(entry, "the stored entry cannot be parsed")
                return
            if entry.deliveries > self.max_deliveries:
                await self._give_up(entry, f"failed {entry.deliveries - 1} times")
                return
            try:
                fence = self._fences[entry.partition]
                if await self._process(entry, fence):
                    return
                if self._fences.get(entry.partition) is fence:
                    return  # someone else owns it now: theirs to answer
                continue  # this process owns it again, under a newer fence
            except StoreError as exc:
                if self._stopping:
                    return  # stays pending for the next owner
                logger.warning("entry %s waits for the store: %s", entry.id, exc)
                entry = entry.resume()  # the next try finds what this one committed
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)
            except Exception:
                logger.exception("entry %s of %s failed (delivery %d of %d)", entry.id,
                                 log_address(entry.address), entry.deliveries, self.max_deliveries)
                entry = await self._count_failure(entry)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def _count_failure(self, entry: Entry) -> Entry:
        while True:
            try:
                return await self.log.retry(entry)
            except StoreError:
                await asyncio.sleep(0.5)

    async def _give_up(self, entry: Entry, reason: str) -> None:
        logger.error(
            "dead letter: entry %s of conversation %s: %s", entry.id, log_address(entry.address), reason
        )
        self.events.dead_lettered(entry)
        while True:
            try:
                await self.log.dead_letter(entry, reason)
                break
            except StoreError:
                if self._stopping:
                    return
                await asyncio.sleep(0.5)
        try:
            await self._dead_lettered(entry, reason)
        except Exception:
            logger.exception(
                "could not tell the customer of %s about a dead letter", log_address(entry.address)
            )
