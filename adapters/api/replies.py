"""Waiting for a message's answer, on whichever hub process decides it.

The hub calls :meth:`ReplyBook.on_settled` once a message's outbox has been
sent (before the entry is acked). The book keeps the answer in the store
(``Keys.api_reply``, a day), so a request waiting on another process, or a
client retrying with the same message id, gets the same answer; waiters on
this process are woken at once, the others poll the store. Partial answers
(``delta``) reach only the waiters on the process that decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from hub.envelope import Button, InboundMessage, OutboundMessage
from hub.ingress import Outbox
from hub.stages import Decision, Turn
from hub.store import Keys, Store

__all__ = ["Answer", "Event", "Reply", "ReplyBook", "Waiter"]

logger = logging.getLogger(__name__)

ANSWER_TTL_S = 86_400  # a retry with the same message id gets the same answer this long
POLL_S = 0.25  # how often a waiter looks in the store (answers decided on another process)
REMEMBER_DECISIONS = 1024  # decisions kept until their outbox is sent (normally milliseconds)


@dataclass(frozen=True, slots=True)
class Reply:
    """One message sent in answer to a customer message (or later, by an agent)."""

    id: str
    sender: str
    text: str
    name: str = ""
    buttons: tuple[Button, ...] = ()
    stage: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, message: OutboundMessage, stage: str | None = None,
           reason: str | None = None) -> Reply:
        return cls(message.message_id, message.sender, message.text, message.sender_name,
                   message.buttons, stage, reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "name": self.name or None,
            "text": self.text,
            "buttons": [{"label": b.label, "value": b.value} for b in self.buttons],
            "stage": self.stage,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        buttons = tuple(Button(b["label"], b["value"]) for b in data.get("buttons", ()))
        return cls(data["id"], data["from"], data["text"], data.get("name") or "", buttons,
                   data.get("stage"), data.get("reason"))


@dataclass(frozen=True, slots=True)
class Answer:
    """What one customer message was answered with: the decision and its replies."""

    stage: str | None
    reason: str | None
    replies: tuple[Reply, ...]

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "reason": self.reason,
                "replies": [r.to_json() for r in self.replies]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(data.get("stage"), data.get("reason"),
                   tuple(Reply.from_json(r) for r in data.get("replies", ())))


@dataclass(frozen=True, slots=True)
class Event:
    """What a waiter hears: a partial answer, a message sent, or the settled answer."""

    kind: Literal["delta", "message", "settled"]
    text: str = ""
    reply: Reply | None = None
    answer: Answer | None = None


class Waiter:
    """One request waiting for the answer to ``message_id``."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.seen: list[Reply] = []  # messages sent in answer so far, on this process

    def put(self, event: Event) -> None:
        if event.kind == "message" and event.reply is not None:
            self.seen.append(event.reply)
        self.events.put_nowait(event)

    async def next(self, timeout: float) -> Event | None:
        try:
            return await asyncio.wait_for(self.events.get(), timeout)
        except TimeoutError:
            return None


class ReplyBook:
    """Answers of the API channel's messages, and the requests waiting for them."""

    def __init__(self, store: Store, channel: str) -> None:
        self.store = store
        self.channel = channel
        self._waiters: dict[str, set[Waiter]] = {}
        self._decisions: OrderedDict[str, Decision] = OrderedDict()

    # -- hub listeners -------------------------------------------------------------
    async def on_decision(self, turn: Turn, decision: Decision) -> None:
        if turn.message.channel != self.channel or turn.dry_run:
            return
        self._decisions[turn.message.message_id] = decision
        while len(self._decisions) > REMEMBER_DECISIONS:
            self._decisions.popitem(last=False)

    async def on_settled(self, message: InboundMessage, outbox: Outbox) -> None:
        if message.channel != self.channel:
            return
        decision = self._decisions.pop(message.message_id, None)
        replies = tuple(Reply.of(d.message, d.stage, d.reason) for d in outbox.deliveries
                        if d.message.reply_to == message.message_id)
        stage = decision.stage if decision else next((r.stage for r in replies), None)
        reason = decision.reason if decision else next((r.reason for r in replies), None)
        answer = Answer(stage, reason, replies)
        await self.store.set(Keys.api_reply(message.message_id), answer.to_json(), ANSWER_TTL_S)
        self._tell(message.message_id, Event("settled", answer=answer))

    # -- what the adapter hears ----------------------------------------------------
    def delta(self, message_id: str, text: str) -> None:
        self._tell(message_id, Event("delta", text=text))

    def sent(self, message: OutboundMessage) -> None:
        if message.reply_to is not None:
            self._tell(message.reply_to, Event("message", reply=Reply.of(message)))

    def _tell(self, message_id: str, event: Event) -> None:
        for waiter in self._waiters.get(message_id, ()):
            waiter.put(event)

    # -- waiting -------------------------------------------------------------------
    async def answer(self, message_id: str) -> Answer | None:
        data = await self.store.get(Keys.api_reply(message_id))
        return Answer.from_json(data) if data else None

    @contextmanager
    def watch(self, message_id: str) -> Iterator[Waiter]:
        """A waiter registered for ``message_id`` (register before submitting: no gap)."""
        waiter = Waiter(message_id)
        self._waiters.setdefault(message_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(message_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[message_id]

    async def events(self, waiter: Waiter, timeout_s: float) -> AsyncIterator[Event]:
        """The waiter's events until the settled one (or until ``timeout_s``), polling the
        store for an answer settled on another process."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (left := deadline - loop.time()) > 0:
            event = await waiter.next(min(POLL_S, left))
            if event is None:
                answer = await self.answer(waiter.message_id)
                if answer is None:
                    continue
                event = Event("settled", answer=answer)
            yield event
            if event.kind == "settled":
                return
