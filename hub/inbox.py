"""The conversation index: one summary record per conversation, kept by the store.

The stores keep a :class:`ConversationSummary` up to date as a side effect of the
writes the hub makes anyway (no extra round trip on the hot path):

- ``save_conversation`` sets who and where (address, channel, user), the status
  (``bot``; ``handoff`` becomes ``waiting``, or stays ``agent`` once an agent has
  claimed it; ``resolved``), the tags, the language and the variants;
- ``append`` counts the message and moves ``last_at`` and ``last_text`` (kept as
  written, or as the masked transcript line; masked when read, :func:`shown`);
- ``add_rating`` sets ``rating`` (thumbs) or ``csat``;
- ``set_conversation_status`` sets ``agent`` when an agent claims.

``Store.list_conversations`` reads it newest first (by ``last_at``) for the
operators' console; ``Store.audit`` / ``audit_log`` keep who did what there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from hub.codec import field_names
from hub.conversation import Conversation, ConversationStatus

__all__ = [
    "PREVIEW_CHARS",
    "AuditRecord",
    "ConversationSummary",
    "SummaryStatus",
    "summary_status",
]

SummaryStatus = Literal["bot", "waiting", "agent", "resolved"]

PREVIEW_CHARS = 160  # last_text shows this much of the newest line
RAW_PREVIEW_CHARS = 400  # the store keeps this much of it (masked and cut when read)

_STATUS_OF: dict[ConversationStatus, SummaryStatus] = {
    "bot": "bot",
    "handoff": "waiting",
    "resolved": "resolved",
}


def summary_status(status: ConversationStatus, current: str | None) -> SummaryStatus:
    """The summary status of a conversation saved with ``status``: a hand-off an agent
    has claimed (``current`` is ``agent``) stays ``agent``."""
    mapped = _STATUS_OF.get(status, "bot")
    if mapped == "waiting" and current == "agent":
        return "agent"
    return mapped


def preview(text: str) -> str:
    """``text`` cut to :data:`PREVIEW_CHARS`, on one line."""
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


def raw_preview(text: str) -> str:
    """What the store keeps of the newest line: its first RAW_PREVIEW_CHARS, the cut
    moved past the word it falls in (so a card number or an address is never cut in
    half and still recognised when it is masked on reading, :func:`shown`)."""
    if len(text) <= RAW_PREVIEW_CHARS:
        return text
    end, limit = RAW_PREVIEW_CHARS, min(len(text), RAW_PREVIEW_CHARS + 64)
    while end < limit and not (text[end].isspace() and not text[end + 1:end + 2].isdigit()):
        end += 1
    return text[:end]


def shown(text: str) -> str:
    """A kept line as the console may show it: masked (providers/pii.py's detectors),
    then cut to PREVIEW_CHARS. Masking happens here, on reading, so that the hot
    path (every message) does not pay for it."""
    from privacy.mask import masked_preview

    return masked_preview(text) if text else text


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One row of the console's conversation list."""

    id: str
    address: str
    channel: str
    user: str  # the customer id, as the envelope has it (InboundMessage.user_id)
    status: SummaryStatus = "bot"
    tags: tuple[str, ...] = ()
    language: str | None = None
    started_at: float = 0.0
    last_at: float = 0.0
    messages: int = 0
    last_text: str = ""  # masked preview of the newest line
    rating: int | None = None  # latest thumbs: +1 / -1
    csat: int | None = None  # latest 1..5
    variants: Mapping[str, str] = field(default_factory=dict)  # experiment -> variant
    user_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "variants", MappingProxyType(dict(self.variants)))

    def masked(self) -> ConversationSummary:
        """With ``last_text`` as the console shows it (masked and cut): stores return these."""
        return replace(self, last_text=shown(self.last_text)) if self.last_text else self

    @classmethod
    def of(cls, conversation: Conversation, current: str | None = None) -> ConversationSummary:
        """What a saved conversation says about itself (counts and preview left at zero)."""
        return cls(
            id=conversation.id,
            address=conversation.address,
            channel=conversation.channel,
            user=conversation.user_id,
            user_name=conversation.user_name,
            status=summary_status(conversation.status, current),
            tags=conversation.tags,
            language=conversation.data.get("language"),
            started_at=conversation.created_at,
            last_at=conversation.created_at,
            variants=conversation.data.get("variants") or {},
        )

    def matches(
        self,
        *,
        channel: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        rating: int | None = None,
    ) -> bool:
        """The console's filters (``None``: any)."""
        return (
            (channel is None or self.channel == channel)
            and (status is None or self.status == status)
            and (tag is None or tag in self.tags)
            and (rating is None or self.rating == rating)
        )

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in field_names(ConversationSummary)}
        data["tags"] = list(self.tags)
        data["variants"] = dict(self.variants)
        return data

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> ConversationSummary:
        """From the flat string fields of a Redis hash (see :meth:`fields`)."""

        def number(name: str) -> int | None:
            raw = fields.get(name, "")
            return int(raw) if raw else None

        return cls(
            id=fields["id"],
            address=fields.get("address", ""),
            channel=fields.get("channel", ""),
            user=fields.get("user", ""),
            user_name=fields.get("user_name", ""),
            status=fields.get("status", "bot"),  # type: ignore[arg-type]
            tags=tuple(json.loads(fields.get("tags") or "[]")),
            language=fields.get("language") or None,
            started_at=float(fields.get("started_at") or 0.0),
            last_at=float(fields.get("last_at") or 0.0),
            messages=int(fields.get("messages") or 0),
            last_text=fields.get("last_text", ""),
            rating=number("rating"),
            csat=number("csat"),
            variants=json.loads(fields.get("variants") or "{}"),
        )

    def identity_fields(self) -> dict[str, str]:
        """What ``save_conversation`` writes (never the counts, preview or ratings)."""
        return {
            "id": self.id,
            "address": self.address,
            "channel": self.channel,
            "user": self.user,
            "user_name": self.user_name,
            "tags": json.dumps(list(self.tags)),
            "language": self.language or "",
            "started_at": repr(self.started_at),
            "variants": json.dumps(dict(self.variants)),
        }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One operator action: who, what, when (``detail`` says on what)."""

    actor: str
    action: str
    detail: str = ""
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        return cls(**data)
