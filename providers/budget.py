"""What answers cost, and what may still be spent.

Costs come from the deployment's configured prices when given, otherwise from
litellm's local price table; a model with neither counts as free (and says so
in the decision). Spend is summed in the store per conversation, per tier per
day and per day (UTC), and in Prometheus per tier and model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from hub.config import LLMConfig, LLMModelConfig
from hub.metrics import Metrics
from hub.store import Keys, Store

__all__ = ["Ledger", "Price", "price", "price_of"]

logger = logging.getLogger(__name__)

DAY_TTL_S = 3 * 86400
TIER_TTL_S = 40 * 86400
CONVERSATION_TTL_S = 30 * 86400


@dataclass(frozen=True, slots=True)
class Price:
    """A deployment's per-token prices, looked up once; ``known`` is False without any."""

    input_per_token: float = 0.0
    output_per_token: float = 0.0
    known: bool = True

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if not self.known:
            return None
        return tokens_in * self.input_per_token + tokens_out * self.output_per_token


def price_of(deployment: LLMModelConfig) -> Price:
    """The configured prices, else litellm's bundled table's (when the router is built)."""
    if deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None:
        return Price(deployment.input_cost_per_token or 0.0, deployment.output_cost_per_token or 0.0)
    per_token = price(deployment, 1_000_000, 0), price(deployment, 0, 1_000_000)
    if per_token[0] is None or per_token[1] is None:
        return Price(known=False)
    return Price(per_token[0] / 1_000_000, per_token[1] / 1_000_000)


def price(deployment: LLMModelConfig, tokens_in: int, tokens_out: int) -> float | None:
    """US dollars for one call, or None when no price is known for the model."""
    if deployment.input_cost_per_token is not None or deployment.output_cost_per_token is not None:
        return (
            tokens_in * (deployment.input_cost_per_token or 0.0)
            + tokens_out * (deployment.output_cost_per_token or 0.0)
        )
    import litellm

    try:
        cost_in, cost_out = litellm.cost_per_token(
            model=deployment.model, prompt_tokens=tokens_in, completion_tokens=tokens_out
        )
    except Exception:  # litellm raises a bare Exception for unknown models
        return None
    return float(cost_in) + float(cost_out)


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


@dataclass
class Ledger:
    """Spend counters in the store and in /metrics."""

    store: Store
    metrics: Metrics

    async def spent_today(self) -> float:
        return float(await self.store.get(Keys.llm_cost_day(today())) or 0.0)

    async def spent_in(self, conversation_id: str) -> float:
        return float(await self.store.get(Keys.llm_cost_conversation(conversation_id)) or 0.0)

    async def record(
        self, conversation_id: str, tier: str, model: str, tokens: tuple[int, int], cost: float
    ) -> None:
        day = today()
        await self.store.incr(Keys.llm_cost_conversation(conversation_id), cost, CONVERSATION_TTL_S)
        await self.store.incr(Keys.llm_cost_tier(tier, day), cost, TIER_TTL_S)
        spent = await self.store.incr(Keys.llm_cost_day(day), cost, DAY_TTL_S)
        self.metrics.llm_spent_today.set(spent)
        self.metrics.llm_cost.labels(tier, model).inc(cost)
        self.metrics.llm_tokens.labels(tier, model, "in").inc(tokens[0])
        self.metrics.llm_tokens.labels(tier, model, "out").inc(tokens[1])

    async def daily_state(self, config: LLMConfig) -> str:
        """"ok", "near" (move down a tier) or "spent" (no LLM until tomorrow)."""
        self.metrics.llm_daily_budget.set(config.daily_budget_usd)
        if config.daily_budget_usd <= 0:
            return "ok"
        spent = await self.spent_today()
        self.metrics.llm_spent_today.set(spent)
        if spent >= config.daily_budget_usd:
            return "spent"
        if spent >= config.daily_budget_usd * config.near_budget_ratio:
            return "near"
        return "ok"

    async def conversation_over(self, config: LLMConfig, conversation_id: str) -> bool:
        if config.conversation_budget_usd <= 0:
            return False
        return await self.spent_in(conversation_id) >= config.conversation_budget_usd
