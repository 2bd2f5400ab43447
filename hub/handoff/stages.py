"""The stages and middleware that plug the desk into the hub's chain."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hub.config import Config, HandoffConfig
from hub.envelope import Button
from hub.handoff.desk import HandoffDesk
from hub.messages import MessagesConfig
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
            text = turn.texts.no_person(asked=True)
            return Decision(stage="handoff", reason=f"{why}; no agents", text=text, helped=False)
        return Decision(stage="handoff", reason=why, handoff=HandoffRequest(reason=why))

    def _wants_person(self, turn: Turn) -> str | None:
        config = turn.config.handoff
        folded = turn.folded
        if folded in _folded_buttons(turn.config.messages):
            return "customer pressed the button for a person"
        if asks_for_person(folded, config):
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
        texts = turn.config.messages.for_language(turn.language)  # the customer's language
        text = texts.with_contact(texts.cannot_help)
        return Decision(
            stage=self.name, reason="no stage could answer; no agents", text=text, helped=False
        )


# Words that may surround a request word in a message that asks only for a person:
# "can I get a human please", "I need to talk to someone now", "agent pls".
_FILLERS = frozenset(
    "a an the some one please pls plz plse now asap right away just only i i'd id i'm im "
    "me we want wanna need would like to talk speak chat with get give have let can could "
    "may you u your connect transfer put through is there real live actual proper being "
    "from of ok okay hello hi hey yes again still".split()
)
_TOKEN = re.compile(r"\w+(?:'\w+)*")


def asks_for_person(folded: str, config: HandoffConfig) -> bool:
    """A request phrase anywhere, or a message of request words and fillers only.

    ``folded`` is the message folded (:func:`hub.text.fold`). Questions about the
    bot ("is a human reading this?", "are you a person?") do not count: they
    have words of their own, and the bot can answer them.
    """
    phrases = phrase_regex(config.request_phrases)
    if phrases is not None and phrases.search(folded):
        return True
    words = _words_regex(config.request_words)
    tokens = _TOKEN.findall(folded.replace("\u2019", "'"))
    if words is None or not tokens or len(tokens) > 12:
        return False
    rest = " ".join(t for t in tokens if t not in _FILLERS)
    return bool(rest) and words.fullmatch(rest) is not None


@lru_cache(maxsize=16)
def _words_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Request words one after another: "human", "customer service agent"."""
    folded = sorted({" ".join(fold(w).split()) for w in words if fold(w)}, key=len, reverse=True)
    if not folded:
        return None
    one = "(?:" + "|".join(map(re.escape, folded)) + ")"
    return re.compile(f"{one}(?: {one})*")


@lru_cache(maxsize=8)
def _folded_buttons(messages: MessagesConfig) -> frozenset[str]:
    """The "talk to a person" button's label, folded, in every language."""
    labels = [messages.offer_button]
    labels += [messages.for_language(lang).offer_button for lang in messages.languages]
    return frozenset(fold(label) for label in labels)


def _asks_for_person(button: Button, config: Config) -> bool:
    """Does pressing ``button`` already ask for a person (e.g. the LLM's own offer)?"""
    value = fold(button.value)
    return value in _folded_buttons(config.messages) or asks_for_person(value, config.handoff)


def offer_middleware(desk: HandoffDesk) -> Middleware:
    """After repeated unhelpful answers, the reply offers a person (when agents exist)."""

    async def offer(handler: Handler, turn: Turn) -> Decision:
        decision = await handler(turn)
        config = turn.config.handoff
        due = turn.conversation.failures + 1 >= config.offer_after_failures
        if not (due and decision.text and not decision.helped and decision.handoff is None):
            return decision
        if not desk.available or any(_asks_for_person(b, turn.config) for b in decision.buttons):
            return decision
        label = turn.texts.offer_button
        button = Button(label, label)
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
            text=turn.texts.no_person(asked=False),
            handoff=None,
            helped=False,
        )

    return unstaffed
