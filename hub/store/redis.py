"""Redis store (redis.asyncio): survives restarts and is shared by hub processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from feedback.rating import Rating, RatingKind
from hub import codec
from hub.conversation import Conversation, TranscriptEntry
from hub.errors import StoreError, StoreUnavailable
from hub.inbox import AuditRecord, ConversationSummary, SummaryStatus, raw_preview, summary_status
from hub.store.base import AUDIT_KEPT, RATINGS_KEPT, RateLimit
from hub.store.keys import Keys
from hub.store.pipelining import AutoPipelinedRedis
from hub.store.steps import ScriptStep

__all__ = ["RedisStore", "redis_errors"]


class redis_errors:  # noqa: N801 (used as a function: ``async with redis_errors("read"):``)
    """Turn redis-py errors into the hub's own, naming the operation.

    A class, not an ``asynccontextmanager``: it wraps every Redis command the hub
    makes, and a generator-based one costs several microseconds each time."""

    __slots__ = ("operation",)

    def __init__(self, operation: str) -> None:
        self.operation = operation

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
            raise StoreUnavailable(f"redis unavailable during {self.operation}: {exc}") from exc
        if isinstance(exc, RedisError):
            raise StoreError(f"redis error during {self.operation}: {exc}") from exc


# KEYS: transcript, summary, inbox.  ARGV: entry JSON, max length, TTL in ms (0: none),
# preview, timestamp, language ('' : unknown), conversation id.  One command, so it
# pipelines; a saved conversation's summary counts the entry in the same command.
_APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'messages', 1)
  redis.call('HSET', KEYS[2], 'last_text', ARGV[4])
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], 'language', ARGV[6]) end
  local at = tonumber(ARGV[5])
  if at > (tonumber(redis.call('HGET', KEYS[2], 'last_at')) or 0) then
    redis.call('HSET', KEYS[2], 'last_at', ARGV[5])
    redis.call('ZADD', KEYS[3], at, ARGV[7])
  end
end
"""

# KEYS: conversation, address, summary, inbox, customer.  ARGV: conversation JSON, id,
# created_at, summary status, then summary field/value pairs.  The conversation, and
# its summary's identity (a claimed hand-off stays 'agent'; an unknown language ('')
# keeps the one the transcript saw).
_SAVE = """
redis.call('MSET', KEYS[1], ARGV[1], KEYS[2], ARGV[2])
local status = ARGV[4]
if status == 'waiting' and redis.call('HGET', KEYS[3], 'status') == 'agent' then
  status = 'agent'
end
local fields = {'status', status}
for i = 5, #ARGV, 2 do
  if not (ARGV[i] == 'language' and ARGV[i + 1] == '') then
    fields[#fields + 1] = ARGV[i]
    fields[#fields + 1] = ARGV[i + 1]
  end
end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('HSETNX', KEYS[3], 'last_at', ARGV[3])
redis.call('ZADD', KEYS[4], 'NX', ARGV[3], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[2])
"""

# KEYS: summary.  ARGV: field, value.  Only for a conversation that has a summary.
_SET_IF_SUMMARY = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
"""

# KEYS: conversation's ratings, recent ratings, summary.  ARGV: rating JSON, kept,
# summary field, value.
_ADD_RATING = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) end
"""

# KEYS: list.  ARGV: JSON, kept.  Newest first, trimmed.
_PUSH_TRIMMED = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
"""

# KEYS: address, conversation's ratings, recent ratings, inbox, customer, open
# escalations, then keys deleted outright.  ARGV: conversation id.  Returns how many
# of the deleted keys existed.
_FORGET = """
for _, rating in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  redis.call('LREM', KEYS[3], 0, rating)
end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('DEL', KEYS[2])
local gone = 0
for i = 7, #KEYS do gone = gone + redis.call('DEL', KEYS[i]) end
return gone
"""

# KEYS: token buckets.  ARGV: burst and rate of each, in turn.  A token from every
# bucket or from none; the clock is the Redis server's, the same for every process.
_TAKE_TOKENS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
for i, key in ipairs(KEYS) do
  local burst, rate = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then return 0 end
  levels[i] = tokens
end
for i, key in ipairs(KEYS) do
  local burst, rate = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return 1
"""

# KEYS: address.  ARGV: conversation key prefix.  The conversation at an address, in
# one round trip instead of two.
_CONVERSATION_AT = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
"""


# KEYS: the hour's hash.  ARGV: TTL in ms, then field and amount pairs.  One command.
_ADD_TO_HOUR = """
for i = 2, #ARGV, 2 do redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1]) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
"""


def _ms(ttl_s: float) -> int:
    return max(1, int(ttl_s * 1000))


def _score_max(until: float | None, before: float | None) -> str:
    """ZREVRANGEBYSCORE's upper bound: ``until`` inclusive, ``before`` exclusive."""
    if before is not None and (until is None or before <= until):
        return f"({before!r}"
    return "+inf" if until is None else repr(until)


