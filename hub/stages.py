"""The stage chain: each stage answers a turn or passes it on.

A stage is any object with a ``name`` and an async ``__call__(turn)`` that
returns a :class:`Decision` or ``None`` ("not mine"). The chain runs them in
order, cheapest first; the first decision wins. Stages may also enrich the
turn for later ones (a tag rule adds tags, the knowledge base attaches its
candidates as grounding for the LLM, a route rule forces a tier).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from hub.config import Config
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import Button, InboundMessage, Source
from hub.logs import stage_scope
from hub.messages import MessageTexts

__all__ = ["Candidate", "Decision", "HandoffRequest", "Stage", "StageChain", "Turn"]

logger = logging.getLogger(__name__)

DeltaSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A knowledge-base entry offered as grounding to later stages."""

    id: str
    question: str
    answer: str
    score: float
    source: Source | None = None  # an article's passage: what citing it links to


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """Ask for a human: why, and to which queue."""

    reason: str
    queue: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """What a stage decided, and why.

    ``stage`` names the stage (``rules``, ``kb``, ``llm``, ``handoff``, ...);
    ``reason`` says why in words; ``details`` carries the evidence (rule name,
    FAQ id and score, model, tokens, cost). ``text`` and ``buttons`` are the
    reply, if any. ``handoff`` asks for a human. ``helped`` is False when the
    bot could not answer the question (it counts towards offering a person).
    ``sources`` are the articles the reply cites (its text ends with their
    plain line, :func:`hub.envelope.with_sources`); channels render them as links.
    """

    stage: str
    reason: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    handoff: HandoffRequest | None = None
    helped: bool = True
    sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        object.__setattr__(self, "buttons", tuple(self.buttons))
        object.__setattr__(self, "sources", tuple(self.sources))

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "reason": self.reason,
            "reply": self.text,
            "buttons": [{"label": b.label, "value": b.value} for b in self.buttons],
            "sources": [
                {"n": s.number, "title": s.title, "url": s.url} for s in self.sources
            ],
            "details": dict(self.details),
            "handoff": (
                {"reason": self.handoff.reason, "queue": self.handoff.queue}
                if self.handoff
                else None
            ),
        }


@dataclass(slots=True)
class Turn:
    """One inbound message on its way through the stages (mutable scratchpad)."""

    message: InboundMessage
    conversation: Conversation
    config: Config
    history: Sequence[TranscriptEntry] = ()
    history_source: Callable[[], Awaitable[Sequence[TranscriptEntry]]] | None = None
    tags: set[str] = field(default_factory=set)
    forced_tier: str | None = None
    flow: str | None = None  # a rule or FAQ entry asks to start this flow (flows/)
    candidates: list[Candidate] = field(default_factory=list)
    kb_score: float | None = None
    kb_margin: float | None = None
    trace: list[str] = field(default_factory=list)
    on_delta: DeltaSink | None = None
    dry_run: bool = False
    language: str = "en"  # ISO 639-1, detected per message ([languages], hub/language.py)
    _folded: str | None = None

    @property
    def texts(self) -> MessageTexts:
        """What the hub says itself, in the customer's language (``[messages.<lang>]``)."""
        return self.config.messages.for_language(self.language)

    @property
    def folded(self) -> str:
        """The message text folded for matching (case, accents, spaces), computed once."""
        if self._folded is None:
            from hub.text import fold

            self._folded = fold(self.message.text)
        return self._folded

    async def load_history(self) -> Sequence[TranscriptEntry]:
        """The recent transcript, read from the store on first use only.

        Rules and the FAQ never need it; reading it for every message would
        cost a Redis round trip each time.
        """
        if self.history_source is not None:
            self.history = await self.history_source()
            self.history_source = None
        return self.history

    def note(self, text: str) -> None:
        """Record a step that did not decide but shaped the outcome."""
        self.trace.append(text)


class Stage(Protocol):
    name: str

    async def __call__(self, turn: Turn) -> Decision | None: ...


class StageChain:
    """Run stages in order; the first decision wins."""

    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = list(stages)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    async def __call__(self, turn: Turn) -> Decision:
        for stage in self.stages:
            with stage_scope(stage.name):
                decision = await stage(turn)
            if decision is not None:
                return decision
        messages = turn.texts
        return Decision(
            stage="none",
            reason="no stage answered",
            text=messages.with_contact(messages.cannot_help),
            helped=False,
        )
