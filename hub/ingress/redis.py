"""The ingress log on Redis Streams: one stream per partition, one consumer group.

- ``enqueue`` is one Lua script: ``SET NX`` of the dedupe key and ``XADD``, so a
  claim never exists without its work (chained after a guard, the rate limits,
  when there is one).
- Only the lease holder of a partition reads it (``XREADGROUP ... >``, pipelined
  with the other commands; only a read that finds nothing waits, with ``BLOCK``,
  on a connection of its own); a new
  holder first takes back the old one's pending entries (``XAUTOCLAIM`` from
  ``0-0`` with no idle time: the lease, not a timer, says the old owner is gone,
  so slow work is never claimed twice).
- ``commit`` writes the outbox only if the partition's lease still holds the
  committer's token (a fencing check inside one script), and chains the steps
  that go with it (transcript lines, a webchat frame, the ack) into that script.
- ``ack`` is ``XACK`` and ``XDEL`` together: an acked entry is gone, not kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ResponseError

from hub.errors import RateLimited
from hub.ingress.log import DeadLetter, LogStats, dead_letter_json
from hub.ingress.work import Entry, Fence, Outbox, Work, partition_of
from hub.store.keys import Keys
from hub.store.redis import redis_errors
from hub.store.steps import Chains, ScriptStep, Step

__all__ = ["RedisLog"]

GROUP = Keys.INGRESS_GROUP
DEAD_LETTERS_KEPT = 10_000
STRANDED_IDLE_MS = 3_000  # this consumer's pending entries idle this long and not in flight

# KEYS: dedupe key, stream.  ARGV: ttl ms, work JSON.  -> entry id, or false (duplicate)
_ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'w', ARGV[2])
end
return false
"""

