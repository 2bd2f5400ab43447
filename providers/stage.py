"""Stage 3: the LLM router. Cost-tiered, grounded, safe, and never a dead end.

For a turn the earlier stages left open: refuse advice topics; hand off past
the conversation budget; score the question (:mod:`providers.complexity`) and
pick the cheapest tier that admits the score (or the tier a ``route`` rule
forced), one tier lower near the daily budget; answer from the cache if this
PII-free question was answered lately; otherwise ask the tier. A failed tier
(error, timeout) passes the question on to the next; an answer that fails the
self-check escalates once to the next tier up. When nothing good comes back
the customer is told and the conversation is handed off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.config import Config, LLMConfig, LLMTierConfig
from hub.envelope import Button, InboundMessage, Source
from hub.lanes import step_aside_after
from hub.logs import add_scrubber, tame_library_loggers
from hub.messages import MessageTexts, fill
from hub.metrics import Metrics
from hub.stages import Decision, HandoffRequest, Turn
from hub.store import Store
from hub.text import fold
from providers.budget import Ledger
from providers.cache import AnswerCache, CachedAnswer, cache_key
from providers.citations import cite
from providers.complexity import Complexity, pick_tier, score_turn
from providers.errors import TierFailed
from providers.gate import TierGates
from providers.health import TierHealth
from providers.notice import StillWorking
from providers.pii import has_pii, scrub
from providers.prompt import RULES, build_messages
from providers.router import Completion, TierRouter
from providers.selfcheck import (
    NOT_IN_PASSAGES,
    Answer,
    AnswerStream,
    check,
    leaks,
    parse,
    unsupported,
)
from providers.tools import TOOL_PREFIX, ToolBox, used_tools
from providers.topics import refused_topic
from providers.warmup import RouterWarmup

__all__ = ["LLMStage"]

logger = logging.getLogger(__name__)

_HOLD_BACK_WORDS = 8

Notify = Callable[[InboundMessage, str], Awaitable[None]]


@dataclass
class _Attempts:
    """What the tiers tried for one question cost and said."""

    failures: list[str] = field(default_factory=list)
    answered: int = 0  # calls that came back with an answer (good or rejected)
    unsupported: int = 0  # answers whose claims the articles do not hold
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    unpriced: list[str] = field(default_factory=list)

    def add(self, done: Completion) -> None:
        self.answered += 1
        self.tokens_in += done.tokens_in
        self.tokens_out += done.tokens_out
        self.cost_usd += done.cost_usd
        if not done.priced:
            self.unpriced.append(done.model)


class LLMStage:
    """Answers with the cheapest tier that can, within budget."""

    name = "llm"

    def __init__(
        self, store: Store, metrics: Metrics, config: LLMConfig | None = None,
        *, tools: ToolBox | None = None,
    ) -> None:
        self.tools = tools  # actions offered as tools (providers/tools.py)
        self.ledger = Ledger(store, metrics)
        self.cache = AnswerCache(store)
        self.routers = RouterWarmup()
        self.gates = TierGates()
        self.tier_health = TierHealth()  # failures per tier: /healthz "degraded"
        self.notify: Notify | None = None  # set by the service: a message outside the decision
        self._config = config
        add_scrubber(scrub)
        tame_library_loggers()

    # -- lifecycle -----------------------------------------------------------------
    async def __aenter__(self) -> LLMStage:
        """Start building the tiers' router in a thread; the hub serves meanwhile."""
        self.routers.owns_session = True
        if self._config is not None:
            self.routers.start(self._config)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.routers.close()

    async def reconfigure(self, old: Config, new: Config) -> None:
        self._config = new.llm
        if old.llm != new.llm:
            self.routers.start(new.llm)  # built off the loop, swapped in when complete

    async def router_for(self, config: LLMConfig) -> TierRouter:
        return await self.routers.get(config)

    def health(self) -> dict[str, Any]:
        config = self._config
        if config is not None and not (config.enabled and config.tiers):
            return {"status": "ok", "tiers": "none configured or [llm] disabled"}
        if config is None and not self.routers.ready:
            return {"status": "ok", "tiers": "built on first use"}
        health = self.routers.health()
        health["queues"] = self.gates.health()
        settings = config or LLMConfig()
        degraded = self.tier_health.degraded(
            settings.degraded_after_failures, settings.degraded_window_s
        )
        if degraded and health["status"] == "ok":
            health["status"] = "degraded"
            health["degraded"] = degraded
        return health

    # -- one turn --------------------------------------------------------------------
    async def __call__(self, turn: Turn) -> Decision | None:
        config = turn.config.llm
        if not config.enabled:
            turn.note("llm: skipped, [llm] enabled = false")
            return None
        if not config.tiers:
            turn.note("llm: skipped, no [[llm.tiers]] configured")
            return None
        router = await self.router_for(config)
        if not router.tiers:
            turn.note(f"llm: skipped, no tier has a usable key ({'; '.join(router.notes)})")
            return None
        return await self._decide(turn, config, router)

    async def _decide(self, turn: Turn, config: LLMConfig, router: TierRouter) -> Decision | None:
        topic = refused_topic(turn.message.text, config.refuse_topics)
        if topic is not None:
            return _refusal(topic, turn.texts)
        await turn.load_history()
        if await self.ledger.conversation_over(config, turn.conversation.id):
            return _over_budget(config, turn.texts)
        daily = await self.ledger.daily_state(config)
        if daily == "spent":
            turn.note(f"llm: skipped, daily budget of ${config.daily_budget_usd:.2f} spent")
            return None
        complexity = score_turn(turn)
        start = self._start_tier(turn, router.tiers, complexity, daily)
        messages = build_messages(
            config.system_prompt, turn.message.text, turn.candidates, _earlier(turn, config),
            turn.language if len(turn.config.languages.supported) > 1 else None,
        )
        tier = router.tiers[start]
        identity = f"{tier.name}:{','.join(m.model for m in tier.models)}"
        key = cache_key(identity, messages) if _cacheable(turn) else None
        cached = await self.cache.get(key) if key else None
        if cached is not None:
            return _cached_decision(cached, cite(cached.text, turn.candidates), complexity)
        notice = StillWorking(self._still_working(turn))
        # past hold_s, newer messages of the conversation are answered meanwhile (hub/lanes.py)
        async with notice.after(config.still_working_s), step_aside_after(config.hold_s):
            return await self._ask(turn, config, router, start, messages, complexity, key, notice)

    def _start_tier(
        self, turn: Turn, tiers: list[LLMTierConfig], complexity: Complexity, daily: str
    ) -> int:
        names = [t.name for t in tiers]
        if turn.forced_tier in names:
            turn.note(f"llm: tier {turn.forced_tier!r} forced by a route rule")
            return names.index(turn.forced_tier)
        if turn.forced_tier:
            turn.note(f"llm: forced tier {turn.forced_tier!r} is not usable; scoring instead")
        index = pick_tier(tiers, complexity.score)
        turn.note(f"llm: score {complexity.score:.2f} ({complexity.explain()}) -> {names[index]!r}")
        if daily == "near" and index > 0:
            index -= 1
            turn.note(f"llm: near the daily budget, moved down to {names[index]!r}")
        return index

    async def _ask(
        self,
        turn: Turn,
        config: LLMConfig,
        router: TierRouter,
        start: int,
        messages: list[dict[str, Any]],
        complexity: Complexity,
        key: str | None,
        notice: StillWorking,
    ) -> Decision:
        tiers = router.tiers
        order = [*range(start, len(tiers)), *range(start - 1, -1, -1)]
        attempts = _Attempts()
        grounding = [c.id for c in turn.candidates]
        secrets = (config.system_prompt, RULES)
        escalated = False
        while order:
            index = order.pop(0)
            tier = tiers[index]
            try:
                async with self.gates.for_tier(tier).slot(config.queue_notice_s, notice.tell):
                    done = await self._complete(router, tier, messages, turn, secrets, notice)
            except TierFailed as exc:
                logger.warning("llm tier %s failed: %s", tier.name, exc.kind)
                self.tier_health.failed(tier.name, exc.kind)
                attempts.failures.append(f"{tier.name}: {exc.kind}")
                continue
            self.tier_health.answered(tier.name)
            attempts.add(done)
            await self.ledger.record(
                turn.conversation.id, tier.name, done.model, (done.tokens_in, done.tokens_out),
                done.cost_usd,
            )
            answer = parse(done.text)
            why = check(answer, [*grounding, *_tool_ids(turn)], secrets) or _unsupported(
                answer, turn
            )
            if why is None:
                if key is not None and index == start and not used_tools(turn):
                    cached = CachedAnswer(answer.text, tier.name, done.model, answer.sources)
                    await self.cache.put(key, cached, config.cache_ttl_s)
                return _answered(
                    done, cite(answer.text, turn.candidates), complexity, attempts, escalated
                )
            attempts.failures.append(f"{tier.name}: {why}")
            attempts.unsupported += why.endswith(NOT_IN_PASSAGES)
            logger.info("llm tier %s answer rejected: %s", tier.name, why)
            higher = [i for i in order if i > index]
            if escalated or not higher:
                break
            escalated = True
            order = higher[:1]
        if attempts.failures and not attempts.answered:
            return _unavailable(attempts, complexity, turn.config, turn.texts)
        if attempts.unsupported and not _agents(turn.config):
            return _dont_know(attempts, complexity, turn.texts)
        return _all_failed(attempts, complexity, turn.texts)


    async def _complete(
        self, router: TierRouter, tier: LLMTierConfig, messages: list[dict[str, Any]],
        turn: Turn, secrets: tuple[str, ...], notice: StillWorking,
    ) -> Completion:
        """The tier's answer; with tools configured, after the tool calls it makes."""
        stream = _streamer(turn, secrets, notice)
        if self.tools is None:
            return await router.complete(tier, messages, stream)
        return await self.tools.complete(router, tier, messages, turn, stream)

    def _still_working(self, turn: Turn) -> Callable[[], Awaitable[None]] | None:
        """Send the customer ``[messages] still_working`` (StillWorking sends it once a turn)."""
        notify = self.notify
        if notify is None or turn.dry_run:
            return None

        async def tell() -> None:
            try:
                await notify(turn.message, turn.texts.still_working)
            except Exception as exc:  # a notice that cannot be sent must not cost the answer
                logger.warning("still-working notice not sent: %s", type(exc).__name__)

        return tell


