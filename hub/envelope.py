"""The common envelope: what adapters hand to the hub and what the hub hands back.

Nothing platform-specific crosses this boundary. Adapters convert an aiogram
``Message`` or a Slack event into an :class:`InboundMessage`, and an
:class:`OutboundMessage` back into a platform call.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from hub.codec import field_names
from hub.errors import AddressError

__all__ = [
    "Address",
    "Attachment",
    "Button",
    "InboundMessage",
    "OutboundMessage",
    "Sender",
    "Source",
    "message_from_json",
    "message_to_json",
    "new_id",
    "sources_line",
    "with_sources",
]

Sender = Literal["customer", "bot", "agent", "system"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count(1)


def new_id() -> str:
    """A fresh identifier, unique across processes: a random per-process prefix and
    a counter (no system call per message, unlike uuid4). Not a secret."""
    return f"{_PREFIX}{next(_COUNTER):012x}"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a conversation lives: ``<channel>:<conversation id>``, unique across the hub.

    ``webchat:<session>``, ``telegram:<chat id>``, ``slack:<channel>`` or, for a
    Slack thread, ``slack:<channel>:<thread ts>``. A channel name has no ``:``; a
    conversation id may, so :meth:`parse` splits at the first one. ``str()`` is
    the form the store keeps (conversations, escalations, the ingress).
    """

    channel: str
    conversation_id: str

    def __post_init__(self) -> None:
        if not self.channel or ":" in self.channel:
            raise AddressError(f"bad channel in an address: {self.channel!r}")
        if not self.conversation_id:
            raise AddressError(f"address on {self.channel} without a conversation id")

    def __str__(self) -> str:
        return f"{self.channel}:{self.conversation_id}"

    @classmethod
    def parse(cls, text: str) -> Address:
        """The address ``str(address)`` gave; AddressError for anything else."""
        channel, colon, conversation_id = text.partition(":")
        if not colon:
            raise AddressError(f"not a channel address (no ':'): {text!r}")
        return cls(channel, conversation_id)


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to a file the customer shared; the hub never downloads it."""

    kind: str  # "photo", "document", "voice", "sticker", "file", ...
    ref: str  # platform file id or URL
    name: str = ""
    mime_type: str = ""
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A button on an outbound message; pressing it sends ``value`` back as text."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Source:
    """An article an answer rests on, which a channel shows as a link.

    ``number`` is the ``[n]`` the answer cites it by; None for the one article
    an extractive answer comes from ("Read more"). ``url`` may be empty (an
    article with no public address): then the title is shown without a link.
    """

    title: str
    url: str = ""
    number: int | None = None

    @property
    def label(self) -> str:
        return self.title if self.number is None else f"[{self.number}] {self.title}"


def sources_line(sources: tuple[Source, ...]) -> str:
    """The plain-text form of ``sources``: "Read more: <title> <link>" for an
    extractive answer's article, "Sources: [1] <title> <link>; [2] ..." for citations."""
    if not sources:
        return ""
    links = "; ".join(f"{s.label} {s.url}".rstrip() for s in sources)
    return f"{'Read more' if sources[0].number is None else 'Sources'}: {links}"


def with_sources(body: str, sources: tuple[Source, ...]) -> str:
    """``body``, then its sources' plain line as the last paragraph."""
    line = sources_line(sources)
    return f"{body}\n\n{line}" if line else body


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One customer message, as every adapter delivers it to the hub.

    ``conversation_id`` is the channel's own address of the conversation (a
    webchat session, a Telegram chat, a Slack DM or thread); together with
    ``channel`` it is unique. ``message_id`` is unique within the channel and
    is what duplicates are recognised by. ``edit_of`` is set when the customer
    edited an earlier message: it is that message's ``message_id`` (see
    :mod:`hub.edits`).
    """

    channel: str
    conversation_id: str
    user_id: str
    message_id: str
    text: str
    user_name: str = ""
    thread: str | None = None
    timestamp: float = field(default_factory=time.time)
    attachments: tuple[Attachment, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    edit_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze(self.metadata))
        object.__setattr__(self, "attachments", tuple(self.attachments))

    @property
    def address(self) -> str:
        """Channel-qualified conversation address, unique across the hub (see Address)."""
        return str(Address(self.channel, self.conversation_id))

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel}:{self.message_id}"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message from the hub (bot, agent or system) to a customer.

    ``text`` is complete as plain text: with ``sources``, its last paragraph is
    their plain line (:func:`with_sources`), so a channel that cannot show links
    sends ``text`` as it is, and one that can sends :attr:`body` and renders
    ``sources`` its own way.
    """

    channel: str
    conversation_id: str
    text: str
    buttons: tuple[Button, ...] = ()
    sender: Sender = "bot"
    sender_name: str = ""
    reply_to: str | None = None
    thread: str | None = None
    message_id: str = field(default_factory=new_id)
    timestamp: float = field(default_factory=time.time)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze(self.metadata))
        object.__setattr__(self, "buttons", tuple(self.buttons))
        object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def address(self) -> str:
        return str(Address(self.channel, self.conversation_id))

    @property
    def body(self) -> str:
        """``text`` without the sources' plain line (for channels that render links)."""
        line = sources_line(self.sources)
        if line and self.text.endswith(line):
            return self.text[: -len(line)].rstrip()
        return self.text

    @classmethod
    def reply(
        cls,
        to: InboundMessage,
        text: str,
        *,
        buttons: tuple[Button, ...] = (),
        sender: Sender = "bot",
        sender_name: str = "",
        metadata: Mapping[str, Any] | None = None,
        sources: tuple[Source, ...] = (),
    ) -> OutboundMessage:
        """An answer to ``to`` on the same channel, conversation and thread."""
        return cls(
            channel=to.channel,
            conversation_id=to.conversation_id,
            text=text,
            buttons=buttons,
            sender=sender,
            sender_name=sender_name,
            reply_to=to.message_id,
            thread=to.thread,
            metadata=metadata or _EMPTY,
            sources=sources,
        )


# -- JSON: how envelopes are kept in the durable ingress and the outbox -------------
def message_to_json(message: InboundMessage | OutboundMessage) -> dict[str, Any]:
    """A plain JSON object for ``message`` (every field, nested types flattened)."""
    data: dict[str, Any] = {}
    for name in field_names(type(message)):
        value = getattr(message, name)
        if name in ("attachments", "buttons", "sources"):
            value = [{g: getattr(item, g) for g in field_names(type(item))} for item in value]
        elif name == "metadata":
            value = dict(value)
        data[name] = value
    return data


def message_from_json(
    cls: type[InboundMessage] | type[OutboundMessage], data: Mapping[str, Any]
) -> Any:
    """The envelope ``message_to_json`` wrote; unknown keys are a ValueError."""
    unknown = set(data).difference(field_names(cls))
    if unknown:
        raise ValueError(f"unknown envelope fields {sorted(unknown)}")
    values = dict(data)
    if "attachments" in values:
        values["attachments"] = tuple(Attachment(**a) for a in values["attachments"])
    if "buttons" in values:
        values["buttons"] = tuple(Button(**b) for b in values["buttons"])
    if "sources" in values:
        values["sources"] = tuple(Source(**s) for s in values["sources"])
    return cls(**values)
