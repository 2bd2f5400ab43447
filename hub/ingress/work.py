"""What the durable ingress carries: work in, entries out, replies kept in the outbox.

:class:`Work` is one event to process (a customer message or an agent's action),
as an adapter hands it over. The ingress log stores it and hands it back as an
:class:`Entry`, with the log's own id, its partition and how often it has been
delivered. The replies decided for an entry are kept as an :class:`Outbox`
before anything is sent, so a re-run after a crash sends them again instead of
deciding again.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Literal

from hub import codec
from hub.envelope import InboundMessage, OutboundMessage, message_from_json, message_to_json

__all__ = [
    "AgentAction",
    "Delivery",
    "Entry",
    "Fence",
    "Outbox",
    "Work",
    "WorkKind",
    "partition_of",
]

WorkKind = Literal["message", "agent"]
AgentVerb = Literal["reply", "claim", "resolve", "return"]


def partition_of(address: str, partitions: int) -> int:
    """The partition of a conversation address: stable across processes and restarts."""
    return zlib.crc32(address.encode("utf-8")) % partitions


@dataclass(frozen=True, slots=True)
class AgentAction:
    """A person on the agents' side acting on a handed-off conversation."""

    verb: AgentVerb
    conversation_id: str
    address: str
    agent_id: str
    agent_name: str
    event_id: str  # the platform's id for the event: what duplicates are recognised by
    text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "conversation_id": self.conversation_id,
            "address": self.address,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "event_id": self.event_id,
            "text": self.text,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AgentAction:
        return cls(**dict(data))


@dataclass(frozen=True, slots=True)
class Work:
    """One event for the hub: ``key`` dedupes it, ``address`` orders it."""

    kind: WorkKind
    key: str
    address: str
    body: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", MappingProxyType(dict(self.body)))

    @classmethod
    def of_message(cls, message: InboundMessage) -> Work:
        return cls("message", message.dedupe_key, message.address, message_to_json(message))

    @classmethod
    def of_action(cls, action: AgentAction) -> Work:
        return cls("agent", f"agent:{action.event_id}", action.address, action.to_json())

    def message(self) -> InboundMessage:
        return message_from_json(InboundMessage, self.body)  # type: ignore[no-any-return]

    def action(self) -> AgentAction:
        return AgentAction.from_json(self.body)

    def dumps(self) -> str:
        return codec.dumps(
            {"kind": self.kind, "key": self.key, "address": self.address, "body": dict(self.body)}
        )

    @classmethod
    def loads(cls, raw: str) -> Work:
        """Parse what :meth:`dumps` wrote; anything else is a ValueError."""
        data = codec.loads(raw)
        if not isinstance(data, dict) or data.get("kind") not in ("message", "agent"):
            raise ValueError("not a work item")
        return cls(data["kind"], str(data["key"]), str(data["address"]), dict(data["body"]))


@dataclass(frozen=True, slots=True)
class Entry:
    """Work as the log hands it back: its id there, partition and delivery count.

    ``work`` is None when the stored entry could not be parsed (``raw`` keeps
    it): such an entry goes straight to the dead letters.
    """

    id: str
    partition: int
    work: Work | None
    deliveries: int = 1
    raw: str = ""
    resumed: bool = False  # tried here before and interrupted by a store outage

    @property
    def redelivered(self) -> bool:
        """Tried before: it may have been decided, committed or partly sent already."""
        return self.deliveries > 1 or self.resumed

    @property
    def address(self) -> str:
        return self.work.address if self.work is not None else f"unparsed:{self.partition}"

    def again(self) -> Entry:
        return replace(self, deliveries=self.deliveries + 1)

    def resume(self) -> Entry:
        return replace(self, resumed=True)


@dataclass(frozen=True, slots=True)
class Fence:
    """Proof of owning a partition: the lease token and its generation.

    A reply is committed only while the lease still holds this token, so a
    process that lost its lease (paused, partitioned away) can never answer.
    """

    partition: int
    token: str
    generation: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to send for an entry, with what the transcript says about it.

    ``committed``: delivered by the commit itself (a webchat frame is a write to
    the store), so never sent again.
    """

    message: OutboundMessage
    conversation_id: str | None
    stage: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None  # the decision's evidence, for the transcript
    committed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "message": message_to_json(self.message),
            "conversation_id": self.conversation_id,
            "stage": self.stage,
            "reason": self.reason,
            "details": self.details,
            "committed": self.committed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivery:
        message = message_from_json(OutboundMessage, data["message"])
        return cls(
            message, data.get("conversation_id"), data.get("stage"), data.get("reason"),
            data.get("details"), bool(data.get("committed")),
        )


@dataclass(frozen=True, slots=True)
class Outbox:
    """Everything decided for one entry, written before any of it is sent.

    ``transcribed``: the commit wrote the deliveries' transcript lines with it
    (an outbox from an older process did not, and its sends write them).
    """

    deliveries: tuple[Delivery, ...] = ()
    generation: int = 0
    transcribed: bool = False

    def dumps(self) -> str:
        return codec.dumps({
            "deliveries": [d.to_json() for d in self.deliveries],
            "generation": self.generation,
            "transcribed": self.transcribed,
        })

    @classmethod
    def loads(cls, raw: str) -> Outbox:
        data = codec.loads(raw)
        deliveries = tuple(Delivery.from_json(d) for d in data.get("deliveries", ()))
        return cls(deliveries, int(data.get("generation", 0)), bool(data.get("transcribed")))