class RedisStore:
    """The store on Redis. Pass in a ``redis.asyncio.Redis`` client."""

    def __init__(self, redis: aioredis.Redis, keys: Keys | None = None) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self._append = redis.register_script(_APPEND)
        self._save = redis.register_script(_SAVE)
        self._set_if_summary = redis.register_script(_SET_IF_SUMMARY)
        self._add_rating = redis.register_script(_ADD_RATING)
        self._push_trimmed = redis.register_script(_PUSH_TRIMMED)
        self._forget = redis.register_script(_FORGET)
        self._conversation_at = redis.register_script(_CONVERSATION_AT)
        self._take_tokens = redis.register_script(_TAKE_TOKENS)
        self._add_to_hour = redis.register_script(_ADD_TO_HOUR)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 64, pool_timeout_s: float = 5.0) -> RedisStore:
        """A client on a blocking pool: under load a call waits for a free connection
        (up to ``pool_timeout_s``) instead of failing with "Too many connections".
        Its commands are pipelined across tasks (:mod:`hub.store.pipelining`)."""
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=pool_timeout_s,
            decode_responses=True,
            socket_timeout=5,
            socket_connect_timeout=5,
        )
        return cls(AutoPipelinedRedis(connection_pool=pool))

    # -- dedupe ------------------------------------------------------------------
    async def claim(self, key: str, ttl_s: float) -> bool:
        async with redis_errors("claim"):
            return bool(await self.redis.set(self.keys.dedupe(key), "1", nx=True, px=_ms(ttl_s)))

    async def release(self, key: str) -> None:
        async with redis_errors("release"):
            await self.redis.delete(self.keys.dedupe(key))

    # -- conversations -----------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        async with redis_errors("get_conversation"):
            raw = await self.redis.get(self.keys.conversation(conversation_id))
        return Conversation.from_json(codec.loads(raw)) if raw else None

    async def conversation_at(self, address: str) -> Conversation | None:
        keys, prefix = [self.keys.address(address)], self.keys.conversation("")
        async with redis_errors("conversation_at"):
            raw = await self._conversation_at(keys=keys, args=[prefix])
        return Conversation.from_json(codec.loads(raw)) if raw else None

    async def save_conversation(self, conversation: Conversation) -> None:
        summary = ConversationSummary.of(conversation)
        keys = [
            self.keys.conversation(conversation.id),
            self.keys.address(conversation.address),
            self.keys.summary(conversation.id),
            self.keys.inbox(),
            self.keys.customer(conversation.channel, conversation.user_id),
        ]
        args = [
            codec.dumps(conversation.to_json()),
            conversation.id,
            repr(conversation.created_at),
            summary_status(conversation.status, None),
        ]
        args += [part for pair in summary.identity_fields().items() for part in pair]
        async with redis_errors("save_conversation"):
            await self._save(keys=keys, args=args)  # atomic, and one command

    # -- transcripts -------------------------------------------------------------
    async def append(
        self,
        conversation_id: str,
        entry: TranscriptEntry,
        max_len: int,
        ttl_s: float | None = None,
        *,
        preview: str | None = None,
    ) -> None:
        step = self.append_step(conversation_id, entry, max_len, ttl_s, preview=preview)
        async with redis_errors("append"):
            await step.apply()

    def append_step(
        self,
        conversation_id: str,
        entry: TranscriptEntry,
        max_len: int,
        ttl_s: float | None = None,
        *,
        preview: str | None = None,
    ) -> ScriptStep:
        keys = (
            self.keys.transcript(conversation_id),
            self.keys.summary(conversation_id),
            self.keys.inbox(),
        )
        ttl_ms = _ms(ttl_s) if ttl_s else 0
        shown = raw_preview(entry.text if preview is None else preview)
        args = (
            codec.dumps(entry.to_json()), max_len, ttl_ms, shown, repr(entry.timestamp),
            entry.language or "", conversation_id,
        )
        return ScriptStep("append", self._append, keys, args)

    async def transcript(
        self, conversation_id: str, limit: int | None = None
    ) -> list[TranscriptEntry]:
        if limit is not None and limit <= 0:
            return []
        start = -limit if limit else 0
        async with redis_errors("transcript"):
            lines = await self.redis.lrange(self.keys.transcript(conversation_id), start, -1)
        return [TranscriptEntry.from_json(codec.loads(line)) for line in lines]

    # -- the conversation index --------------------------------------------------
    async def conversation_summary(self, conversation_id: str) -> ConversationSummary | None:
        async with redis_errors("conversation_summary"):
            fields = await self.redis.hgetall(self.keys.summary(conversation_id))
        return ConversationSummary.from_fields(fields).masked() if fields.get("id") else None

    async def list_conversations(
        self,
        *,
        channel: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        rating: int | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        before: float | None = None,
    ) -> list[ConversationSummary]:
        found: list[ConversationSummary] = []
        top = _score_max(until, before)
        bottom = "-inf" if since is None else repr(since)
        batch, offset = max(100, 2 * limit), 0
        while len(found) < limit:
            async with redis_errors("list_conversations"):
                ids = await self.redis.zrevrangebyscore(
                    self.keys.inbox(), top, bottom, start=offset, num=batch
                )
            offset += len(ids)
            for summary in await self._summaries(ids):
                if len(found) < limit and summary.matches(
                    channel=channel, status=status, tag=tag, rating=rating
                ):
                    found.append(summary.masked())
            if len(ids) < batch:
                break
        return found

    async def _summaries(self, ids: Sequence[str]) -> list[ConversationSummary]:
        async with redis_errors("list_conversations"):  # one loop turn: one pipeline
            rows = await asyncio.gather(*(self.redis.hgetall(self.keys.summary(i)) for i in ids))
        return [ConversationSummary.from_fields(row) for row in rows if row.get("id")]

    async def set_conversation_status(self, conversation_id: str, status: SummaryStatus) -> None:
        async with redis_errors("set_conversation_status"):
            await self._set_if_summary(
                keys=[self.keys.summary(conversation_id)], args=["status", status]
            )

    async def customer_conversations(self, channel: str, user: str) -> list[str]:
        async with redis_errors("customer_conversations"):
            return sorted(await self.redis.smembers(self.keys.customer(channel, user)))

    async def forget_conversation(self, conversation_id: str) -> bool:
        forgotten = await self._forget_conversation(conversation_id)
        if forgotten is not None:
            await self._forget_outboxes(conversation_id, forgotten)
        return forgotten is not None

    async def _forget_outboxes(self, conversation_id: str, address: str) -> None:
        """The ingress's committed replies (kept for ``[store] dedupe_ttl_s`` against
        a crash) and a webchat session's replay stream: they hold the customer's words."""
        channel, _, session = address.partition(":")
        doomed = []
        if channel == "webchat" and session:  # its replay stream and message bucket
            doomed += [self.keys.webchat_outbox(session),
                       self.keys.rate(Keys.webchat_rate_session(session))]
        async with redis_errors("forget_conversation"):
            own = self.keys.outbox(address)  # message ids start with the chat's own id
            async for key in self.redis.scan_iter(match=self.keys.outbox(f"{channel}:*"), count=500):
                if key.startswith(own) and key[len(own):len(own) + 1] in ("/", ":"):
                    doomed.append(key)
                    continue
                raw = await self.redis.get(key)
                if raw and conversation_id in raw:
                    doomed.append(key)
            if doomed:
                await self.redis.delete(*doomed)

    async def _forget_conversation(self, conversation_id: str) -> str | None:
        """Delete it; its address (None if there was nothing to forget)."""
        conversation = await self.get_conversation(conversation_id)
        summary = await self.conversation_summary(conversation_id)
        where = conversation or summary
        if where is None:
            address, channel, user = "", "", ""
        else:
            address, channel = where.address, where.channel
            user = conversation.user_id if conversation else summary.user  # type: ignore[union-attr]
        escalation = await self.get(Keys.escalation(conversation_id)) or {}
        doomed = [
            self.keys.conversation(conversation_id),
            self.keys.transcript(conversation_id),
            self.keys.summary(conversation_id),
            *(self.keys.kv(name) for name in Keys.conversation_kv(conversation_id)),
        ]
        if escalation.get("board_channel") and escalation.get("thread"):
            thread = Keys.escalation_thread(escalation["board_channel"], escalation["thread"])
            doomed.append(self.keys.kv(thread))
        keys = [
            self.keys.address(address),
            self.keys.ratings(conversation_id),
            self.keys.recent_ratings(),
            self.keys.inbox(),
            self.keys.customer(channel, user),
            self.keys.kv(Keys.open_escalations()),
            *doomed,
        ]
        async with redis_errors("forget_conversation"):
            await self._forget(keys=keys, args=[conversation_id])
        return address if where is not None else None

    async def expire_conversations(self, older_than: float) -> list[str]:
        async with redis_errors("expire_conversations"):
            old = await self.redis.zrangebyscore(self.keys.inbox(), "-inf", f"({older_than!r}")
        for conversation_id in old:  # idle for days: no ingress outbox left to look for
            await self._forget_conversation(conversation_id)
        return list(old)

    # -- ratings -------------------------------------------------------------------
    async def add_rating(self, rating: Rating) -> None:
        keys = [
            self.keys.ratings(rating.conversation_id),
            self.keys.recent_ratings(),
            self.keys.summary(rating.conversation_id),
        ]
        field = "rating" if rating.kind == "thumbs" else "csat"
        args = [json.dumps(rating.to_json()), RATINGS_KEPT, field, rating.value]
        async with redis_errors("add_rating"):
            await self._add_rating(keys=keys, args=args)

    async def ratings(self, conversation_id: str) -> list[Rating]:
        async with redis_errors("ratings"):
            rows = await self.redis.lrange(self.keys.ratings(conversation_id), 0, -1)
        return [Rating.from_json(json.loads(row)) for row in rows]

    async def recent_ratings(
        self, *, kind: RatingKind | None = None, value: int | None = None, limit: int = 100
    ) -> list[Rating]:
        found: list[Rating] = []
        step, start = max(100, limit), 0
        while len(found) < limit:
            async with redis_errors("recent_ratings"):
                rows = await self.redis.lrange(self.keys.recent_ratings(), start, start + step - 1)
            start += step
            for rating in (Rating.from_json(json.loads(row)) for row in rows):
                if (kind is None or rating.kind == kind) and (value is None or rating.value == value):
                    found.append(rating)
            if len(rows) < step:
                break
        return found[: max(0, limit)]

    # -- audit log -----------------------------------------------------------------
    async def audit(self, actor: str, action: str, detail: str = "") -> AuditRecord:
        record = AuditRecord(actor=actor, action=action, detail=detail)
        async with redis_errors("audit"):
            await self._push_trimmed(
                keys=[self.keys.audit()], args=[json.dumps(record.to_json()), AUDIT_KEPT]
            )
        return record

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        if limit <= 0:
            return []
        async with redis_errors("audit_log"):
            rows = await self.redis.lrange(self.keys.audit(), 0, limit - 1)
        return [AuditRecord.from_json(json.loads(row)) for row in rows]

    # -- key-value ---------------------------------------------------------------
    async def get(self, key: str) -> Any | None:
        async with redis_errors("get"):
            raw = await self.redis.get(self.keys.kv(key))
        return json.loads(raw) if raw is not None else None

    async def set(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        async with redis_errors("set"):
            await self.redis.set(
                self.keys.kv(key), json.dumps(value), px=_ms(ttl_s) if ttl_s else None
            )

    async def delete(self, key: str) -> None:
        async with redis_errors("delete"):
            await self.redis.delete(self.keys.kv(key))

    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        redis_key = self.keys.kv(key)
        async with redis_errors("incr"):
            value = await self.redis.incrbyfloat(redis_key, amount)
            if ttl_s and await self.redis.pttl(redis_key) == -1:
                await self.redis.pexpire(redis_key, _ms(ttl_s))
        return float(value)

    async def add_member(self, key: str, member: str) -> None:
        async with redis_errors("add_member"):
            await self.redis.sadd(self.keys.kv(key), member)

    async def remove_member(self, key: str, member: str) -> None:
        async with redis_errors("remove_member"):
            await self.redis.srem(self.keys.kv(key), member)

    async def members(self, key: str) -> set[str]:
        async with redis_errors("members"):
            return set(await self.redis.smembers(self.keys.kv(key)))

    # -- rate limits -------------------------------------------------------------
    async def take_tokens(self, limits: Sequence[RateLimit]) -> bool:
        async with redis_errors("take_tokens"):
            return bool(await self.take_tokens_step(limits).apply())

    def take_tokens_step(self, limits: Sequence[RateLimit]) -> ScriptStep:
        keys = tuple(self.keys.rate(limit.name) for limit in limits)
        args = tuple(str(value) for limit in limits for value in (limit.burst, limit.per_s))
        return ScriptStep("take_tokens", self._take_tokens, keys, args)

    # -- hourly numbers ----------------------------------------------------------
    async def add_to_hour(self, hour: str, counts: Mapping[str, float], ttl_s: float) -> None:
        if not counts:
            return
        args: list[str | int] = [_ms(ttl_s)]
        for name, amount in counts.items():
            args += [name, repr(float(amount))]
        async with redis_errors("add_to_hour"):
            await self._add_to_hour(keys=[self.keys.stats_hour(hour)], args=args)

    async def hours(self, hours: Sequence[str]) -> list[dict[str, float]]:
        async with redis_errors("hours"):  # concurrent: one pipelined round trip
            raw = await asyncio.gather(*(self.redis.hgetall(self.keys.stats_hour(h)) for h in hours))
        return [{name: float(value) for name, value in bucket.items()} for bucket in raw]

    # -- lifecycle ---------------------------------------------------------------
    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self.redis.aclose()
