"""Redis store (redis.asyncio): survives restarts and is shared by hub processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub.conversation import Conversation, TranscriptEntry
from hub.errors import StoreError, StoreUnavailable
from hub.store.base import RateLimit
from hub.store.keys import Keys
from hub.store.pipelining import AutoPipelinedRedis

__all__ = ["RedisStore", "redis_errors"]


@asynccontextmanager
async def redis_errors(operation: str) -> AsyncIterator[None]:
    """Turn redis-py errors into the hub's own, naming the operation."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"redis unavailable during {operation}: {exc}") from exc
    except RedisError as exc:
        raise StoreError(f"redis error during {operation}: {exc}") from exc


# KEYS: transcript.  ARGV: entry JSON, max length, TTL in ms (0: none).  One command,
# so it pipelines.
_APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local ttl = tonumber(ARGV[3])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
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


def _ms(ttl_s: float) -> int:
    return max(1, int(ttl_s * 1000))


class RedisStore:
    """The store on Redis. Pass in a ``redis.asyncio.Redis`` client."""

    def __init__(self, redis: aioredis.Redis, keys: Keys | None = None) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self._append = redis.register_script(_APPEND)
        self._conversation_at = redis.register_script(_CONVERSATION_AT)
        self._take_tokens = redis.register_script(_TAKE_TOKENS)

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
        return Conversation.from_json(json.loads(raw)) if raw else None

    async def conversation_at(self, address: str) -> Conversation | None:
        keys, prefix = [self.keys.address(address)], self.keys.conversation("")
        async with redis_errors("conversation_at"):
            raw = await self._conversation_at(keys=keys, args=[prefix])
        return Conversation.from_json(json.loads(raw)) if raw else None

    async def save_conversation(self, conversation: Conversation) -> None:
        async with redis_errors("save_conversation"):
            await self.redis.mset({  # atomic, and one command
                self.keys.conversation(conversation.id): json.dumps(conversation.to_json()),
                self.keys.address(conversation.address): conversation.id,
            })

    # -- transcripts -------------------------------------------------------------
    async def append(
        self, conversation_id: str, entry: TranscriptEntry, max_len: int, ttl_s: float | None = None
    ) -> None:
        key = self.keys.transcript(conversation_id)
        ttl_ms = _ms(ttl_s) if ttl_s else 0
        async with redis_errors("append"):
            await self._append(keys=[key], args=[json.dumps(entry.to_json()), max_len, ttl_ms])

    async def transcript(
        self, conversation_id: str, limit: int | None = None
    ) -> list[TranscriptEntry]:
        if limit is not None and limit <= 0:
            return []
        start = -limit if limit else 0
        async with redis_errors("transcript"):
            lines = await self.redis.lrange(self.keys.transcript(conversation_id), start, -1)
        return [TranscriptEntry.from_json(json.loads(line)) for line in lines]

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
        keys = [self.keys.rate(limit.name) for limit in limits]
        args = [str(value) for limit in limits for value in (limit.burst, limit.per_s)]
        async with redis_errors("take_tokens"):
            return bool(await self._take_tokens(keys=keys, args=args))

    # -- lifecycle ---------------------------------------------------------------
    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self.redis.aclose()
