"""Hand-off to human agents: the escalation desk and the stages around it.

The :class:`HandoffDesk` keeps one :class:`Escalation` per handed-off
conversation in the store (so a restart on Redis loses nothing) and talks to
the agents through an :class:`AgentBoard` (the Slack agents channel, see
``adapters/slack/agents.py``). Three pieces plug it into the hub:

- :class:`HandoffGate`, the FIRST stage: a conversation with a human goes to
  the agents' thread and nowhere else; a customer asking for a person (a
  phrase, the offered button, or angry enough when sentiment is on) is
  handed off before any rule, FAQ or model sees the message.
- :class:`HandoffStage`, the LAST stage: nothing else answered.
- :func:`offer_middleware`: after ``offer_after_failures`` unhelpful answers
  in a row, the bot's reply carries a "Talk to a person" button.

The desk applies any decision that carries a :class:`~hub.stages.HandoffRequest`
(rules, the LLM, the stages above) through ``hub.decision_listeners``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from hub.config import HandoffConfig
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import Button, InboundMessage, OutboundMessage
from hub.errors import DeliveryError
from hub.sentiment import SentimentScorer
from hub.stages import Decision, HandoffRequest, Turn
from hub.store import Store
from routing.text import fold, phrase_regex

if TYPE_CHECKING:
    from hub.hub import Handler, Hub, Middleware

__all__ = [
    "Agent",
    "AgentBoard",
    "Escalation",
    "HandoffDesk",
    "HandoffGate",
    "HandoffStage",
    "offer_middleware",
]

logger = logging.getLogger(__name__)

EscalationStatus = Literal["waiting", "claimed", "resolved", "returned"]

CANNOT_HELP = "Sorry, I can't help with that. Could you rephrase your question?"
NO_AGENTS = (
    "Sorry, there is no one from the team on this channel, so I'll do my best: "
    "could you tell me a little more about what you need?"
)
OPEN_KEY = "handoff:open"


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


def _escalation_key(conversation_id: str) -> str:
    return f"handoff:escalation:{conversation_id}"


def _thread_key(board_channel: str, thread: str) -> str:
    return f"handoff:thread:{board_channel}:{thread}"


def _fill(template: str, **values: str) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def staffed(config: HandoffConfig, now: datetime | None = None) -> bool:
    """Inside business hours (always, when none are configured)."""
    if not config.business_hours:
        return True
    local = (now or datetime.now(tz=ZoneInfo("UTC"))).astimezone(ZoneInfo(config.timezone))
    start, end = config.business_hours.split("-")
    return local.isoweekday() in config.business_days and start <= local.strftime("%H:%M") < end


def queue_text(config: HandoffConfig, now: datetime | None = None) -> str:
    """What the customer is told while waiting: the wait, or the business hours."""
    if staffed(config, now):
        return _fill(config.queue_message, wait=config.expected_wait)
    return _fill(config.after_hours_message, hours=config.business_hours)


class HandoffDesk:
    """The hub side of hand-off: escalations, their state, and what people see.

    Built before the hub (the stages hold it); :meth:`connect` gives it the
    hub and, when agents exist, a board. Without a board the desk is
    unavailable and the stages say so instead of promising a person.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.hub: Hub | None = None
        self.board: AgentBoard | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    def connect(self, hub: Hub, board: AgentBoard | None) -> None:
        self.hub, self.board = hub, board

    @property
    def config(self) -> HandoffConfig:
        assert self.hub is not None, "desk not connected"
        return self.hub.config.handoff

    @property
    def available(self) -> bool:
        return self.board is not None and self.hub is not None and bool(self.config.agents_channel)

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks.setdefault(conversation_id, asyncio.Lock())

    # -- records -----------------------------------------------------------------
    async def escalation(self, conversation_id: str) -> Escalation | None:
        data = await self.store.get(_escalation_key(conversation_id))
        return Escalation.from_json(data) if data else None

    async def escalation_for_thread(self, board_channel: str, thread: str) -> Escalation | None:
        """The escalation a board thread belongs to (closed ones too), if any.

        A conversation escalated again gets a new thread; an old thread then
        gives its escalation as closed, so late replies there go nowhere.
        """
        conversation_id = await self.store.get(_thread_key(board_channel, thread))
        escalation = await self.escalation(conversation_id) if conversation_id else None
        if escalation is not None and escalation.thread != thread:
            return escalation.evolve(status="returned", thread=thread, board_channel=board_channel)
        return escalation

    async def _save(self, escalation: Escalation) -> None:
        await self.store.set(_escalation_key(escalation.conversation_id), escalation.to_json())
        if escalation.open:
            await self.store.add_member(OPEN_KEY, escalation.conversation_id)
        else:
            await self.store.remove_member(OPEN_KEY, escalation.conversation_id)

    async def _set_status(self, conversation_id: str, **changes: Any) -> Conversation | None:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is not None:
            conversation = conversation.evolve(**changes)
            await self.store.save_conversation(conversation)
        return conversation

    # -- hub side --------------------------------------------------------------------
    async def on_decision(self, turn: Turn, decision: Decision) -> None:
        """Hub decision listener: apply a decision that asks for a human."""
        if decision.handoff is None or turn.dry_run or turn.conversation.status == "handoff":
            return
        if not self.available:
            logger.warning("hand-off requested (%s) but no agents channel", decision.handoff.reason)
            return
        told = bool(decision.text)
        await self.escalate(turn.conversation, decision.handoff, reply_to=None if told else turn.message)

    async def escalate(
        self,
        conversation: Conversation,
        request: HandoffRequest,
        *,
        reply_to: InboundMessage | None = None,
    ) -> Escalation:
        """Hand ``conversation`` to the agents: record, announce, and (as an answer
        to ``reply_to``, when given) tell the customer they are in the queue."""
        async with self._lock(conversation.id):
            await self._set_status(conversation.id, status="handoff", failures=0)
            escalation = Escalation(
                conversation_id=conversation.id,
                address=conversation.address,
                channel=conversation.channel,
                customer=conversation.user_name or "Customer",
                reason=request.reason,
                queue=request.queue,
            )
            await self._save(escalation)
            escalation = await self._announce(escalation)
        logger.info("conversation %s handed off: %s", conversation.id, request.reason)
        if reply_to is not None:
            text = queue_text(self.config)
            await self._tell(escalation, text, sender="system", reply_to=reply_to.message_id)
        return escalation

    async def _announce(self, escalation: Escalation) -> Escalation:
        """Post the escalation on the board; on failure the reminder loop retries."""
        assert self.board is not None
        lines = self.config.transcript_lines
        transcript = await self.store.transcript(escalation.conversation_id, limit=lines) if lines else []
        try:
            board_channel, thread = await self.board.announce(escalation, transcript)
        except DeliveryError as exc:
            logger.error("escalation %s not announced yet: %s", escalation.conversation_id, exc)
            return escalation
        escalation = escalation.evolve(board_channel=board_channel, thread=thread)
        await self.store.set(_thread_key(board_channel, thread), escalation.conversation_id)
        await self._save(escalation)
        return escalation

    async def forward(self, conversation: Conversation, message: InboundMessage) -> None:
        """A customer message during a hand-off goes to the agents' thread only."""
        escalation = await self.escalation(conversation.id)
        if escalation is None or self.board is None:
            logger.warning("conversation %s in hand-off has no escalation", conversation.id)
            return
        if not escalation.announced:  # the board was down: announce now, with this message
            async with self._lock(conversation.id):
                await self._announce(escalation)
            return
        try:
            await self.board.customer_message(escalation, message)
        except DeliveryError as exc:
            logger.error("customer message not copied to the agents: %s", exc)

    async def _tell(self, escalation: Escalation, text: str, **kwargs: Any) -> bool:
        """Send ``text`` to the customer on their own channel."""
        assert self.hub is not None
        conversation = await self.store.get_conversation(escalation.conversation_id)
        thread = conversation.thread if conversation else None
        message = OutboundMessage(
            channel=escalation.channel,
            conversation_id=escalation.address.split(":", 1)[1],
            text=text,
            thread=thread,
            **kwargs,
        )
        return await self.hub.deliver(message, stage="handoff", reason="hand-off")

    async def _notice(self, escalation: Escalation, text: str, *, loud: bool = False) -> None:
        if self.board is None or not escalation.announced:
            return
        try:
            await self.board.notice(escalation, text, loud=loud)
        except DeliveryError as exc:
            logger.error("notice not posted to the agents: %s", exc)

    async def _refresh(self, escalation: Escalation) -> None:
        if self.board is None or not escalation.announced:
            return
        try:
            await self.board.refresh(escalation)
        except DeliveryError as exc:
            logger.error("escalation message not updated: %s", exc)

    # -- agent side --------------------------------------------------------------------
    async def claim(self, conversation_id: str, agent: Agent) -> Escalation | None:
        """``agent`` takes the conversation; None if it is not open."""
        async with self._lock(conversation_id):
            escalation = await self.escalation(conversation_id)
            if escalation is None or not escalation.open:
                return None
            if escalation.agent_id == agent.id:
                return escalation
            previous = escalation.agent_name
            escalation = escalation.evolve(status="claimed", agent_id=agent.id, agent_name=agent.name)
            await self._save(escalation)
        took = f" (taking over from {previous})" if previous else ""
        await self._notice(escalation, f"Claimed by {agent.name}{took}.")
        await self._refresh(escalation)
        return escalation

    async def relay(self, conversation_id: str, agent: Agent, text: str) -> Escalation | None:
        """An agent's reply, to the customer; the first reply claims. None if closed."""
        escalation = await self.escalation(conversation_id)
        if escalation is None or not escalation.open:
            return None
        if escalation.status == "waiting":
            escalation = await self.claim(conversation_id, agent) or escalation
        sent = await self._tell(escalation, text, sender="agent", sender_name=agent.name)
        if not sent:
            await self._notice(escalation, "That reply could not be delivered to the customer.")
        return escalation

    async def resolve(self, conversation_id: str, agent: Agent) -> Escalation | None:
        """Close as solved: the customer's next message opens a fresh conversation."""
        return await self._close(conversation_id, agent, "resolved")

    async def give_back(self, conversation_id: str, agent: Agent) -> Escalation | None:
        """Close and hand the same conversation back to the bot."""
        return await self._close(conversation_id, agent, "returned")

    async def _close(
        self, conversation_id: str, agent: Agent, status: EscalationStatus
    ) -> Escalation | None:
        async with self._lock(conversation_id):
            escalation = await self.escalation(conversation_id)
            if escalation is None or not escalation.open:
                return None
            escalation = escalation.evolve(status=status, closed_by=agent.name)
            await self._save(escalation)
            resolved = status == "resolved"
            await self._set_status(conversation_id, status="resolved" if resolved else "bot", failures=0)
        text = self.config.resolved_message if resolved else self.config.returned_message
        await self._tell(escalation, text, sender="system")
        what = "Resolved" if resolved else "Returned to the bot"
        await self._notice(escalation, f"{what} by {agent.name}.")
        await self._refresh(escalation)
        return escalation

    # -- reminders -------------------------------------------------------------------
    async def remind_due(self, now: float | None = None) -> int:
        """Re-announce unclaimed escalations older than ``remind_after_s``."""
        if not self.available:
            return 0
        now = time.time() if now is None else now
        reminded = 0
        for conversation_id in sorted(await self.store.members(OPEN_KEY)):
            escalation = await self.escalation(conversation_id)
            if escalation is not None and await self._remind(escalation, now):
                reminded += 1
        return reminded

    async def _remind(self, escalation: Escalation, now: float) -> bool:
        if not escalation.announced:
            async with self._lock(escalation.conversation_id):
                escalation = await self._announce(escalation)
            return False
        since = escalation.reminded_at or escalation.created_at
        if escalation.status != "waiting" or now - since < self.config.remind_after_s:
            return False
        escalation = escalation.evolve(reminded_at=now, reminders=escalation.reminders + 1)
        await self._save(escalation)
        minutes = max(1, round((now - escalation.created_at) / 60))
        await self._notice(escalation, f"Still waiting for an agent ({minutes} min). Can someone claim it?", loud=True)
        await self._tell(escalation, queue_text(self.config), sender="system")
        return True

    @asynccontextmanager
    async def reminders(self) -> AsyncIterator[asyncio.Task[None]]:
        """Run the reminder loop for as long as the context is open."""
        task = asyncio.create_task(self._remind_forever(), name="handoff-reminders")
        try:
            yield task
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _remind_forever(self) -> None:
        while True:
            tick = 1.0
            if self.hub is not None:
                tick = min(max(self.config.remind_after_s / 5, 0.05), 15.0)
            await asyncio.sleep(tick)
            try:
                await self.remind_due()
            except Exception:
                logger.exception("hand-off reminder round failed")


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
        folded = fold(turn.message.text)
        if folded == fold(config.offer_button):
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