# -- pieces of a turn ----------------------------------------------------------------


def _earlier(turn: Turn, config: LLMConfig) -> list[Any]:
    """The last ``history_turns`` exchanges before this message."""
    if config.history_turns == 0:
        return []
    earlier = [e for e in turn.history if e.id != turn.message.message_id]
    return earlier[-config.history_turns * 2 :]


def _tool_ids(turn: Turn) -> list[str]:
    """Tool results count as grounding the answer may cite (``tool:NAME``)."""
    return [c.id for c in turn.candidates if c.id.startswith(TOOL_PREFIX)]


def _unsupported(answer: Answer, turn: Turn) -> str | None:
    """The support check, for answers grounded on articles' passages (FAQ answers and
    tool results count as grounding too: a claim may come from any of them)."""
    if not any(c.source is not None for c in turn.candidates):
        return None
    return unsupported(answer.text, [f"{c.question}\n{c.answer}" for c in turn.candidates])


def _agents(config: Config) -> bool:
    """Can a hand-off reach a person (agents in Slack)?"""
    return bool(config.handoff.agents_channel and config.channels.slack.enabled)


def _cacheable(turn: Turn) -> bool:
    texts = [turn.message.text, *(e.text for e in turn.history)]
    return not any(has_pii(t) for t in texts)


