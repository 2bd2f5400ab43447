"""The litellm Router built from ``[[llm.tiers]]``: one model group per tier.

Each tier's deployments share the group name (the tier name), so litellm
balances and retries across them. Moving *between* tiers is ours (see
:mod:`providers.stage`): litellm's fallbacks cannot tell a declined answer
from a good one, and we want each failure named in the hand-off reason.
Cooldowns are disabled for the same reason: a single-deployment tier put in
cooldown by one 500 would refuse every question for a minute, and our own
fallback already moves on to the next tier at once.

A deployment is usable when its key is present (``api_key_env`` names a set
variable), or it has an ``api_base`` and no key variable (a keyless local
server such as Ollama), or litellm finds the provider's usual variable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub.config import LLMConfig, LLMModelConfig, LLMTierConfig, secret
from providers.budget import price
from providers.errors import TierFailed

__all__ = ["Completion", "TierRouter", "usable"]

logger = logging.getLogger(__name__)

KEYLESS = "no-key"  # OpenAI-compatible local servers ignore the key but clients want one


@dataclass(frozen=True, slots=True)
class Completion:
    """One tier's raw reply and what it cost."""

    text: str
    tier: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    priced: bool


def _api_key(deployment: LLMModelConfig) -> str | None:
    """The key to use, KEYLESS for local servers, or None if the deployment is unusable."""
    if deployment.api_key_env:
        key = secret(deployment.api_key_env)
        if key:
            return key
        return None if not deployment.api_base else KEYLESS
    if deployment.api_base:
        return KEYLESS
    import litellm

    found = litellm.validate_environment(model=deployment.model)
    return "" if found.get("keys_in_environment") else None


def usable(config: LLMConfig) -> tuple[list[LLMTierConfig], list[str]]:
    """Tiers with at least one usable deployment, and notes on what was left out."""
    tiers: list[LLMTierConfig] = []
    notes: list[str] = []
    for tier in config.tiers:
        models = tuple(m for m in tier.models if _api_key(m) is not None)
        for m in tier.models:
            if m not in models:
                notes.append(f"{tier.name}/{m.model}: no key ({m.api_key_env or 'provider default'})")
        if models:
            tiers.append(tier.model_copy(update={"models": models}))
    return tiers, notes


def _deployment(tier: str, index: int, model: LLMModelConfig) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model.model}
    key = _api_key(model)
    if key:
        params["api_key"] = key
    if model.api_base:
        base = model.api_base.rstrip("/")
        if model.model.startswith("anthropic/"):
            base = base.removesuffix("/v1")  # litellm appends /v1/messages itself
        params["api_base"] = base
    return {"model_name": tier, "litellm_params": params, "model_info": {"id": f"{tier}#{index}"}}


class TierRouter:
    """Ask one tier a question; raise :class:`TierFailed` when it cannot answer."""

    def __init__(self, config: LLMConfig) -> None:
        import litellm

        self.config = config
        self.tiers, self.notes = usable(config)
        self._models: dict[str, LLMModelConfig] = {}
        model_list = []
        for tier in self.tiers:
            for index, model in enumerate(tier.models):
                model_list.append(_deployment(tier.name, index, model))
                self._models[f"{tier.name}#{index}"] = model
        self._router = (
            litellm.Router(model_list=model_list, timeout=config.timeout_s, disable_cooldowns=True)
            if model_list
            else None
        )

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tiers]

    async def complete(
        self,
        tier: LLMTierConfig,
        messages: list[dict[str, Any]],
        on_text: Callable[[str], Awaitable[None]] | None = None,
    ) -> Completion:
        """The tier's reply; ``on_text`` gets the raw text as it streams, if given."""
        assert self._router is not None
        try:
            async with asyncio.timeout(self.config.timeout_s * len(tier.models) + 1):
                if on_text is None:
                    return await self._plain(tier, messages)
                return await self._streamed(tier, messages, on_text)
        except TierFailed:
            raise
        except Exception as exc:  # litellm raises its own and openai's error types
            raise TierFailed(tier.name, _kind(exc)) from exc

    def _call_args(self, tier: LLMTierConfig, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": tier.name,
            "messages": messages,
            "timeout": self.config.timeout_s,
            "num_retries": len(tier.models) - 1,
        }

    async def _plain(self, tier: LLMTierConfig, messages: list[dict[str, Any]]) -> Completion:
        assert self._router is not None
        response = await self._router.acompletion(**self._call_args(tier, messages))
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        return self._completion(tier.name, response._hidden_params, text, usage)

    async def _streamed(
        self,
        tier: LLMTierConfig,
        messages: list[dict[str, Any]],
        on_text: Callable[[str], Awaitable[None]],
    ) -> Completion:
        assert self._router is not None
        args = self._call_args(tier, messages)
        stream = await self._router.acompletion(
            **args, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        usage = None
        async for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                await on_text(parts[-1])
        return self._completion(tier.name, stream._hidden_params, "".join(parts), usage)

    def _completion(self, tier: str, hidden: dict[str, Any], text: str, usage: Any) -> Completion:
        deployment = self._models.get(str(hidden.get("model_id")))
        if deployment is None:  # not expected: every deployment has an id
            deployment = next(m for key, m in self._models.items() if key.startswith(f"{tier}#"))
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = price(deployment, tokens_in, tokens_out)
        return Completion(
            text=text,
            tier=tier,
            model=deployment.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost_usd=cost or 0.0,
            priced=cost is not None,
        )


def _kind(exc: BaseException) -> str:
    """A short, safe name for a provider failure (never the provider's message)."""
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return "timeout"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    return type(exc).__name__
