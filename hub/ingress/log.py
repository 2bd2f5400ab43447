"""The ingress log protocol: durable, partitioned, deduplicated work.

Two implementations pass one contract suite (``tests/hub/test_ingress_contract.py``):
:class:`~hub.ingress.memory.MemoryLog` (one process, ``memory://``) and
:class:`~hub.ingress.redis.RedisLog` (Redis Streams with one consumer group,
shared by every hub process on the same Redis).

The life of an entry: ``enqueue`` (dedupe and append in one atomic step) ->
``read`` by the owner of its partition -> decided -> ``commit`` of its outbox
under the partition's fence (with the transcript lines, and any reply that is
itself a store write) -> sent -> ``ack`` (inside the commit when nothing is left
to send). An entry that is read but
never acked stays pending; the next owner of the partition takes it back with
``recover``, its delivery count raised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hub.ingress.work import Entry, Fence, Outbox, Work
from hub.store.steps import Step

__all__ = ["DeadLetter", "IngressLog", "LogStats"]


@dataclass(frozen=True, slots=True)
class LogStats:
    """How far behind the log is: waiting (never read), pending (read, not acked)."""

    lag: int
    pending: int
    dead_letters: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry given up on: the stored work, why, and after how many deliveries."""

    entry_id: str
    partition: int
    address: str
    reason: str
    deliveries: int
    raw: str
    at: float


@runtime_checkable
class IngressLog(Protocol):
    partitions: int

    async def enqueue(self, work: Work, dedupe_ttl_s: float, guard: Step | None = None) -> bool:
        """Append ``work`` unless its key was seen within ``dedupe_ttl_s``; True if appended.

        The dedupe record and the entry are written in one atomic step, so a
        crash never leaves a claim without its work. Raises StoreUnavailable.
        A ``guard`` (the store's ``take_tokens_step``) runs first, in the same step
        on Redis: if it returns false, nothing is written and RateLimited is raised.
        """
        ...

    async def read(self, partitions: Collection[int], count: int, block_s: float) -> list[Entry]:
        """New entries of these partitions, oldest first per partition (waits up to block_s)."""
        ...

    async def recover(self, partition: int) -> list[Entry]:
        """Take back every pending entry of ``partition`` (a new owner's first step), in order."""
        ...

    async def adopt(
        self, partitions: Collection[int], in_flight: Collection[tuple[int, str]]
    ) -> list[Entry]:
        """Take back stranded entries of these partitions: pending with another consumer
        (a paused ex-owner's late read), or with this one but idle and not ``in_flight``
        (a read whose reply was lost with the connection)."""
        ...

    async def retry(self, entry: Entry) -> Entry:
        """Count one more delivery of a pending entry that failed here."""
        ...

    async def outbox(self, entry: Entry) -> Outbox | None:
        """The replies committed for this entry's work, if a delivery got that far."""
        ...

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
        """Keep ``outbox`` for the entry, only while ``fence`` still owns its partition.

        ``steps`` are made after it, in order, only if it is kept, and with
        ``ack`` the entry is acked too: on Redis all of it is one atomic command
        (when every step is a script on the log's client), so a reply delivered
        by a step (a webchat frame) is delivered exactly once.
        """
        ...

    async def ack(self, entry: Entry) -> None:
        """Done: the entry leaves the pending list and the log."""
        ...

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Give up on the entry: keep it aside with the reason, and ack it."""
        ...

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters, newest first."""
        ...

    async def stats(self, partitions: Collection[int] | None = None) -> LogStats: ...

    async def close(self) -> None: ...


def dead_letter_json(entry: Entry, reason: str, at: float) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "partition": entry.partition,
        "address": entry.address,
        "reason": reason,
        "deliveries": entry.deliveries,
        "raw": entry.raw or (entry.work.dumps() if entry.work else ""),
        "at": at,
    }
