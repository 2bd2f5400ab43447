"""The feedback desk: offers rating prompts, records presses, asks for CSAT.

Plugged into the hub as ``hub.feedback`` (:class:`hub.hub.FeedbackHooks`):

- :meth:`FeedbackDesk.offer` puts 👍/👎 on a bot answer (``[feedback] ask``:
  ``all`` answers, only ``kb_llm`` answers, or ``never``);
- :meth:`FeedbackDesk.intercept` takes a press (any channel; see
  :mod:`feedback.buttons`) before the conversation, transcript or stages see it,
  stores the :class:`Rating`, counts it in ``switchboard_ratings_total`` and calls
  ``hub.rating_listeners``;
- :meth:`FeedbackDesk.ask_csat` (a hand-off desk ``resolved_listeners`` entry)
  sends the 1-5 question after an agent resolves (``[feedback] csat``).

Ignoring: a customer who writes again while a prompt is unanswered (the next
answer finds the earlier prompt still pending) is not offered another one in
that conversation. Pressing any prompt, even late, clears the pending one.
State lives in the conversation (``data["feedback"]``): one write when a prompt
is offered, one when it is ignored, none afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from feedback.buttons import COMMENT_CHARS, Press, press_of, rating_buttons, rating_kind
from feedback.rating import Rating
from hub.config import FeedbackConfig
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage, new_id
from hub.stages import Decision, Turn
from privacy.mask import mask

if TYPE_CHECKING:
    from hub.handoff import Escalation, HandoffDesk
    from hub.hub import Hub

__all__ = ["COMMENT_CHARS", "FeedbackDesk", "offers_rating"]

logger = logging.getLogger(__name__)

RATED_STAGES = frozenset({"kb", "llm"})  # ask = "kb_llm"
NEVER_RATED = frozenset({"handoff", "handoff_gate", "error", "feedback"})


def offers_rating(config: FeedbackConfig, decision: Decision) -> bool:
    """Does this answer get 👍/👎 (before the conversation's own state is asked)?"""
    if config.ask == "never" or not decision.text or decision.handoff is not None:
        return False
    if config.ask == "kb_llm":
        return decision.stage in RATED_STAGES and decision.helped
    return decision.stage not in NEVER_RATED


class FeedbackDesk:
    """One per hub; ``attach`` wires it in."""

    def __init__(self, hub: Hub, handoff: HandoffDesk | None = None) -> None:
        self.hub = hub
        self.handoff = handoff
        self.ratings = Counter(
            "switchboard_ratings", "Customer ratings, by kind, value and rated stage",
            ["kind", "value", "stage"], registry=hub.metrics.registry,
        )

    @classmethod
    def attach(cls, hub: Hub, desk: HandoffDesk | None = None) -> FeedbackDesk:
        feedback = cls(hub, desk)
        hub.feedback = feedback
        if desk is not None:
            desk.resolved_listeners.append(feedback.ask_csat)
        return feedback

    @property
    def config(self) -> FeedbackConfig:
        return self.hub.config.feedback

    # -- offering --------------------------------------------------------------------
    async def offer(self, turn: Turn, decision: Decision, reply: OutboundMessage) -> OutboundMessage:
        if not offers_rating(self.config, decision):
            return reply
        state = turn.conversation.data.get("feedback") or {}
        if state.get("ignored"):
            return reply
        if state.get("pending"):
            logger.info("rating prompt ignored; not asking again in this conversation")
            await self._remember(turn, {"ignored": True})
            return reply
        await self._remember(turn, {"pending": reply.message_id})
        return replace(reply, buttons=reply.buttons + rating_buttons("thumbs", reply.message_id))

    async def _remember(self, turn: Turn, state: dict[str, Any]) -> None:
        conversation = turn.conversation
        data = {**conversation.data, "feedback": state}
        turn.conversation = conversation.evolve(data=data)
        await self.hub.store.save_conversation(turn.conversation)

    # -- CSAT ------------------------------------------------------------------------
    async def ask_csat(self, escalation: Escalation) -> None:
        """After a resolved hand-off: the 1-5 question, as a system message."""
        if not self.config.csat or self.handoff is None:
            return
        message_id = new_id()
        await self.handoff.tell(
            escalation, self.config.csat_question, sender="system", message_id=message_id,
            buttons=rating_buttons("csat", message_id),
        )

    # -- presses ---------------------------------------------------------------------
    async def intercept(
        self, message: InboundMessage, current: Conversation | None
    ) -> Decision | None:
        press = press_of(message.text, str(message.metadata.get("comment") or ""))
        if press is None:
            return None
        found = await self._rated(current, press)
        if found is None:
            logger.info("a %s rating of an answer no longer kept; dropped", press.kind)
            return Decision(stage="feedback", reason="rating of an unknown answer", helped=False)
        conversation, index, entry = found
        press = replace(press, kind=rating_kind(entry.buttons) or press.kind)  # the prompt's kind
        try:
            rating = Rating(
                conversation_id=conversation.id,
                address=conversation.address,
                decision_index=index,
                kind=press.kind,
                value=press.value,
                comment=mask(press.comment.strip())[:COMMENT_CHARS],
                stage=entry.stage or "",
                variants=conversation.data.get("variants") or {},
                at=message.timestamp,
            )
        except ValueError as exc:
            logger.info("rating dropped: %s", exc)
            return Decision(stage="feedback", reason=str(exc), helped=False)
        await self._record(rating)
        await self._clear_pending(conversation, press)
        if press.kind == "csat" and self.config.thanks:
            thanks = OutboundMessage.reply(message, self.config.thanks, sender="system")
            await self.hub.deliver(thanks, stage="feedback", reason="thanks", conversation=conversation)
        return Decision(
            stage="feedback", reason=f"rated {press.kind} {press.value:+d}",
            details={"rating": rating.to_json()},
        )

    async def _rated(
        self, current: Conversation | None, press: Press
    ) -> tuple[Conversation, int, TranscriptEntry] | None:
        """The conversation, transcript index and entry of the answer pressed on: the
        current conversation at the address, or the one it follows (resolved)."""
        store = self.hub.store
        conversation = current
        for _ in range(2):
            if conversation is None:
                return None
            for index, entry in enumerate(await store.transcript(conversation.id)):
                if entry.id == press.message_id and rating_kind(entry.buttons) is not None:
                    return conversation, index, entry
            if conversation.linked_from is None:
                return None
            conversation = await store.get_conversation(conversation.linked_from)
        return None

    async def _record(self, rating: Rating) -> None:
        store = self.hub.store
        same = (rating.decision_index, rating.kind, rating.value, rating.at, rating.comment)
        for kept in await store.ratings(rating.conversation_id):  # a redelivered press
            if (kept.decision_index, kept.kind, kept.value, kept.at, kept.comment) == same:
                return
        await store.add_rating(rating)
        self.ratings.labels(rating.kind, str(rating.value), rating.stage or "none").inc()
        logger.info("rating %s %+d of a %s answer", rating.kind, rating.value, rating.stage)
        for listener in self.hub.rating_listeners:
            await listener(rating)

    async def _clear_pending(self, conversation: Conversation, press: Press) -> None:
        state = conversation.data.get("feedback") or {}
        if press.kind != "thumbs" or not state.get("pending"):
            return
        data = {**conversation.data, "feedback": {**state, "pending": None}}
        await self.hub.store.save_conversation(conversation.evolve(data=data))
