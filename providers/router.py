"""The litellm Router built from ``[[llm.tiers]]``: one model group per tier.

Each tier's deployments share the group name (the tier name), so litellm
balances and retries across them. Moving *between* tiers is ours (see
:mod:`providers.stage`): litellm's fallbacks cannot tell a declined answer
from a good one, and we want each failure named in the hand-off reason.
Cooldowns are disabled for the same reason: a single-deployment tier put in
cooldown by one 500 would refuse every question for a minute, and our own
fallback already moves on to the next tier at once.

Calls go through one pre-built aiohttp session per router (``shared_session``,
litellm's documented way to reuse a client), whose pool is sized explicitly:
as many connections as the tiers' ``max_concurrency`` add up to, since no more
calls than that are ever in flight (:mod:`providers.gate`).

A deployment is usable when its key is present (``api_key_env`` names a set
variable), or it has an ``api_base`` and no key variable (a keyless local
server such as Ollama), or litellm finds the provider's usual variable.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub.config import LLMConfig, LLMModelConfig, LLMTierConfig, secret
from hub.logs import tame_library_loggers
from providers.budget import Price, price_of
from providers.errors import TierFailed

__all__ = ["Completion", "TierRouter", "usable"]

logger = logging.getLogger(__name__)

_WARM_UP = [{"role": "user", "content": "warm up"}]

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

        tame_library_loggers()  # litellm attached its own handlers on import: ours only
        self.config = config
        self.tiers, self.notes = usable(config)
        self._models: dict[str, LLMModelConfig] = {}
        self._prices: dict[str, Price] = {}
        model_list = []
        for tier in self.tiers:
            for index, model in enumerate(tier.models):
                model_list.append(_deployment(tier.name, index, model))
                self._models[f"{tier.name}#{index}"] = model
                self._prices[f"{tier.name}#{index}"] = price_of(model)
        self._router = (
            litellm.Router(model_list=model_list, timeout=config.timeout_s, disable_cooldowns=True)
            if model_list
            else None
        )
        self.pool_size = max(1, sum(t.max_concurrency for t in self.tiers))
        self._session: Any = None  # aiohttp.ClientSession, opened on the event loop

    # -- lifecycle (see providers.warmup) -------------------------------------------
    def warm_up(self) -> None:
        """Run litellm's request path once without a network call (in a worker thread).

        The first real call otherwise pays for litellm's lazy imports and its
        tokenizer on the event loop. ``mock_response`` is litellm's documented
        way to answer without a provider.
        """
        if self._router is None:
            return
        import litellm

        litellm.token_counter(model="gpt-4o-mini", text="warm up")  # loads the tokenizer
        tier = self.tiers[0].name

        async def both_paths() -> None:
            assert self._router is not None
            for stream in (False, True):
                reply = await self._router.acompletion(
                    model=tier, messages=_WARM_UP, mock_response='{"answer": "ok"}',
                    timeout=self.config.timeout_s, stream=stream,
                )
                if stream:
                    async for _ in reply:
                        pass

        # A loop of its own, in this worker thread: never the hub's loop.
        runner = threading.Thread(target=asyncio.run, args=(both_paths(),), name="llm-warm-up")
        runner.start()
        runner.join()

    def open_session(self) -> None:
        """The provider HTTP client: one aiohttp session with an explicit pool (on the loop)."""
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self.pool_size, limit_per_host=self.pool_size, keepalive_timeout=30
        )
        self._session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        args: dict[str, Any] = {
            "model": tier.name,
            "messages": messages,
            "timeout": self.config.timeout_s,
            "num_retries": len(tier.models) - 1,
        }
        if self._session is not None:
            args["shared_session"] = self._session
        return args

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
        stream, chunks = await self._first_chunk(tier, messages)
        parts: list[str] = []
        usage = None
        async for chunk in chunks:
            usage = getattr(chunk, "usage", None) or usage
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                await on_text(parts[-1])
        return self._completion(tier.name, stream._hidden_params, "".join(parts), usage)

    async def _first_chunk(
        self, tier: LLMTierConfig, messages: list[dict[str, Any]]
    ) -> tuple[Any, AsyncIterator[Any]]:
        """The stream, and its chunks from the first one, which must come within
        ``[llm] first_token_timeout_s``: a provider that hangs fails fast."""
        assert self._router is not None
        args = self._call_args(tier, messages)
        limit = min(self.config.first_token_timeout_s, self.config.timeout_s)
        try:
            async with asyncio.timeout(limit):
                stream = await self._router.acompletion(
                    **args, stream=True, stream_options={"include_usage": True}
                )
                iterator = aiter(stream)
                first = await anext(iterator, None)
        except TimeoutError:
            raise TierFailed(tier.name, f"no first token within {limit:g} s") from None

        async def chunks() -> AsyncIterator[Any]:
            if first is None:
                return
            yield first
            async for chunk in iterator:
                yield chunk

        return stream, chunks()

    def _completion(self, tier: str, hidden: dict[str, Any], text: str, usage: Any) -> Completion:
        key = str(hidden.get("model_id"))
        if key not in self._models:  # not expected: every deployment has an id
            key = next(k for k in self._models if k.startswith(f"{tier}#"))
        deployment = self._models[key]
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self._prices[key].cost(tokens_in, tokens_out)
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
