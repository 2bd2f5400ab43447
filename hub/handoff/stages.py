"""The stages and middleware that plug the desk into the hub's chain."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hub.config import HandoffConfig
from hub.envelope import Button
from hub.handoff.desk import HandoffDesk
from hub.handoff.escalation import CANNOT_HELP, NO_AGENTS
from hub.sentiment import SentimentScorer
from hub.stages import Decision, HandoffRequest, Turn
from hub.text import fold, phrase_regex

if TYPE_CHECKING:
    from hub.hub import Handler, Middleware

__all__ = ["HandoffGate", "HandoffStage", "offer_middleware", "unstaffed_middleware"]

logger = logging.getLogger(__name__)


class HandoffGate:
    """The first stage: conversations with a person, and customers asking for one."""

    name = "handoff_gate"

    def __init__(self, desk: HandoffDesk) -> None:
        self.desk = desk
        self._sentiment = SentimentScorer()

    async def __call__(self, turn: Turn) -> Decision | None:
        if turn.conversation.status == "handoff":
            if not turn.dry_run:
                await self.desk.forward(turn.conversation, turn.message)
            return Decision(stage="handoff", reason="with a human agent")
        why = self._wants_person(turn)
        if why is None:
            return None
        if not self.desk.available:
            return Decision(stage="handoff", reason=f"{why}; no agents", text=NO_AGENTS, helped=False)
        return Decision(stage="handoff", reason=why, handoff=HandoffRequest(reason=why))

    def _wants_person(self, turn: Turn) -> str | None:
        config = turn.config.handoff
        folded = turn.folded
        if folded == _folded_button(config.offer_button):
            return "customer pressed the button for a person"
        phrases = phrase_regex(config.request_phrases)
        if phrases is not None and phrases.search(folded):
            return "customer asked for a person"
        if config.sentiment and self.desk.available:
            score = self._sentiment.score(turn.message.text)
            if score <= config.sentiment_threshold:
                return f"negative sentiment ({score:.2f})"
        return None

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "agents": self.desk.available}


class HandoffStage:
    """The last stage: nothing else answered. A person, if there are any."""

    name = "handoff"

    def __init__(self, desk: HandoffDesk | None = None) -> None:
        self.desk = desk

    async def __call__(self, turn: Turn) -> Decision | None:
        if self.desk is not None and self.desk.available:
            return Decision(
                stage=self.name,
                reason="no earlier stage could answer",
                handoff=HandoffRequest(reason="the bot had no answer"),
                helped=False,
            )
        return Decision(
            stage=self.name, reason="no stage could answer; no agents", text=CANNOT_HELP, helped=False
        )


@lru_cache(maxsize=8)
def _folded_button(label: str) -> str:
    return fold(label)


def _asks_for_person(button: Button, config: HandoffConfig) -> bool:
    """Does pressing ``button`` already ask for a person (e.g. the LLM's own offer)?"""
    value = fold(button.value)
    phrases = phrase_regex(config.request_phrases)
    return value == fold(config.offer_button) or bool(phrases and phrases.search(value))


def offer_middleware(desk: HandoffDesk) -> Middleware:
    """After repeated unhelpful answers, the reply offers a person (when agents exist)."""

    async def offer(handler: Handler, turn: Turn) -> Decision:
        decision = await handler(turn)
        config = turn.config.handoff
        due = turn.conversation.failures + 1 >= config.offer_after_failures
        if not (due and decision.text and not decision.helped and decision.handoff is None):
            return decision
        if not desk.available or any(_asks_for_person(b, config) for b in decision.buttons):
            return decision
        button = Button(config.offer_button, config.offer_button)
        return replace(decision, buttons=(*decision.buttons, button))

    return offer


def unstaffed_middleware(desk: HandoffDesk) -> Middleware:
    """A hand-off with no agents to take it must not promise a person or go silent."""

    async def unstaffed(handler: Handler, turn: Turn) -> Decision:
        decision = await handler(turn)
        if decision.handoff is None or desk.available or turn.dry_run:
            return decision
        logger.warning("hand-off requested (%s) but no agents channel", decision.handoff.reason)
        return replace(
            decision,
            reason=f"{decision.reason}; no agents to hand off to",
            text=NO_AGENTS,
            handoff=None,
            helped=False,
        )

    return unstaffed
