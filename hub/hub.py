"""The hub: accepts envelopes, runs the stage chain, records and delivers replies."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

from feedback.rating import Rating
from hub import edits
from hub.adapter import Adapter, StepSender
from hub.config import Config
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import Address, InboundMessage, OutboundMessage
from hub.errors import DeliveryError, HubDraining, PermanentDeliveryError, StoreError
from hub.ingress import (
    AgentAction,
    Consumer,
    Delivery,
    Entry,
    Fence,
    IngressLog,
    Leases,
    LocalLeases,
    MemoryLog,
    Outbox,
    Work,
    partition_of,
)
from hub.lanes import overtaken
from hub.language import LanguageDetector
from hub.logs import conversation_scope, log_address
from hub.metrics import Metrics
from hub.stages import Decision, Stage, StageChain, Turn
from hub.store import RateLimit, Store
from hub.store.steps import Step
from hub.typing_indicator import TypingIndicator
from privacy.mask import masked_entry

__all__ = [
    "ActionHandler",
    "FeedbackHooks",
    "Handler",
    "Hub",
    "Middleware",
    "RatingListener",
    "SettledListener",
]

logger = logging.getLogger(__name__)

Handler = Callable[[Turn], Awaitable[Decision]]
Middleware = Callable[[Handler, Turn], Awaitable[Decision]]
ActionHandler = Callable[[AgentAction], Awaitable[None]]
# Called once a message of its channel has had its outbox sent, before the entry is
# acked (on the process that handled it; again if a redelivery sends the outbox
# again). A channel with one keeps its entries' acks out of the commit.
SettledListener = Callable[[InboundMessage, Outbox], Awaitable[None]]
# Called after a customer's rating is stored (feedback/).
RatingListener = Callable[[Rating], Awaitable[None]]


class FeedbackHooks(Protocol):
    """Where customer feedback plugs into :meth:`Hub.handle` (``feedback.FeedbackDesk``)."""

    async def intercept(
        self, message: InboundMessage, current: Conversation | None
    ) -> Decision | None:
        """A decision if ``message`` is feedback (a rating press), handled; else None."""
        ...

    async def offer(self, turn: Turn, decision: Decision, reply: OutboundMessage) -> OutboundMessage:
        """``reply``, with a rating prompt when this answer should offer one."""
        ...

# While an entry is being decided, what it wants sent is collected here (not sent):
# the hub commits it to the outbox first, so a crash never decides an entry twice.
_COLLECTED: ContextVar[list[Delivery] | None] = ContextVar("collected_deliveries", default=None)

TRANSCRIPT_LOOKBACK = 50  # how far back a redelivered entry looks for what it already wrote

TYPING_DELAY_S = 0.15  # show "typing" only for answers slower than this

async def errors_middleware(handler: Handler, turn: Turn) -> Decision:
    """Outermost: an exception becomes an apology and a logged error, never a drop.

    A store error is not a reason to apologise: the entry stays pending and is
    retried once the store answers again (see :mod:`hub.ingress.consumer`).
    """
    try:
        return await handler(turn)
    except StoreError:
        raise
    except Exception as exc:
        logger.exception("stage chain failed: %s", type(exc).__name__)
        return Decision(
            stage="error",
            reason=f"{type(exc).__name__} while deciding",
            text=turn.texts.apology,
            helped=False,
        )


class Hub:
    """The asyncio service at the centre.

    Adapters call :meth:`submit` (the :class:`~hub.adapter.Ingress`): the message
    is deduplicated and made durable in the ingress log in one step before
    ``submit`` returns. The consumer hands each entry of the partitions this
    process owns to its conversation's lane, where :meth:`_process` decides it
    (:meth:`handle`: conversation, transcript, stages), commits what it wants
    sent to the outbox under the partition's fence, sends it, and acks.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        stages: Sequence[Stage],
        *,
        metrics: Metrics | None = None,
        middleware: Sequence[Middleware] = (),
        log: IngressLog | None = None,
        leases: Leases | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.chain = StageChain(stages)
        self.metrics = metrics or Metrics()
        self.middleware = [errors_middleware, *middleware]
        self.adapters: dict[str, Adapter] = {}
        self._step_senders: dict[str, StepSender] = {}  # the adapters that send in a commit
        self.decision_listeners: list[Callable[[Turn, Decision], Awaitable[None]]] = []
        self.settled_listeners: dict[str, list[SettledListener]] = {}  # by channel
        self.rating_listeners: list[RatingListener] = []
        self.feedback: FeedbackHooks | None = None
        self.typing_delay_s = TYPING_DELAY_S
        self.log: IngressLog = log or MemoryLog(config.cluster.partitions)
        self.leases: Leases = leases or LocalLeases(self.log.partitions)
        self.action_handler: ActionHandler | None = None
        self.languages = LanguageDetector(config.languages.supported, config.languages.default)
        self._consumer: Consumer | None = None
        self._closing = False

    # -- wiring ------------------------------------------------------------------
    def register(self, adapter: Adapter) -> None:
        self.adapters[adapter.name] = adapter
        if isinstance(adapter, StepSender):  # checked once: a Protocol check is slow
            self._step_senders[adapter.name] = adapter

    async def apply_config(self, config: Config) -> None:
        """Swap in a new config; stages that keep state rebuild what changed."""
        old, self.config = self.config, config
        if config.languages != old.languages:  # loaded off the loop, then swapped in
            languages = LanguageDetector(config.languages.supported, config.languages.default)
            await asyncio.to_thread(languages.warm_up)
            self.languages = languages
        for stage in self.chain.stages:
            reconfigure = getattr(stage, "reconfigure", None)
            if reconfigure is not None:
                await reconfigure(old, config)

    # -- ingress -------------------------------------------------------------------
    async def start(self) -> None:
        """Start consuming (taking over this process's partitions first). Idempotent."""
        if self._consumer is not None:
            return
        await asyncio.to_thread(self.languages.warm_up)  # seconds of model loading, not on the loop
        cluster = self.config.cluster
        self._consumer = Consumer(
            self.log,
            self.leases,
            self._process,
            dead_lettered=self._dead_lettered,
            max_deliveries=cluster.max_deliveries,
            events=self.metrics.ingress_events(),
        )
        await self._consumer.start()

    async def submit(self, message: InboundMessage, limits: Sequence[RateLimit] = ()) -> bool:
        """Accept a message unless it is a duplicate: durable once this returns True.

        With ``limits``, a token is taken from each first, in the same atomic step,
        or RateLimited is raised and nothing is accepted. Raises StoreUnavailable
        when it cannot take it (HubDraining while shutting down).
        """
        self._refuse_if_closing()
        await self.start()
        guard = self.store.take_tokens_step(limits) if limits else None
        work = Work.of_message(message)
        if not await self.log.enqueue(work, self.config.store.dedupe_ttl_s, guard):
            self.metrics.child(self.metrics.duplicates, message.channel).inc()
            logger.info("duplicate %s dropped", message.dedupe_key)
            return False
        self.metrics.child(self.metrics.messages_in, message.channel).inc()
        return True

    async def submit_action(self, action: AgentAction) -> bool:
        """Accept an agent's action on a conversation, ordered with the customer's messages."""
        self._refuse_if_closing()
        await self.start()
        accepted = await self.log.enqueue(Work.of_action(action), self.config.store.dedupe_ttl_s)
        if not accepted:
            logger.info("duplicate agent event %s dropped", action.event_id)
        return accepted

    async def ingress_health(self) -> dict[str, Any]:
        """This process's partitions, their lag and pending entries (and the gauges)."""
        owned = self.leases.owned()
        self.metrics.partitions_owned.set(len(owned))
        try:
            stats = await self.log.stats(owned)
        except StoreError as exc:
            return {"status": "down", "partitions": len(owned), "error": str(exc)}
        self.metrics.ingress_lag.set(stats.lag)
        self.metrics.ingress_pending.set(stats.pending)
        return {
            "status": "ok" if self._consumer is not None else "starting",
            "partitions": len(owned),
            "lag": stats.lag,
            "pending": stats.pending,
            "in_flight": self._consumer.in_flight if self._consumer else 0,
            "dead_letters": stats.dead_letters,
        }

    def owns(self, address: str) -> bool:
        """True if this process holds the lease of the address's partition."""
        return partition_of(address, self.log.partitions) in self.leases.owned()

    async def drain(self) -> None:
        """Wait until every accepted entry has been handled (tests)."""
        if self._consumer is not None:
            await self._consumer.join()

    def _refuse_if_closing(self) -> None:
        if self._closing:
            raise HubDraining("this hub is shutting down; send it again (another process takes it)")

    async def close(self, drain_s: float | None = None) -> bool:
        """Stop taking work, finish what is in flight (``[cluster] drain_s``), release leases."""
        self._closing = True
        if self._consumer is None:
            return True
        consumer, self._consumer = self._consumer, None
        limit = self.config.cluster.drain_s if drain_s is None else drain_s
        started = time.monotonic()
        drained = await consumer.stop(limit)
        logger.info("drained in %.1f s (%s); leases released",
                    time.monotonic() - started, "all done" if drained else "some left pending")
        return drained

    # -- one entry -------------------------------------------------------------------
    async def _process(self, entry: Entry, fence: Fence) -> bool:
        """Decide once, commit the outbox under the fence, send, ack.

        The commit also writes the replies' transcript lines and makes every
        delivery that is a store write (webchat); when that leaves nothing to
        send and nobody to tell, it acks the entry too, all in one step.
        False if the fence no longer holds (the partition changed hands).
        """
        assert entry.work is not None
        started = time.perf_counter()
        is_message = entry.work.kind == "message"
        channel = Address.parse(entry.address).channel if is_message else ""
        listeners = self.settled_listeners.get(channel, []) if is_message else []
        with conversation_scope(entry.address):
            outbox = await self.log.outbox(entry) if entry.redelivered else None
            acked = False
            if outbox is None:
                outbox, steps = self._outbox_of(await self._decide_entry(entry), fence)
                acked = not listeners and all(d.committed for d in outbox.deliveries)
                ttl = self.config.store.dedupe_ttl_s
                # Acked with its commit, the entry can only come back as a retry of a
                # commit whose answer was lost: the record that it is done will do.
                kept = Outbox((), outbox.generation, transcribed=True) if acked else outbox
                if not await self.log.commit(entry, kept, fence, ttl, steps, ack=acked):
                    self.metrics.fenced.inc()
                    logger.warning("partition %d has a new owner; entry %s left to it",
                                   entry.partition, entry.id)
                    return False
                for delivery in outbox.deliveries:
                    if delivery.committed:
                        self._count_sent(delivery.message)
            for delivery in outbox.deliveries:
                if not delivery.committed:
                    await self._send(delivery, redelivered=entry.redelivered,
                                     transcribed=outbox.transcribed)
            for listener in listeners:
                await listener(entry.work.message(), outbox)
            if not acked:
                await self.log.ack(entry)
        if is_message:
            self.metrics.child(self.metrics.latency, channel).observe(time.perf_counter() - started)
        return True

    def _outbox_of(self, deliveries: list[Delivery], fence: Fence) -> tuple[Outbox, list[Step]]:
        """The outbox, and the steps its commit makes: each delivery's transcript line,
        and the delivery itself where its channel sends through the store."""
        steps: list[Step] = []
        kept: list[Delivery] = []
        for delivery in deliveries:
            if delivery.conversation_id is not None:
                steps.append(self.store.append_step(
                    delivery.conversation_id, self._masked(self._transcript_line(delivery)),
                    self.config.store.transcript_max, self.config.privacy.retention_s,
                ))
            sender = self._step_senders.get(delivery.message.channel)
            if sender is not None:
                steps.append(sender.send_step(delivery.message))
                delivery = dataclasses.replace(delivery, committed=True)
            kept.append(delivery)
        return Outbox(tuple(kept), fence.generation, transcribed=True), steps

    async def _decide_entry(self, entry: Entry) -> list[Delivery]:
        """Run the entry's work with every delivery collected, not sent."""
        assert entry.work is not None
        collected: list[Delivery] = []
        token = _COLLECTED.set(collected)
        try:
            if entry.work.kind == "message":
                await self.handle(entry.work.message(), redelivered=entry.redelivered)
            elif self.action_handler is not None:
                await self.action_handler(entry.work.action())
            else:
                logger.warning("agent action %s dropped: no hand-off desk", entry.id)
        finally:
            _COLLECTED.reset(token)
        return collected

    async def _dead_lettered(self, entry: Entry, reason: str) -> None:
        self.metrics.child(self.metrics.errors, "dead_letter").inc()
        if entry.work is not None and entry.work.kind == "message":
            await self._apologise(entry.work.message())

    # -- one message -----------------------------------------------------------------
    async def handle(self, message: InboundMessage, *, redelivered: bool = False) -> Decision:
        """Run one accepted message through the stages and deliver the reply."""
        current = await self.store.conversation_at(message.address)
        if self.feedback is not None:
            taken = await self.feedback.intercept(message, current)
            if taken is not None:  # a rating: no conversation, transcript line or stage
                return taken
        conversation = await self._open_conversation(message, current)
        conversation, language = await self._language_of(message, conversation)
        max_len = self.config.store.transcript_max
        if not (redelivered and await self._in_transcript(conversation.id, message.message_id)):
            await self._transcribe(conversation.id, TranscriptEntry.inbound(message, language))
        settled = await edits.settle(self.store, conversation, message, max_len)
        if settled is not None:  # an edit of a message already answered: recorded only
            self.metrics.child(self.metrics.decisions, settled.stage).inc()
            logger.info("decision %s: %s", settled.stage, settled.reason)
            return settled
        typing = TypingIndicator(self.adapters.get(message.channel), message, self.typing_delay_s)
        turn = await self.new_turn(message, conversation, language=language)
        decision = await self.decide(turn)
        went_ahead = overtaken()
        if went_ahead:  # newer messages of this conversation were handled meanwhile
            reason = f"{decision.reason}; {went_ahead} newer message(s) went ahead ([llm] hold_s)"
            details = {**decision.details, "overtaken_by": went_ahead}
            decision = dataclasses.replace(decision, reason=reason, details=details)
        await typing.stop(replied=bool(decision.text))
        await self.record(turn, decision)
        if decision.text:
            # the customer's language rides along, for a channel whose own page follows it (webchat)
            spoken = {"language": turn.language} if not self.languages.single else None
            reply = OutboundMessage.reply(
                message, decision.text, buttons=decision.buttons, metadata=spoken,
                sources=decision.sources,
            )
            if self.feedback is not None and not turn.dry_run:
                reply = await self.feedback.offer(turn, decision, reply)
            await self.deliver(
                reply, stage=decision.stage, reason=decision.reason, conversation=turn.conversation,
                details=evidence(turn, decision),
            )
        for listener in self.decision_listeners:
            await listener(turn, decision)
        return decision

    async def _language_of(
        self, message: InboundMessage, conversation: Conversation
    ) -> tuple[Conversation, str]:
        """The message's language; the conversation remembers it when it changes
        (with one supported language there is nothing to remember: no write)."""
        current = conversation.data.get("language")
        language = self.languages.detect(message.text, current)
        self.metrics.child(self.metrics.languages, language).inc()
        if language != current and not self.languages.single:
            if current is not None:
                logger.info("language switched from %s to %s", current, language)
            conversation = dataclasses.replace(
                conversation, data={**conversation.data, "language": language}
            )
            await self.store.save_conversation(conversation)
        return conversation, language

    async def new_turn(
        self,
        message: InboundMessage,
        conversation: Conversation,
        *,
        dry_run: bool = False,
        language: str | None = None,
    ) -> Turn:
        limit = max(1, self.config.llm.history_turns * 2 + 1)
        if language is None:  # `hub ask`: detected here, nothing saved
            language = self.languages.detect(message.text, conversation.data.get("language"))

        async def history() -> list[TranscriptEntry]:
            return await self.store.transcript(conversation.id, limit=limit)

        return Turn(
            message=message,
            conversation=conversation,
            config=self.config,
            history_source=history,
            tags=set(conversation.tags),
            on_delta=None if dry_run else self._delta_sink(message),
            dry_run=dry_run,
            language=language,
            trace=[f"language: {language}"],
        )

    async def dry_run(self, message: InboundMessage) -> dict[str, Any]:
        """The decision for ``message`` in a throwaway conversation, nothing sent or saved
        (``hub ask``, the console's Try it): the decision as a dict, its trace and tags."""
        turn = await self.new_turn(message, Conversation.start(message), dry_run=True)
        decision = await self.decide(turn)
        result = decision.as_dict()
        result["trace"] = list(turn.trace)
        result["tags"] = sorted(turn.tags)
        return result

    def _delta_sink(self, message: InboundMessage) -> Callable[[str], Awaitable[None]] | None:
        """Partial answers, for adapters that can show them (a ``send_delta`` method)."""
        send_delta = getattr(self.adapters.get(message.channel), "send_delta", None)
        if send_delta is None:
            return None

        async def sink(text: str) -> None:
            await send_delta(message, text)

        return sink

    async def decide(self, turn: Turn) -> Decision:
        """The stage chain wrapped in the middleware, outermost first."""
        handler: Handler = self.chain
        for middleware in reversed(self.middleware):
            handler = _bind(middleware, handler)
        started = time.perf_counter()
        decision = await handler(turn)
        self.metrics.child(self.metrics.decisions, decision.stage).inc()
        if logger.isEnabledFor(logging.INFO):  # no per-message extra when INFO is off
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            logger.info("decision %s: %s", decision.stage, decision.reason,
                        extra={"stage": decision.stage, "latency_ms": latency_ms})
        return decision

    async def record(self, turn: Turn, decision: Decision) -> None:
        """Keep what the turn learnt about the conversation (tags, failures)."""
        conversation = turn.conversation
        failures = 0 if decision.helped else conversation.failures + 1
        tags = tuple(sorted(turn.tags))
        if failures != conversation.failures or tags != conversation.tags:
            if overtaken():  # a newer message may have changed it meanwhile: build on that
                conversation = await self.store.get_conversation(conversation.id) or conversation
                failures = 0 if decision.helped else conversation.failures + 1
                tags = tuple(sorted({*conversation.tags, *turn.tags}))
            conversation = conversation.evolve(failures=failures, tags=tags)
            await self.store.save_conversation(conversation)
            turn.conversation = conversation

    async def conversation_for(self, message: InboundMessage) -> Conversation:
        """The open conversation at the message's address, or a new one."""
        return await self._open_conversation(message, await self.store.conversation_at(message.address))

    async def _open_conversation(
        self, message: InboundMessage, current: Conversation | None
    ) -> Conversation:
        if current is not None and current.status != "resolved":
            return current
        conversation = Conversation.start(message, linked_from=current.id if current else None)
        await self.store.save_conversation(conversation)
        return conversation

    # -- outbound --------------------------------------------------------------------
    async def deliver(
        self,
        message: OutboundMessage,
        *,
        stage: str | None = None,
        reason: str | None = None,
        conversation: Conversation | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Record ``message`` in its transcript and send it; True if it was sent.

        While an entry is being decided, the message is only collected (and
        True returned): it is sent once the entry's outbox is committed.
        """
        if conversation is None:
            conversation = await self.store.conversation_at(message.address)
        delivery = Delivery(message, conversation.id if conversation else None, stage, reason, details)
        collected = _COLLECTED.get()
        if collected is not None:
            collected.append(delivery)
            return True
        return await self._send(delivery, redelivered=False)

    async def _send(
        self, delivery: Delivery, *, redelivered: bool, transcribed: bool = False
    ) -> bool:
        """Send one delivery, writing its transcript line first unless the commit did
        (``transcribed``) or an earlier delivery of a redelivered entry did."""
        message, conversation_id = delivery.message, delivery.conversation_id
        if conversation_id is not None and not transcribed and not (
            redelivered and await self._in_transcript(conversation_id, message.message_id)
        ):
            await self._transcribe(conversation_id, self._transcript_line(delivery))
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            logger.warning("no adapter for channel %s; message kept in transcript", message.channel)
            return False
        try:
            await adapter.send(message)
        except PermanentDeliveryError as exc:
            await self._delivery_failed(conversation_id, message, exc, permanent=True)
            return False
        except DeliveryError as exc:
            await self._delivery_failed(conversation_id, message, exc, permanent=False)
            return False
        self._count_sent(message)
        return True

    def _count_sent(self, message: OutboundMessage) -> None:
        self.metrics.child(self.metrics.messages_out, message.channel, message.sender).inc()

    @staticmethod
    def _transcript_line(delivery: Delivery) -> TranscriptEntry:
        return TranscriptEntry.outbound(
            delivery.message, stage=delivery.stage, reason=delivery.reason,
            details=delivery.details,
        )

    def _masked(self, entry: TranscriptEntry) -> TranscriptEntry:
        """As the transcript keeps it (``[privacy] mask_transcripts``); the conversation
        index masks its preview when it is read, either way."""
        return masked_entry(entry) if self.config.privacy.mask_transcripts else entry

    async def _transcribe(self, conversation_id: str, entry: TranscriptEntry) -> None:
        await self.store.append(
            conversation_id, self._masked(entry), self.config.store.transcript_max,
            self.config.privacy.retention_s,
        )

    async def _in_transcript(self, conversation_id: str, entry_id: str) -> bool:
        """Did an earlier delivery of this entry already write ``entry_id``? (redeliveries only)"""
        recent = await self.store.transcript(conversation_id, limit=TRANSCRIPT_LOOKBACK)
        return any(e.id == entry_id for e in recent)

    async def _delivery_failed(
        self,
        conversation_id: str | None,
        message: OutboundMessage,
        exc: DeliveryError,
        *,
        permanent: bool,
    ) -> None:
        self.metrics.child(self.metrics.errors, f"send:{message.channel}").inc()
        kind = "permanently" if permanent else "for now"
        logger.warning("delivery to %s failed %s: %s", log_address(message.address), kind, exc)
        if conversation_id is None or not permanent:
            return
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is not None:
            failed = {"reason": str(exc), "message_id": message.message_id, "at": time.time()}
            data = {**conversation.data, "delivery_failed": failed}
            await self.store.save_conversation(conversation.evolve(data=data))

    async def _apologise(self, message: InboundMessage) -> None:
        """Tell the customer something broke; the store may be what broke."""
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            return
        try:
            # the conversation may be out of reach (the store): the message tells its language
            apology = self.config.messages.for_language(self.languages.detect(message.text)).apology
            await adapter.send(OutboundMessage.reply(message, apology, sender="system"))
        except Exception:
            logger.exception("could not even apologise on %s", message.channel)


def evidence(turn: Turn, decision: Decision) -> dict[str, Any]:
    """What the transcript keeps of a decision: its details and the turn's trace, as JSON."""
    details = {**decision.details, "trace": list(turn.trace), "helped": decision.helped}
    if decision.handoff is not None:
        details["handoff"] = decision.handoff.reason
    if turn.candidates:  # what the KB offered the later stages (FAQ ids, then passages)
        details.setdefault("kb_candidates", [c.id for c in turn.candidates])
    return json.loads(json.dumps(details, default=str))


def _bind(middleware: Middleware, handler: Handler) -> Handler:
    async def bound(turn: Turn) -> Decision:
        return await middleware(handler, turn)

    return bound