# KEYS: lease, outbox, stream.  ARGV: token, outbox JSON, ttl ms, entry id.
# -> 1, or 0 when another process holds the lease, or no one does and the entry
# waits in the stream for its next owner. With neither lease nor entry, Redis
# lost its data (a restart without persistence): nobody else can answer it.
_COMMIT = """
local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  if holder or #redis.call('XRANGE', KEYS[3], ARGV[4], ARGV[4]) > 0 then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: stream.  ARGV: group, entry id.  Acknowledged and deleted in one command.
_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisLog:
    """Pass in the ``redis.asyncio.Redis`` client (decode_responses=True) and a consumer name."""

    def __init__(
        self, redis: aioredis.Redis, consumer: str, *, partitions: int = 64, keys: Keys | None = None
    ) -> None:
        self.redis = redis
        self.consumer = consumer
        self.partitions = partitions
        self.keys = keys or Keys()
        self._streams = {self.keys.ingress(p): p for p in range(partitions)}
        self._enqueue = redis.register_script(_ENQUEUE)
        self._commit = redis.register_script(_COMMIT)
        self._ack = redis.register_script(_ACK)
        self._chains = Chains(redis)
        self._reads: tuple[Any, Any] = (None, None)  # the last partitions read, and their commands

    # -- set-up --------------------------------------------------------------------
    async def create_groups(self, partitions: Collection[int] | None = None) -> None:
        """The consumer group on every partition's stream (created empty if missing)."""
        chosen = range(self.partitions) if partitions is None else partitions
        async with redis_errors("ingress groups"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition in chosen:
                    pipe.xgroup_create(self.keys.ingress(partition), GROUP, id="0", mkstream=True)
                results = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result

    # -- in ------------------------------------------------------------------------
    async def enqueue(self, work: Work, dedupe_ttl_s: float, guard: Step | None = None) -> bool:
        stream = self.keys.ingress(partition_of(work.address, self.partitions))
        keys, args = (self.keys.dedupe(work.key), stream), (_ms(dedupe_ttl_s), work.dumps())
        async with redis_errors("enqueue"):
            if guard is None:
                entry_id = await self._enqueue(keys=keys, args=args)
            else:
                enqueue = ScriptStep("enqueue", self._enqueue, keys, args)
                passed, entry_id = await self._chains.run([guard, enqueue])
                if not passed:
                    raise RateLimited("no token left for this work")
        return entry_id is not None

    # -- out -----------------------------------------------------------------------
    async def read(self, partitions: Collection[int], count: int, block_s: float) -> list[Entry]:
        """New entries of ``partitions``. A read that finds some (most, under load) goes
        out pipelined with the other commands; only when there is nothing does the log
        wait for entries, with ``BLOCK``, on a connection of its own."""
        if not partitions:
            return []
        now, blocking = self._read_commands(frozenset(partitions), count, _ms(block_s))
        wait = blocking if block_s > 0 else None
        async with redis_errors("read"):
            try:
                reply = await self._read(now, wait)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self.create_groups(partitions)  # Redis lost its data (a restart)
                reply = await self._read(now, wait)
        return [entry for stream, rows in reply or () for entry in self._entries(stream, rows)]

    async def _read(self, now: tuple[Any, ...], blocking: tuple[Any, ...] | None) -> Any:
        reply = await self.redis.execute_command(*now)
        if not reply and blocking is not None:
            reply = await self.redis.execute_command(*blocking)
        return reply

    def _read_commands(
        self, partitions: frozenset[int], count: int, block_ms: int
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """``XREADGROUP`` of these partitions, without and with ``BLOCK``: built once per
        set of partitions (it changes only when a lease does), not once per read."""
        key = (partitions, count, block_ms)
        if self._reads[0] != key:
            streams = [self.keys.ingress(p) for p in sorted(partitions)]
            head = ("XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", count)
            tail = ("STREAMS", *streams, *(">" for _ in streams))
            self._reads = (key, (head + tail, (*head, "BLOCK", block_ms, *tail)))
        return self._reads[1]

    def _entries(
        self, stream: str, rows: Sequence[Any], deliveries: dict[str, int] | None = None
    ) -> list[Entry]:
        partition = self._streams[stream]
        entries = []
        for entry_id, fields in rows:
            if fields is None:  # the entry was deleted while pending
                continue
            raw = fields.get("w", "")
            try:
                work: Work | None = Work.loads(raw)
            except (ValueError, KeyError, TypeError):
                work = None
            count = (deliveries or {}).get(entry_id, 1)
            entries.append(Entry(entry_id, partition, work, count, raw=raw))
        return entries

    async def recover(self, partition: int) -> list[Entry]:
        stream = self.keys.ingress(partition)
        rows: list[Any] = []
        async with redis_errors("recover"):
            start = "0-0"
            while True:
                try:
                    reply = await self.redis.xautoclaim(
                        stream, GROUP, self.consumer, min_idle_time=0, start_id=start, count=500
                    )
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    await self.create_groups([partition])
                    return []
                start, claimed = reply[0], reply[1]
                rows.extend(claimed)
                if start in ("0-0", b"0-0") or not claimed:
                    break
            if not rows:
                return []
            pending = await self.redis.xpending_range(
                stream, GROUP, min="-", max="+", count=len(rows) + 500, consumername=self.consumer
            )
        deliveries = {str(p["message_id"]): int(p["times_delivered"]) for p in pending}
        entries = self._entries(stream, rows, deliveries)
        return sorted(entries, key=lambda e: tuple(int(part) for part in e.id.split("-")))

    async def adopt(
        self, partitions: Collection[int], in_flight: Collection[tuple[int, str]]
    ) -> list[Entry]:
        chosen = sorted(partitions)
        if not chosen:
            return []
        async with redis_errors("adopt"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition in chosen:
                    pipe.xpending(self.keys.ingress(partition), GROUP)
                summaries = await pipe.execute(raise_on_error=False)
            adopted: list[Entry] = []
            for partition, summary in zip(chosen, summaries, strict=True):
                if isinstance(summary, Exception) or not summary.get("pending"):
                    continue
                for consumer in summary.get("consumers", ()):
                    name = str(consumer["name"])
                    mine = name == self.consumer
                    skip = {i for p, i in in_flight if p == partition} if mine else set()
                    # our own only when idle a while: a read may be on its way back
                    idle = STRANDED_IDLE_MS if mine else None
                    adopted += await self._adopt_from(partition, name, skip, idle)
        return adopted

    async def _adopt_from(
        self, partition: int, consumer: str, skip: set[str], idle: int | None
    ) -> list[Entry]:
        stream = self.keys.ingress(partition)
        pending = await self.redis.xpending_range(
            stream, GROUP, min="-", max="+", count=1000, consumername=consumer, idle=idle
        )
        pending = [p for p in pending if str(p["message_id"]) not in skip]
        if not pending:
            return []
        ids = [p["message_id"] for p in pending]
        rows = await self.redis.xclaim(stream, GROUP, self.consumer, 0, ids)
        deliveries = {str(p["message_id"]): int(p["times_delivered"]) + 1 for p in pending}
        return self._entries(stream, rows, deliveries)

    async def retry(self, entry: Entry) -> Entry:
        async with redis_errors("retry"):
            await self.redis.xclaim(
                self.keys.ingress(entry.partition), GROUP, self.consumer, 0, [entry.id]
            )
        return entry.again()

    # -- outbox and acks -------------------------------------------------------------
    async def outbox(self, entry: Entry) -> Outbox | None:
        if entry.work is None:
            return None
        async with redis_errors("outbox"):
            raw = await self.redis.get(self.keys.outbox(entry.work.key))
        return Outbox.loads(raw) if raw else None

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
        keys = (
            self.keys.lease(entry.partition),
            self.keys.outbox(entry.work.key),
            self.keys.ingress(entry.partition),
        )
        args = (fence.token, outbox.dumps(), _ms(ttl_s), entry.id)
        kept = ScriptStep("commit", self._commit, keys, args)
        acked = [self._ack_step(entry)] if ack else []
        async with redis_errors("commit"):
            done, _ = await self._chains.run([kept, *steps, *acked])
        return done

    def _ack_step(self, entry: Entry) -> ScriptStep:
        stream = self.keys.ingress(entry.partition)
        return ScriptStep("ack", self._ack, (stream,), (GROUP, entry.id))

    async def ack(self, entry: Entry) -> None:
        async with redis_errors("ack"):
            await self._ack_step(entry).apply()

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        letter = dead_letter_json(entry, reason, time.time())
        stream = self.keys.ingress(entry.partition)
        async with redis_errors("dead_letter"):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    self.keys.dead_letters(),
                    {"letter": json.dumps(letter, ensure_ascii=False)},
                    maxlen=DEAD_LETTERS_KEPT,
                    approximate=True,
                )
                pipe.xack(stream, GROUP, entry.id)
                pipe.xdel(stream, entry.id)
                await pipe.execute()

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        async with redis_errors("dead_letters"):
            rows = await self.redis.xrevrange(self.keys.dead_letters(), count=limit)
        return [DeadLetter(**json.loads(fields["letter"])) for _, fields in rows]

    async def stats(self, partitions: Collection[int] | None = None) -> LogStats:
        chosen = list(range(self.partitions) if partitions is None else partitions)
        async with redis_errors("stats"):
            async with self.redis.pipeline(transaction=False) as pipe:
                for partition in chosen:
                    pipe.xinfo_groups(self.keys.ingress(partition))
                pipe.xlen(self.keys.dead_letters())
                results = await pipe.execute(raise_on_error=False)
        lag = pending = 0
        for groups in results[:-1]:
            for group in groups if isinstance(groups, list) else ():
                if group.get("name") == GROUP:
                    lag += int(group.get("lag") or 0)
                    pending += int(group.get("pending") or 0)
        dead = results[-1] if isinstance(results[-1], int) else 0
        return LogStats(lag=lag, pending=pending, dead_letters=dead)

    async def close(self) -> None:
        return None  # the client belongs to the store
