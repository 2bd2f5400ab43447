"""Escalations: what the desk remembers about a handed-off conversation, and the
board (the agents' side) it talks to."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from hub.config import Config, HandoffConfig
from hub.conversation import TranscriptEntry
from hub.envelope import InboundMessage
from hub.messages import MessageTexts, fill

__all__ = ["Agent", "AgentBoard", "Escalation", "queue_text", "staffed"]


EscalationStatus = Literal["waiting", "claimed", "resolved", "returned"]

@dataclass(frozen=True, slots=True)
class Agent:
    """A human agent, as the board knows them (a Slack user)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Escalation:
    """One hand-off of one conversation, from escalation until it is closed."""

    conversation_id: str
    address: str
    channel: str
    customer: str
    reason: str
    queue: str = ""
    status: EscalationStatus = "waiting"
    agent_id: str = ""
    agent_name: str = ""
    board_channel: str = ""
    thread: str = ""
    created_at: float = field(default_factory=time.time)
    reminded_at: float | None = None
    reminders: int = 0
    closed_by: str = ""
    language: str = ""  # the customer's (ISO 639-1, hub/language.py); "" = the default
    gist: str = ""  # a one-line English summary for the agents, when an LLM tier made one

    @property
    def open(self) -> bool:
        return self.status in ("waiting", "claimed")

    @property
    def announced(self) -> bool:
        return bool(self.thread)

    def evolve(self, **changes: Any) -> Escalation:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Escalation:
        return cls(**data)


class AgentBoard(Protocol):
    """Where agents see escalations (the Slack agents channel).

    Every method raises :class:`~hub.errors.DeliveryError` when the board
    cannot be reached.
    """

    async def announce(
        self, escalation: Escalation, transcript: Sequence[TranscriptEntry]
    ) -> tuple[str, str]:
        """Post the escalation; return (board channel, thread id)."""
        ...

    async def refresh(self, escalation: Escalation) -> None:
        """Show the escalation's current state on its top message."""
        ...

    async def customer_message(self, escalation: Escalation, message: InboundMessage) -> None:
        """Copy a customer's message into the escalation's thread."""
        ...

    async def notice(self, escalation: Escalation, text: str, *, loud: bool = False) -> None:
        """A status line in the thread (``loud``: also shown in the channel)."""
        ...


def staffed(config: HandoffConfig, now: datetime | None = None) -> bool:
    """Inside business hours (always, when none are configured)."""
    if not config.business_hours:
        return True
    local = (now or datetime.now(tz=ZoneInfo("UTC"))).astimezone(ZoneInfo(config.timezone))
    start, end = config.business_hours.split("-")
    return local.isoweekday() in config.business_days and start <= local.strftime("%H:%M") < end


def queue_text(
    config: Config, now: datetime | None = None, texts: MessageTexts | None = None
) -> str:
    """What the customer is told while waiting: the wait, or the business hours.

    ``texts``: the ``[messages]`` of the customer's language (default: the default table).
    """
    texts = texts or config.messages
    if staffed(config.handoff, now):
        return fill(texts.queued, wait=texts.expected_wait)
    return fill(texts.after_hours, hours=config.handoff.business_hours)
