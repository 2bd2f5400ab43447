"""In-memory store: the default, for one process and for tests.

Values are kept as JSON text, exactly as Redis keeps them, so both stores
accept and return the same things and callers can never mutate what is
stored. Conversations and transcript entries are frozen dataclasses, kept as
they are; only a conversation's free-form ``data`` is copied (through JSON).
"""

from __future__ import annotations

import heapq
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hub.conversation import Conversation, TranscriptEntry
from hub.store.base import RateLimit

__all__ = ["MemoryStore"]


class MemoryStore:
    """Everything in dicts. Values are copied through JSON, as Redis would."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, Any] = {}
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._conversations: dict[str, Conversation] = {}
        self._addresses: dict[str, str] = {}
        self._transcripts: dict[str, deque[TranscriptEntry]] = {}
        self._sets: dict[str, set[str]] = {}
        self._transcript_expiry: dict[str, float] = {}
        self._buckets: dict[str, tuple[float, float, float]] = {}  # (tokens, at, refill_s)
        self._takes = 0

    # -- expiry ------------------------------------------------------------------
    def _purge(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            at, key = heapq.heappop(self._heap)
            if self._expiry.get(key) == at:
                del self._expiry[key]
                self._values.pop(key, None)

    def _put(self, key: str, value: Any, ttl_s: float | None) -> None:
        self._values[key] = value
        if ttl_s is None:
            self._expiry.pop(key, None)
            return
        at = self._clock() + ttl_s
        self._expiry[key] = at
        heapq.heappush(self._heap, (at, key))

    # -- dedupe ------------------------------------------------------------------
    async def claim(self, key: str, ttl_s: float) -> bool:
        self._purge()
        if key in self._values:
            return False
        self._put(key, "1", ttl_s)
        return True

    async def release(self, key: str) -> None:
        self._values.pop(key, None)
        self._expiry.pop(key, None)

    # -- conversations -----------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        stored = self._conversations.get(conversation_id)
        if stored is None or not stored.data:
            return stored
        return replace(stored, data=json.loads(json.dumps(stored.data)))

    async def conversation_at(self, address: str) -> Conversation | None:
        conversation_id = self._addresses.get(address)
        return await self.get_conversation(conversation_id) if conversation_id else None

    async def save_conversation(self, conversation: Conversation) -> None:
        data = json.loads(json.dumps(conversation.data))  # JSON only, and never shared
        self._conversations[conversation.id] = replace(conversation, data=data)
        self._addresses[conversation.address] = conversation.id

    # -- transcripts -------------------------------------------------------------
    def _live_transcript(self, conversation_id: str) -> deque[TranscriptEntry] | None:
        expires = self._transcript_expiry.get(conversation_id)
        if expires is not None and expires <= self._clock():
            del self._transcript_expiry[conversation_id]
            self._transcripts.pop(conversation_id, None)
        return self._transcripts.get(conversation_id)

    async def append(
        self, conversation_id: str, entry: TranscriptEntry, max_len: int, ttl_s: float | None = None
    ) -> None:
        lines = self._live_transcript(conversation_id)
        if ttl_s is None:
            self._transcript_expiry.pop(conversation_id, None)
        else:
            self._transcript_expiry[conversation_id] = self._clock() + ttl_s
        if lines is None or lines.maxlen != max_len:
            lines = deque(lines or (), maxlen=max_len)
            self._transcripts[conversation_id] = lines
        lines.append(entry)

    async def transcript(
        self, conversation_id: str, limit: int | None = None
    ) -> list[TranscriptEntry]:
        lines = list(self._live_transcript(conversation_id) or ())
        if limit is not None:
            lines = lines[-limit:] if limit > 0 else []
        return lines

    # -- key-value ---------------------------------------------------------------
    async def get(self, key: str) -> Any | None:
        self._purge()
        raw = self._values.get(key)
        return json.loads(raw) if raw is not None else None

    async def set(self, key: str, value: Any, ttl_s: float | None = None) -> None:
        self._purge()
        self._put(key, json.dumps(value), ttl_s)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._expiry.pop(key, None)
        self._sets.pop(key, None)

    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        self._purge()
        raw = self._values.get(key)
        value = (float(json.loads(raw)) if raw is not None else 0.0) + amount
        if key in self._expiry and ttl_s is None:
            self._values[key] = json.dumps(value)
        else:
            self._put(key, json.dumps(value), ttl_s)
        return value

    async def add_member(self, key: str, member: str) -> None:
        self._sets.setdefault(key, set()).add(member)

    async def remove_member(self, key: str, member: str) -> None:
        self._sets.get(key, set()).discard(member)

    async def members(self, key: str) -> set[str]:
        return set(self._sets.get(key, ()))

    # -- rate limits -------------------------------------------------------------
    async def take_tokens(self, limits: Sequence[RateLimit]) -> bool:
        now = self._clock()
        self._forget_full_buckets(now)
        levels = []
        for limit in limits:
            tokens, at, _ = self._buckets.get(limit.name, (float(limit.burst), now, 0.0))
            tokens = min(float(limit.burst), tokens + max(0.0, now - at) * limit.per_s)
            if tokens < 1.0:
                return False
            levels.append(tokens)
        for limit, tokens in zip(limits, levels, strict=True):
            self._buckets[limit.name] = (tokens - 1.0, now, limit.refill_s)
        return True

    def _forget_full_buckets(self, now: float) -> None:
        """Now and then, drop the buckets that have refilled: memory stays bounded."""
        self._takes += 1
        if self._takes % 1024:
            return
        stale = [name for name, (_, at, refill) in self._buckets.items() if now - at > refill]
        for name in stale:
            del self._buckets[name]

    # -- lifecycle ---------------------------------------------------------------
    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

