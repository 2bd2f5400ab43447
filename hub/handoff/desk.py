"""The hand-off desk: escalate, forward, relay, claim, close and remind."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from hub.config import Config, HandoffConfig
from hub.conversation import Conversation
from hub.envelope import Address, InboundMessage, OutboundMessage
from hub.errors import DeliveryError
from hub.handoff.escalation import (
    Agent,
    AgentBoard,
    Escalation,
    EscalationStatus,
    queue_text,
)
from hub.ingress import AgentAction
from hub.locks import KeyedLocks
from hub.messages import MessageTexts
from hub.stages import Decision, HandoffRequest, Turn
from hub.store import Keys, Store
from hub.tasks import stop_tasks

if TYPE_CHECKING:
    from hub.hub import Hub

__all__ = ["HandoffDesk"]

logger = logging.getLogger(__name__)


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
        # (conversation id, customer lines, language) -> one line of English for the
        # agents, "" when none (set by the service when an LLM stage exists)
        self.gist: Callable[[str, Sequence[str], str], Awaitable[str]] | None = None
        self._gists: set[asyncio.Task[None]] = set()  # in flight; stopped with the reminders
        self._locks = KeyedLocks()
        # Called after an escalation is resolved and the customer told (feedback/: CSAT).
        self.resolved_listeners: list[Callable[[Escalation], Awaitable[None]]] = []

    def connect(self, hub: Hub, board: AgentBoard | None) -> None:
        self.hub, self.board = hub, board

    @property
    def config(self) -> HandoffConfig:
        return self.hub_config.handoff

    @property
    def hub_config(self) -> Config:
        """The hub's whole config (``[messages]`` and ``[handoff]``), as of now."""
        assert self.hub is not None, "desk not connected"
        return self.hub.config

    @property
    def available(self) -> bool:
        return self.board is not None and self.hub is not None and bool(self.config.agents_channel)

    def _lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(conversation_id)

    # -- records -----------------------------------------------------------------
    async def escalation(self, conversation_id: str) -> Escalation | None:
        data = await self.store.get(Keys.escalation(conversation_id))
        return Escalation.from_json(data) if data else None

    async def escalation_for_thread(self, board_channel: str, thread: str) -> Escalation | None:
        """The escalation a board thread belongs to (closed ones too), if any.

        A conversation escalated again gets a new thread; an old thread then
        gives its escalation as closed, so late replies there go nowhere.
        """
        conversation_id = await self.store.get(Keys.escalation_thread(board_channel, thread))
        escalation = await self.escalation(conversation_id) if conversation_id else None
        if escalation is not None and escalation.thread != thread:
            return escalation.evolve(status="returned", thread=thread, board_channel=board_channel)
        return escalation

    async def _save(self, escalation: Escalation) -> None:
        await self.store.set(Keys.escalation(escalation.conversation_id), escalation.to_json())
        if escalation.open:
            await self.store.add_member(Keys.open_escalations(), escalation.conversation_id)
        else:
            await self.store.remove_member(Keys.open_escalations(), escalation.conversation_id)

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
        if not self.available:  # unstaffed_middleware has already told the customer
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
                language=str(conversation.data.get("language") or ""),
            )
            await self._save(escalation)
            escalation = await self._announce(escalation)
        logger.info("conversation %s handed off: %s", conversation.id, request.reason)
        if reply_to is not None:
            text = queue_text(self.hub_config, texts=self._texts(escalation))
            await self._tell(escalation, text, sender="system", reply_to=reply_to.message_id)
        self._start_gist(escalation)
        return escalation

    def _start_gist(self, escalation: Escalation) -> None:
        """A customer not writing English: an English gist line is added to the
        escalation in the background (neither the customer nor the agents wait)."""
        language = escalation.language
        if self.gist is None or not language or language.split("-")[0] == "en" or self.board is None:
            return
        task = asyncio.create_task(self._add_gist(escalation, language), name="handoff-gist")
        self._gists.add(task)
        task.add_done_callback(self._gists.discard)

    async def _add_gist(self, escalation: Escalation, language: str) -> None:
        assert self.gist is not None
        try:
            await self._write_gist(escalation, language)
        except Exception as exc:  # the gist is a courtesy: its failure costs nothing else
            logger.warning("escalation %s: no gist (%s)", escalation.conversation_id, type(exc).__name__)

    async def _write_gist(self, escalation: Escalation, language: str) -> None:
        assert self.gist is not None
        entries = await self.store.transcript(escalation.conversation_id, limit=self.config.transcript_lines or 10)
        lines = [e.text for e in entries if e.sender == "customer" and e.text][-5:]
        gist = await self.gist(escalation.conversation_id, lines, language)
        if not gist:
            return
        async with self._lock(escalation.conversation_id):
            current = await self.escalation(escalation.conversation_id)
            if current is None or not current.open or current.created_at != escalation.created_at:
                return
            current = current.evolve(gist=gist)
            await self._save(current)
        if current.announced:
            await self._refresh(current)

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
        await self.store.set(Keys.escalation_thread(board_channel, thread), escalation.conversation_id)
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

    async def tell(self, escalation: Escalation, text: str, **kwargs: Any) -> bool:
        """Send ``text`` to the customer on their own channel (``kwargs``: the
        OutboundMessage's other fields)."""
        return await self._tell(escalation, text, **kwargs)

    async def _tell(self, escalation: Escalation, text: str, **kwargs: Any) -> bool:
        """Send ``text`` to the customer on their own channel."""
        assert self.hub is not None
        conversation = await self.store.get_conversation(escalation.conversation_id)
        thread = conversation.thread if conversation else None
        message = OutboundMessage(
            channel=escalation.channel,
            conversation_id=Address.parse(escalation.address).conversation_id,
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
    async def submit(self, action: AgentAction) -> bool:
        """An agent's reply or button, made durable in the hub's ingress before the
        platform is acknowledged; :meth:`apply` runs it in the customer's lane."""
        assert self.hub is not None, "desk not connected"
        return await self.hub.submit_action(action)

    async def apply(self, action: AgentAction) -> None:
        """Run an agent action from the ingress (once, in order with the customer)."""
        agent = Agent(id=action.agent_id, name=action.agent_name)
        if action.verb == "reply":
            done = await self.relay(action.conversation_id, agent, action.text)
        else:
            operation = {"claim": self.claim, "resolve": self.resolve, "return": self.give_back}
            done = await operation[action.verb](action.conversation_id, agent)
        if done is None:
            logger.info("agent %s on %s: the escalation is closed", action.verb,
                        action.conversation_id)

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
            await self.store.set_conversation_status(conversation_id, "agent")  # the index
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
        texts = self._texts(escalation)
        text = texts.resolved if resolved else texts.returned
        await self._tell(escalation, text, sender="system")
        what = "Resolved" if resolved else "Returned to the bot"
        await self._notice(escalation, f"{what} by {agent.name}.")
        await self._refresh(escalation)
        if resolved:
            for listener in self.resolved_listeners:
                await listener(escalation)
        return escalation

    # -- reminders -------------------------------------------------------------------
    async def remind_due(
        self, now: float | None = None, escalations: list[Escalation] | None = None
    ) -> int:
        """Re-announce unclaimed escalations older than ``remind_after_s``.

        ``escalations`` are the open ones as read at the start of the round (read now
        when not given); each is read again under its lock before it is reminded.
        """
        if not self.available:
            return 0
        now = time.time() if now is None else now
        if escalations is None:
            escalations = await self._open_escalations()
        reminded = 0
        for escalation in escalations:
            if not self._mine(escalation):
                continue  # with several hub processes, the partition's owner reminds
            if await self._remind(escalation, now):
                reminded += 1
        return reminded

    async def _open_escalations(self) -> list[Escalation]:
        found = []
        for conversation_id in sorted(await self.store.members(Keys.open_escalations())):
            escalation = await self.escalation(conversation_id)
            if escalation is not None:
                found.append(escalation)
        return found

    def _mine(self, escalation: Escalation) -> bool:
        return self.hub is None or self.hub.owns(escalation.address)

    async def _remind(self, escalation: Escalation, now: float) -> bool:
        if not escalation.announced:
            async with self._lock(escalation.conversation_id):
                escalation = await self._announce(escalation)
            return False
        if not self._remind_is_due(escalation, now):
            return False
        async with self._lock(escalation.conversation_id):  # a claim may have landed since
            current = await self.escalation(escalation.conversation_id)
            if current is None or not self._remind_is_due(current, now):
                return False
            escalation = current.evolve(reminded_at=now, reminders=current.reminders + 1)
            await self._save(escalation)
            # Told inside the lock: a claim that follows finds the reminder already sent.
            await self._say_still_waiting(escalation, now)
        return True

    def _remind_is_due(self, escalation: Escalation, now: float) -> bool:
        since = escalation.reminded_at or escalation.created_at
        return escalation.status == "waiting" and now - since >= self.config.remind_after_s

    async def _say_still_waiting(self, escalation: Escalation, now: float) -> None:
        minutes = max(1, round((now - escalation.created_at) / 60))
        await self._notice(escalation, f"Still waiting for an agent ({minutes} min). Can someone claim it?", loud=True)
        await self._tell(escalation, queue_text(self.hub_config, texts=self._texts(escalation)), sender="system")

    def _texts(self, escalation: Escalation) -> MessageTexts:
        """``[messages]`` in the customer's language, as detected when they were handed off."""
        return self.hub_config.messages.for_language(escalation.language or None)

    @asynccontextmanager
    async def reminders(self) -> AsyncIterator[asyncio.Task[None]]:
        """Run the reminder loop for as long as the context is open."""
        task = asyncio.create_task(self._remind_forever(), name="handoff-reminders")
        try:
            yield task
        finally:
            await stop_tasks([task, *self._gists])

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
