"""The store protocol: everything the hub remembers, behind one small interface.

Two implementations pass the same contract suite (``tests/hub/test_store_contract.py``):
:class:`~hub.store.memory.MemoryStore` (the default, one process) and
:class:`~hub.store.redis.RedisStore` (survives restarts, shared by processes).

Values given to the generic key-value methods must be JSON-serialisable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from feedback.rating import Rating, RatingKind
from hub.conversation import Conversation, TranscriptEntry
from hub.inbox import AuditRecord, ConversationSummary, SummaryStatus
from hub.store.steps import Step

__all__ = ["AUDIT_KEPT", "RATINGS_KEPT", "RateLimit", "Store"]

RATINGS_KEPT = 10_000  # recent_ratings reaches this far back (per conversation: all)
AUDIT_KEPT = 10_000  # the audit log keeps this many records


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket in the store: ``burst`` at once, refilled at ``per_s`` a second.

    ``name`` comes from :class:`hub.store.Keys`; a bucket nobody used for as long as it
    takes to refill is forgotten (it would be full anyway)."""

    name: str
    burst: int
    per_s: float

    @property
    def refill_s(self) -> float:
        return self.burst / self.per_s


@runtime_checkable
class Store(Protocol):
    # -- dedupe and locks ------------------------------------------------------
    async def claim(self, key: str, ttl_s: float) -> bool:
        """Set ``key`` if absent, for ``ttl_s`` seconds. True if this call set it."""
        ...

    async def release(self, key: str) -> None:
        """Forget a claim (so a message that failed before processing can come again)."""
        ...

    # -- conversations ---------------------------------------------------------
    async def get_conversation(self, conversation_id: str) -> Conversation | None: ...

    async def conversation_at(self, address: str) -> Conversation | None:
        """The current conversation at a channel address, if any."""
        ...

    async def save_conversation(self, conversation: Conversation) -> None:
        """Store it and make it the current conversation at its address."""
        ...

    # -- transcripts -----------------------------------------------------------
    async def append(
        self,
        conversation_id: str,
        entry: TranscriptEntry,
        max_len: int,
        ttl_s: float | None = None,
        *,
        preview: str | None = None,
    ) -> None:
        """Append to a transcript, keeping only the newest ``max_len`` entries; with
        ``ttl_s``, the whole transcript is forgotten ``ttl_s`` after its newest entry.

        A saved conversation's summary counts the entry, and shows ``preview``
        (the entry's text when None) as its ``last_text``, in the same write."""
        ...

    def append_step(
        self, conversation_id: str, entry: TranscriptEntry, max_len: int, ttl_s: float | None = None
    ) -> Step:
        """The same :meth:`append`, as a step an ingress commit can make with its own
        write (see :mod:`hub.store.steps`)."""
        ...

    async def transcript(
        self, conversation_id: str, limit: int | None = None
    ) -> list[TranscriptEntry]:
        """Oldest first; with ``limit``, only the newest ``limit`` entries."""
        ...

    # -- the conversation index (hub/inbox.py) ---------------------------------
    async def conversation_summary(self, conversation_id: str) -> ConversationSummary | None: ...

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
        """Newest ``last_at`` first; ``since``/``until`` bound ``last_at`` (inclusive),
        ``before`` pages on (rows with ``last_at`` strictly older)."""
        ...

    async def set_conversation_status(self, conversation_id: str, status: SummaryStatus) -> None:
        """Set the summary's status only (``agent`` when an agent claims)."""
        ...

    async def customer_conversations(self, channel: str, user: str) -> list[str]:
        """Ids of every stored conversation of one customer (channel + user id)."""
        ...

    async def forget_conversation(self, conversation_id: str) -> bool:
        """Delete everything kept for one conversation: the conversation (and its
        address, if still current), transcript, summary, ratings, escalation, flow
        state and cost. True if there was a conversation or a summary."""
        ...

    async def expire_conversations(self, older_than: float) -> list[str]:
        """Forget every conversation whose ``last_at`` is older than ``older_than``
        (epoch seconds); the ids forgotten."""
        ...

    # -- ratings (feedback/) -----------------------------------------------------
    async def add_rating(self, rating: Rating) -> None:
        """Keep a rating; the conversation's summary shows it (``rating`` or ``csat``)."""
        ...

    async def ratings(self, conversation_id: str) -> list[Rating]:
        """A conversation's ratings, oldest first."""
        ...

    async def recent_ratings(
        self, *, kind: RatingKind | None = None, value: int | None = None, limit: int = 100
    ) -> list[Rating]:
        """The newest ratings first, across conversations (the newest RATINGS_KEPT)."""
        ...

    # -- the operators' audit log ----------------------------------------------
    async def audit(self, actor: str, action: str, detail: str = "") -> AuditRecord:
        """Record that ``actor`` did ``action`` (on ``detail``), now."""
        ...

    async def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        """Newest first (the newest AUDIT_KEPT are kept)."""
        ...

    # -- generic JSON key-value, counters and sets -----------------------------
    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, ttl_s: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, amount: float = 1.0, ttl_s: float | None = None) -> float:
        """Add to a float counter (created at 0) and return the new value."""
        ...

    async def add_member(self, key: str, member: str) -> None: ...

    async def remove_member(self, key: str, member: str) -> None: ...

    async def members(self, key: str) -> set[str]: ...

    # -- rate limits -----------------------------------------------------------
    def take_tokens_step(self, limits: Sequence[RateLimit]) -> Step:
        """:meth:`take_tokens` as a step: it returns true if it took them, and guards
        an enqueue so that both happen in one atomic step (see IngressLog.enqueue)."""
        ...

    async def take_tokens(self, limits: Sequence[RateLimit]) -> bool:
        """One token from every bucket, or from none: True if each had one.

        Atomic, and on Redis shared by every process (its clock is the server's)."""
        ...

    # -- hourly numbers (console/stats.py) ----------------------------------------
    async def add_to_hour(self, hour: str, counts: Mapping[str, float], ttl_s: float) -> None:
        """Add each count to its field in one hour's bucket (``YYYYMMDDHH``, UTC), atomically;
        the bucket is forgotten ``ttl_s`` after it was first counted into."""
        ...

    async def hours(self, hours: Sequence[str]) -> list[dict[str, float]]:
        """Each asked hour's bucket, in order (an empty dict for an hour with nothing)."""
        ...

    # -- lifecycle -------------------------------------------------------------
    async def ping(self) -> bool:
        """True if the store answers."""
        ...

    async def close(self) -> None: ...
