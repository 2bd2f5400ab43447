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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import islice
from typing import Any

from feedback.rating import Rating, RatingKind
from hub.conversation import Conversation, TranscriptEntry
from hub.inbox import AuditRecord, ConversationSummary, SummaryStatus, raw_preview
from hub.store.base import AUDIT_KEPT, RATINGS_KEPT, RateLimit
from hub.store.keys import Keys
from hub.store.steps import CallStep

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
        self._summaries: dict[str, ConversationSummary] = {}  # identity, status, ratings
        self._activity: dict[str, list[Any]] = {}  # [messages, last_at, last_text, language]
        self._customers: dict[tuple[str, str], set[str]] = {}
        self._ratings: dict[str, list[Rating]] = {}
        self._recent_ratings: deque[Rating] = deque(maxlen=RATINGS_KEPT)
        self._audit: deque[AuditRecord] = deque(maxlen=AUDIT_KEPT)
        self._hours: dict[str, tuple[dict[str, float], float]] = {}  # hour -> (fields, expiry)

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
        self._index(conversation)

    def _index(self, conversation: Conversation) -> None:
        current = self._summaries.get(conversation.id)
        fresh = ConversationSummary.of(conversation, current.status if current else None)
        if current is not None:
            fresh = replace(
                fresh, rating=current.rating, csat=current.csat,
                language=fresh.language or current.language,
            )
        self._summaries[conversation.id] = fresh
        key = (conversation.channel, conversation.user_id)
        self._customers.setdefault(key, set()).add(conversation.id)

    # -- transcripts -------------------------------------------------------------
    def _live_transcript(self, conversation_id: str) -> deque[TranscriptEntry] | None:
        expires = self._transcript_expiry.get(conversation_id)
        if expires is not None and expires <= self._clock():
            del self._transcript_expiry[conversation_id]
            self._transcripts.pop(conversation_id, None)
        return self._transcripts.get(conversation_id)

    async def append(
        self,
        conversation_id: str,
        entry: TranscriptEntry,
        max_len: int,
        ttl_s: float | None = None,
        *,
        preview: str | None = None,
    ) -> None:
        self._count(conversation_id, entry, preview)
        lines = self._live_transcript(conversation_id)
        if ttl_s is None:
            self._transcript_expiry.pop(conversation_id, None)
        else:
            self._transcript_expiry[conversation_id] = self._clock() + ttl_s
        if lines is None or lines.maxlen != max_len:
            lines = deque(lines or (), maxlen=max_len)
            self._transcripts[conversation_id] = lines
        lines.append(entry)

    def append_step(
        self, conversation_id: str, entry: TranscriptEntry, max_len: int, ttl_s: float | None = None
    ) -> CallStep:
        return CallStep(self.append, (conversation_id, entry, max_len, ttl_s))

    async def transcript(
        self, conversation_id: str, limit: int | None = None
    ) -> list[TranscriptEntry]:
        lines = list(self._live_transcript(conversation_id) or ())
        if limit is not None:
            lines = lines[-limit:] if limit > 0 else []
        return lines

    def _count(self, conversation_id: str, entry: TranscriptEntry, text: str | None) -> None:
        """One more line in a saved conversation's summary (a list updated in place:
        this runs for every line, so it builds nothing)."""
        if conversation_id not in self._summaries:
            return
        activity = self._activity.get(conversation_id)
        if activity is None:
            activity = self._activity[conversation_id] = [0, 0.0, "", None]
        activity[0] += 1
        activity[1] = max(activity[1], entry.timestamp)
        activity[2] = entry.text if text is None else text
        activity[3] = entry.language or activity[3]

    def _summary(self, conversation_id: str) -> ConversationSummary | None:
        """The stored summary with its activity, unmasked (``.masked()`` for callers)."""
        summary = self._summaries.get(conversation_id)
        activity = self._activity.get(conversation_id)
        if summary is None or activity is None:
            return summary
        messages, last_at, text, language = activity
        return replace(
            summary, messages=messages, last_at=max(summary.last_at, last_at),
            last_text=raw_preview(text), language=language or summary.language,
        )

    # -- the conversation index --------------------------------------------------
    async def conversation_summary(self, conversation_id: str) -> ConversationSummary | None:
        summary = self._summary(conversation_id)
        return summary.masked() if summary is not None else None

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
        every = (self._summary(i) for i in self._summaries)
        newest = sorted((s for s in every if s is not None), key=lambda s: s.last_at, reverse=True)
        found = []
        for summary in newest:
            if len(found) >= limit:
                break
            if (
                (since is not None and summary.last_at < since)
                or (until is not None and summary.last_at > until)
                or (before is not None and summary.last_at >= before)
            ):
                continue
            if summary.matches(channel=channel, status=status, tag=tag, rating=rating):
                found.append(summary.masked())
        return found

    async def set_conversation_status(self, conversation_id: str, status: SummaryStatus) -> None:
        current = self._summaries.get(conversation_id)
        if current is not None:
            self._summaries[conversation_id] = replace(current, status=status)

    async def customer_conversations(self, channel: str, user: str) -> list[str]:
        return sorted(self._customers.get((channel, user), ()))

    async def forget_conversation(self, conversation_id: str) -> bool:
        conversation = self._conversations.pop(conversation_id, None)
        summary = self._summaries.pop(conversation_id, None)
        self._activity.pop(conversation_id, None)
        for where in (conversation, summary):
            if where is not None and self._addresses.get(where.address) == conversation_id:
                del self._addresses[where.address]
            if where is not None:
                user = where.user_id if isinstance(where, Conversation) else where.user
                self._customers.get((where.channel, user), set()).discard(conversation_id)
        self._transcripts.pop(conversation_id, None)
        self._transcript_expiry.pop(conversation_id, None)
        gone = self._ratings.pop(conversation_id, [])
        if gone:
            kept = [r for r in self._recent_ratings if r.conversation_id != conversation_id]
            self._recent_ratings = deque(kept, maxlen=RATINGS_KEPT)
        await self._forget_escalation(conversation_id)
        for key in Keys.conversation_kv(conversation_id):
            await self.delete(key)
        return conversation is not None or summary is not None

    async def _forget_escalation(self, conversation_id: str) -> None:
        escalation = await self.get(Keys.escalation(conversation_id)) or {}
        if escalation.get("board_channel") and escalation.get("thread"):
            await self.delete(Keys.escalation_thread(escalation["board_channel"], escalation["thread"]))
        await self.remove_member(Keys.open_escalations(), conversation_id)

    async def expire_conversations(self, older_than: float) -> list[str]:
        every = (self._summary(i) for i in list(self._summaries))
        old = [s.id for s in every if s is not None and s.last_at < older_than]
        for conversation_id in old:
            await self.forget_conversation(conversation_id)
        return old

    # -- ratings -------------------------------------------------------------------
    async def add_rating(self, rating: Rating) -> None:
        self._ratings.setdefault(rating.conversation_id, []).append(rating)
        self._recent_ratings.appendleft(rating)
        current = self._summaries.get(rating.conversation_id)
        if current is not None:
            field = "rating" if rating.kind == "thumbs" else "csat"
            self._summaries[rating.conversation_id] = replace(current, **{field: rating.value})

    async def ratings(self, conversation_id: str) -> list[Rating]:
        return list(self._ratings.get(conversation_id, ()))

    async def recent_ratings(
        self, *, kind: RatingKind | None = None, value: int | None = None, limit: int = 100
    ) -> list[Rating]:
        found = (
            r for r in self._recent_ratings
            if (kind is None or r.kind == kind) and (value is None or r.value == value)
        )
        return list(islice(found, max(0, limit)))

    # -- audit log -----------------------------------------------------------------
    async def audit(self, actor: str, action: str, detail: str = "") -> AuditRecord:
        record = AuditRecord(actor=actor, action=action, detail=detail)
        self._audit.appendleft(record)
        return record

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        return list(islice(self._audit, max(0, limit)))

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
    def take_tokens_step(self, limits: Sequence[RateLimit]) -> CallStep:
        return CallStep(self.take_tokens, (limits,))

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

    # -- hourly numbers ----------------------------------------------------------
    def _live_hour(self, hour: str) -> dict[str, float] | None:
        found = self._hours.get(hour)
        if found is not None and found[1] <= self._clock():
            del self._hours[hour]
            return None
        return found[0] if found else None

    async def add_to_hour(self, hour: str, counts: Mapping[str, float], ttl_s: float) -> None:
        fields = self._live_hour(hour)
        if fields is None:
            fields = {}
            self._hours[hour] = (fields, self._clock() + ttl_s)
        for name, amount in counts.items():
            fields[name] = fields.get(name, 0.0) + float(amount)

    async def hours(self, hours: Sequence[str]) -> list[dict[str, float]]:
        return [dict(self._live_hour(hour) or {}) for hour in hours]

    # -- lifecycle ---------------------------------------------------------------
    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

