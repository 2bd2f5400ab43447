"""The hub: accepts envelopes, runs the stage chain, records and delivers replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from hub.adapter import Adapter
from hub.config import Config
from hub.conversation import Conversation, TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage
from hub.errors import DeliveryError, PermanentDeliveryError
from hub.lanes import Lanes
from hub.logs import conversation_scope
from hub.metrics import Metrics
from hub.stages import Decision, Stage, StageChain, Turn
from hub.store import Store
from hub.typing_indicator import TypingIndicator

__all__ = ["Handler", "Hub", "Middleware"]

logger = logging.getLogger(__name__)

Handler = Callable[[Turn], Awaitable[Decision]]
Middleware = Callable[[Handler, Turn], Awaitable[Decision]]

TYPING_DELAY_S = 0.15  # show "typing" only for answers slower than this

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."


async def errors_middleware(handler: Handler, turn: Turn) -> Decision:
    """Outermost: an exception becomes an apology and a logged error, never a drop."""
    try:
        return await handler(turn)
    except Exception as exc:
        logger.exception("stage chain failed: %s", type(exc).__name__)
        return Decision(
            stage="error",
            reason=f"{type(exc).__name__} while deciding",
            text=APOLOGY,
            helped=False,
        )


class Hub:
    """The asyncio service at the centre.

    Adapters call :meth:`submit` (the :class:`~hub.adapter.Ingress`); the hub
    drops duplicates, queues the message on its conversation's lane, and a lane
    worker runs :meth:`handle`: conversation, transcript, stages, delivery.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        stages: Sequence[Stage],
        *,
        metrics: Metrics | None = None,
        middleware: Sequence[Middleware] = (),
    ) -> None:
        self.config = config
        self.store = store
        self.chain = StageChain(stages)
        self.metrics = metrics or Metrics()
        self.middleware = [errors_middleware, *middleware]
        self.adapters: dict[str, Adapter] = {}
        self.decision_listeners: list[Callable[[Turn, Decision], Awaitable[None]]] = []
        self.typing_delay_s = TYPING_DELAY_S
        self._lanes: Lanes[InboundMessage] = Lanes(self._work)

    # -- wiring ------------------------------------------------------------------
    def register(self, adapter: Adapter) -> None:
        self.adapters[adapter.name] = adapter

    async def apply_config(self, config: Config) -> None:
        """Swap in a new config; stages that keep state rebuild what changed."""
        old, self.config = self.config, config
        for stage in self.chain.stages:
            reconfigure = getattr(stage, "reconfigure", None)
            if reconfigure is not None:
                await reconfigure(old, config)

    # -- ingress -------------------------------------------------------------------
    async def submit(self, message: InboundMessage) -> bool:
        """Accept a message unless it is a duplicate; processing happens in its lane."""
        ttl = self.config.store.dedupe_ttl_s
        if not await self.store.claim(message.dedupe_key, ttl):
            self.metrics.child(self.metrics.duplicates, message.channel).inc()
            logger.info("duplicate %s dropped", message.dedupe_key)
            return False
        self.metrics.child(self.metrics.messages_in, message.channel).inc()
        self._lanes.push(message.address, message)
        return True

    async def drain(self) -> None:
        """Wait until every accepted message has been handled (tests, shutdown)."""
        await self._lanes.join()

    async def close(self) -> None:
        await self._lanes.close()

    async def _work(self, message: InboundMessage) -> None:
        started = time.perf_counter()
        with conversation_scope(message.address):
            try:
                await self.handle(message)
            except Exception:
                self.metrics.child(self.metrics.errors, "hub").inc()
                logger.exception("message %s could not be handled", message.message_id)
                await self._apologise(message)
        self.metrics.child(self.metrics.latency, message.channel).observe(time.perf_counter() - started)

    # -- one message -----------------------------------------------------------------
    async def handle(self, message: InboundMessage) -> Decision:
        """Run one accepted message through the stages and deliver the reply."""
        conversation = await self.conversation_for(message)
        max_len = self.config.store.transcript_max
        await self.store.append(conversation.id, TranscriptEntry.inbound(message), max_len)
        typing = TypingIndicator(self.adapters.get(message.channel), message, self.typing_delay_s)
        turn = await self.new_turn(message, conversation)
        decision = await self.decide(turn)
        await typing.stop(replied=bool(decision.text))
        await self.record(turn, decision)
        if decision.text:
            reply = OutboundMessage.reply(message, decision.text, buttons=decision.buttons)
            await self.deliver(
                reply, stage=decision.stage, reason=decision.reason, conversation=turn.conversation
            )
        for listener in self.decision_listeners:
            await listener(turn, decision)
        return decision

    async def new_turn(
        self, message: InboundMessage, conversation: Conversation, *, dry_run: bool = False
    ) -> Turn:
        limit = max(1, self.config.llm.history_turns * 2 + 1)

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
        )

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
        decision = await handler(turn)
        self.metrics.child(self.metrics.decisions, decision.stage).inc()
        logger.info("decision %s: %s", decision.stage, decision.reason)
        return decision

    async def record(self, turn: Turn, decision: Decision) -> None:
        """Keep what the turn learnt about the conversation (tags, failures)."""
        conversation = turn.conversation
        failures = 0 if decision.helped else conversation.failures + 1
        tags = tuple(sorted(turn.tags))
        if failures != conversation.failures or tags != conversation.tags:
            conversation = conversation.evolve(failures=failures, tags=tags)
            await self.store.save_conversation(conversation)
            turn.conversation = conversation

    async def conversation_for(self, message: InboundMessage) -> Conversation:
        """The open conversation at the message's address, or a new one."""
        current = await self.store.conversation_at(message.address)
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
    ) -> bool:
        """Record ``message`` in its transcript and send it; True if it was sent."""
        if conversation is None:
            conversation = await self.store.conversation_at(message.address)
        if conversation is not None:
            entry = TranscriptEntry.outbound(message, stage=stage, reason=reason)
            await self.store.append(conversation.id, entry, self.config.store.transcript_max)
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            logger.warning("no adapter for channel %s; message kept in transcript", message.channel)
            return False
        try:
            await adapter.send(message)
        except PermanentDeliveryError as exc:
            await self._delivery_failed(conversation, message, exc, permanent=True)
            return False
        except DeliveryError as exc:
            await self._delivery_failed(conversation, message, exc, permanent=False)
            return False
        self.metrics.child(self.metrics.messages_out, message.channel, message.sender).inc()
        return True

    async def _delivery_failed(
        self,
        conversation: Conversation | None,
        message: OutboundMessage,
        exc: DeliveryError,
        *,
        permanent: bool,
    ) -> None:
        self.metrics.child(self.metrics.errors, f"send:{message.channel}").inc()
        kind = "permanently" if permanent else "for now"
        logger.warning("delivery to %s failed %s: %s", message.address, kind, exc)
        if conversation is not None and permanent:
            failed = {"reason": str(exc), "message_id": message.message_id, "at": time.time()}
            data = {**conversation.data, "delivery_failed": failed}
            await self.store.save_conversation(conversation.evolve(data=data))

    async def _apologise(self, message: InboundMessage) -> None:
        """Tell the customer something broke; the store may be what broke."""
        adapter = self.adapters.get(message.channel)
        if adapter is None:
            return
        try:
            await adapter.send(OutboundMessage.reply(message, APOLOGY, sender="system"))
        except Exception:
            logger.exception("could not even apologise on %s", message.channel)


def _bind(middleware: Middleware, handler: Handler) -> Handler:
    async def bound(turn: Turn) -> Decision:
        return await middleware(handler, turn)

    return bound