def _streamer(
    turn: Turn, secrets: tuple[str, ...], notice: StillWorking
) -> Callable[[str], Awaitable[None]] | None:
    """Forward the answer part of a streaming reply to ``turn.on_delta``.

    The newest few words are held back and streaming stops if the answer starts
    repeating the instructions; the final message carries the checked answer.
    """
    sink = turn.on_delta
    if sink is None:
        return None
    reader = AnswerStream()
    state = {"answer": "", "shown": 0, "stopped": False}

    async def on_text(chunk: str) -> None:
        if state["stopped"]:
            return
        state["answer"] += reader.feed(chunk)
        answer = str(state["answer"])
        if leaks(answer, secrets):
            state["stopped"] = True
            return
        words = answer.split(" ")
        safe = len(" ".join(words[:-_HOLD_BACK_WORDS])) if len(words) > _HOLD_BACK_WORDS else 0
        shown = int(state["shown"])
        if safe > shown:
            state["shown"] = safe
            notice.answering = True  # the customer sees it coming: no "still working"
            await sink(answer[shown:safe])

    return on_text


# -- decisions -----------------------------------------------------------------------


def _refusal(topic: str, texts: MessageTexts) -> Decision:
    return Decision(
        stage="llm",
        reason=f"refused topic {topic!r}",
        text=fill(texts.llm_refusal, topic=topic),
        buttons=(Button(texts.offer_button, fold(texts.offer_button)),),
        details={"refused_topic": topic},
        helped=False,
    )


