"""Conversations and their transcripts, as the store keeps them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from hub.codec import field_names
from hub.envelope import Address, Button, InboundMessage, OutboundMessage, Sender, new_id

__all__ = ["Conversation", "ConversationStatus", "TranscriptEntry"]

ConversationStatus = Literal["bot", "handoff", "resolved"]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One support conversation with one customer on one channel.

    ``address`` is the channel-qualified platform address (``webchat:<session>``,
    ``telegram:<chat>``, ...). After a hand-off is resolved, the next message on
    the same address opens a fresh conversation whose ``linked_from`` names
    this one.
    """

    id: str
    channel: str
    address: str
    user_id: str = ""
    user_name: str = ""
    thread: str | None = None
    status: ConversationStatus = "bot"
    tags: tuple[str, ...] = ()
    failures: int = 0
    linked_from: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, message: InboundMessage, linked_from: str | None = None) -> Conversation:
        return cls(
            id=new_id(),
            channel=message.channel,
            address=message.address,
            user_id=message.user_id,
            user_name=message.user_name,
            thread=message.thread,
            linked_from=linked_from,
        )

    @property
    def conversation_id(self) -> str:
        """The channel's own id for this conversation (the address minus channel)."""
        return Address.parse(self.address).conversation_id

    def evolve(self, **changes: Any) -> Conversation:
        return replace(self, updated_at=time.time(), **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        data = dict(data)
        data["tags"] = tuple(data.get("tags", ()))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of a conversation's transcript; ``edit_of`` marks a customer's edit
    of the line with that id."""

    id: str
    sender: Sender
    text: str
    timestamp: float
    sender_name: str = ""
    reply_to: str | None = None
    buttons: tuple[Button, ...] = ()
    stage: str | None = None
    reason: str | None = None
    edit_of: str | None = None
    language: str | None = None  # the customer's, as detected (hub/language.py)
    details: dict[str, Any] | None = None  # a reply's evidence (Decision.details, the trace)

    @classmethod
    def inbound(cls, message: InboundMessage, language: str | None = None) -> TranscriptEntry:
        return cls(
            id=message.message_id,
            sender="customer",
            text=message.text,
            timestamp=message.timestamp,
            sender_name=message.user_name,
            edit_of=message.edit_of,
            language=language,
        )

    @classmethod
    def outbound(
        cls,
        message: OutboundMessage,
        stage: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> TranscriptEntry:
        return cls(
            id=message.message_id,
            sender=message.sender,
            text=message.text,
            timestamp=message.timestamp,
            sender_name=message.sender_name,
            reply_to=message.reply_to,
            buttons=message.buttons,
            stage=stage,
            reason=reason,
            details=details,
        )

    def to_json(self) -> dict[str, Any]:
        """Every field; ``details`` as it is (JSON already, not copied: a transcript line
        is serialised on every append, and ``asdict``'s deep copy cost more than the rest)."""
        data = {name: getattr(self, name) for name in field_names(TranscriptEntry)}
        data["buttons"] = [{"label": b.label, "value": b.value} for b in self.buttons]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptEntry:
        data = dict(data)
        data["buttons"] = tuple(Button(**b) for b in data.get("buttons", ()))
        return cls(**data)