def _over_budget(config: LLMConfig, texts: MessageTexts) -> Decision:
    limit = config.conversation_budget_usd
    return Decision(
        stage="llm",
        reason=f"conversation budget of ${limit:.2f} reached",
        text=texts.llm_over_budget,
        details={"budget": "conversation", "limit_usd": limit},
        handoff=HandoffRequest(reason=f"llm: conversation budget of ${limit:.2f} reached"),
        helped=False,
    )


def _answered(
    done: Completion, cited: tuple[str, tuple[Source, ...]], complexity: Complexity,
    attempts: _Attempts, escalated: bool,
) -> Decision:
    reason = f"tier {done.tier!r} (score {complexity.score:.2f}) answered with {done.model}"
    if attempts.failures:
        reason += f" after {'; '.join(attempts.failures)}"
    text, sources = cited
    return Decision(
        stage="llm",
        reason=reason,
        text=text,
        sources=sources,
        details={
            "tier": done.tier,
            "model": done.model,
            "score": complexity.score,
            "signals": list(complexity.signals),
            "tokens_in": attempts.tokens_in,
            "tokens_out": attempts.tokens_out,
            "cost_usd": round(attempts.cost_usd, 8),
            "cached": False,
            "escalated": escalated,
            "failures": list(attempts.failures),
            "unpriced_models": sorted(set(attempts.unpriced)),
        },
    )


def _cached_decision(
    cached: CachedAnswer, cited: tuple[str, tuple[Source, ...]], complexity: Complexity
) -> Decision:
    text, sources = cited
    return Decision(
        stage="llm",
        reason=f"tier {cached.tier!r} (score {complexity.score:.2f}) answer from the cache",
        text=text,
        sources=sources,
        details={
            "tier": cached.tier,
            "model": cached.model,
            "score": complexity.score,
            "signals": list(complexity.signals),
            "tokens_in": 0,
            "tokens_out": 0,
            "cost_usd": 0.0,
            "cached": True,
            "escalated": False,
        },
    )


def _unavailable(
    attempts: _Attempts, complexity: Complexity, config: Config, texts: MessageTexts
) -> Decision:
    """Every tier errored or timed out: say so, and where a person can be reached.

    With agents in Slack, a hand-off ("... I've passed this on to our support
    team"); without, the shop's contact route, and no hand-off request: the
    no-agents text ("there is no one from the team on this channel") is for
    hand-offs, and would say nothing true about what happened.
    """
    why = "; ".join(attempts.failures)
    details = {
        "score": complexity.score, "failures": list(attempts.failures), "provider_failed": True,
    }
    reason = f"no tier could answer (score {complexity.score:.2f}): {why}"
    if _agents(config):
        queued = fill(texts.queued, wait=texts.expected_wait)
        return Decision(
            stage="llm", reason=reason, text=f"{texts.llm_unavailable} {queued}",
            details=details, handoff=HandoffRequest(reason=f"llm: all tiers failed ({why})"),
            helped=False,
        )
    return Decision(
        stage="llm", reason=f"{reason}; no agents", text=texts.unavailable(), details=details,
        helped=False,
    )


def _dont_know(attempts: _Attempts, complexity: Complexity, texts: MessageTexts) -> Decision:
    """The articles do not support the answers that came back, and no person can take it:
    say so (``[messages] dont_know`` and the contact route) rather than guess."""
    why = "; ".join(attempts.failures)
    return Decision(
        stage="llm",
        reason=f"no supported answer (score {complexity.score:.2f}): {why}; no agents",
        text=texts.with_contact(texts.dont_know),
        details={**_spent(attempts, complexity), "unsupported": True},
        helped=False,
    )


def _spent(attempts: _Attempts, complexity: Complexity) -> dict[str, Any]:
    """What the rejected attempts cost, and why each failed."""
    return {
        "score": complexity.score,
        "tokens_in": attempts.tokens_in,
        "tokens_out": attempts.tokens_out,
        "cost_usd": round(attempts.cost_usd, 8),
        "failures": list(attempts.failures),
    }


def _all_failed(attempts: _Attempts, complexity: Complexity, texts: MessageTexts) -> Decision:
    why = "; ".join(attempts.failures) or "no tier answered"
    return Decision(
        stage="llm",
        reason=f"no tier could answer (score {complexity.score:.2f}): {why}",
        text=texts.llm_failed,
        details=_spent(attempts, complexity),
        handoff=HandoffRequest(reason=f"llm: all tiers failed ({why})"),
        helped=False,
    )
