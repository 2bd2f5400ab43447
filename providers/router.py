"""A tier's deployments, resolved once by litellm and called the cheapest way.

Each ``[[llm.tiers]]`` entry lists deployments. When the tiers are built (in a
thread, see :mod:`providers.warmup`), litellm resolves every deployment: its
provider, model name, base URL and key. A deployment that resolves to plain
OpenAI chat completions (``gpt-4o-mini``, ``openai/<model>`` with an
``api_base``: OpenAI, vLLM, LM Studio, llama.cpp, Ollama's ``/v1``) is called
with :class:`providers.wire.OpenAIWire`, a direct client, because litellm's
per-call machinery costs 15-40 ms of CPU per answer (docs/bench.md). Every
other provider (Anthropic, Azure, Ollama's native API, Bedrock, ...) is called
through ``litellm.acompletion``. ``[llm] fast_path = false`` sends everything
through litellm.

Moving between the deployments of a tier is ours: calls rotate over them, and a
failed call moves on to the next deployment, as long as no text of the answer
has reached the customer yet. Moving *between* tiers is the stage's (see
:mod:`providers.stage`): a declined answer is not a failure to retry, and we
want each failure named in the hand-off reason.

All calls go through one pre-built aiohttp session per router whose pool is
sized explicitly: as many connections as the tiers' ``max_concurrency`` add up
to, since no more calls than that are ever in flight (:mod:`providers.gate`).

A deployment is usable when its key is present (``api_key_env`` names a set
variable), or it has an ``api_base`` and no key variable (a keyless local
server such as Ollama), or litellm finds the provider's usual variable.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub.config import LLMConfig, LLMModelConfig, LLMTierConfig, secret
from hub.logs import tame_library_loggers
from providers.budget import Price, price_of
from providers.errors import TierFailed
from providers.wire import OpenAIWire, Reply, ToolCall, Usage

__all__ = ["Completion", "Deployment", "TierRouter", "usable"]

logger = logging.getLogger(__name__)

_WARM_UP = [{"role": "user", "content": "warm up"}]

KEYLESS = "no-key"  # OpenAI-compatible local servers ignore the key but clients want one

TextSink = Callable[[str], Awaitable[None]]
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Deployment:
    """One model of a tier, as litellm resolved it; ``wire`` is set for the direct path."""

    tier: str
    index: int
    config: LLMModelConfig
    price: Price
    params: dict[str, Any] = field(hash=False)  # litellm.acompletion's model, api_key, api_base
    wire: OpenAIWire | None = None

    @property
    def id(self) -> str:
        return f"{self.tier}#{self.index}"

    @property
    def path(self) -> str:
        return "direct" if self.wire is not None else "litellm"


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


def _litellm_params(model: LLMModelConfig) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model.model}
    key = _api_key(model)
    if key:
        params["api_key"] = key
    if model.api_base:
        base = model.api_base.rstrip("/")
        if model.model.startswith("anthropic/"):
            base = base.removesuffix("/v1")  # litellm appends /v1/messages itself
        params["api_base"] = base
    return params


def _direct_wire(params: dict[str, Any]) -> OpenAIWire | None:
    """A direct client if litellm resolves the deployment to plain OpenAI, else None."""
    import litellm

    name, provider, _, base = litellm.get_llm_provider(
        model=params["model"], api_base=params.get("api_base")
    )
    if provider != "openai":
        return None
    # the same fallbacks litellm's OpenAI handler uses when the config names none
    base = base or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE")
    key = params.get("api_key") or os.environ.get("OPENAI_API_KEY")
    return OpenAIWire(model=name, api_base=base, api_key=key)


def _deployment(tier: str, index: int, model: LLMModelConfig, fast_path: bool) -> Deployment:
    params = _litellm_params(model)
    wire = _direct_wire(params) if fast_path else None
    return Deployment(tier, index, model, price_of(model), params, wire)


class TierRouter:
    """Ask one tier a question; raise :class:`TierFailed` when it cannot answer."""

    def __init__(self, config: LLMConfig) -> None:
        tame_library_loggers()  # litellm attached its own handlers on import: ours only
        self.config = config
        self.tiers, self.notes = usable(config)
        self.deployments: dict[str, list[Deployment]] = {
            tier.name: [_deployment(tier.name, i, m, config.fast_path) for i, m in enumerate(tier.models)]
            for tier in self.tiers
        }
        self._turns = {tier.name: itertools.count() for tier in self.tiers}
        self.pool_size = max(1, sum(t.max_concurrency for t in self.tiers))
        self._session: Any = None  # aiohttp.ClientSession, opened on the event loop

    # -- lifecycle (see providers.warmup) -------------------------------------------
    def warm_up(self) -> None:
        """Run litellm's request path once without a network call (in a worker thread).

        Only deployments that litellm serves need it: the first real call would
        otherwise pay for litellm's lazy imports and its tokenizer on the event
        loop. ``mock_response`` is litellm's documented way to answer without a
        provider.
        """
        served = [d for ds in self.deployments.values() for d in ds if d.wire is None]
        if not served:
            return
        import litellm

        litellm.token_counter(model="gpt-4o-mini", text="warm up")  # loads the tokenizer

        async def both_paths() -> None:
            for stream in (False, True):
                reply = await litellm.acompletion(
                    **served[0].params, messages=_WARM_UP, mock_response='{"answer": "ok"}',
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

    def paths(self) -> dict[str, list[str]]:
        """Each tier's deployments and how they are called, for /healthz and `hub check`."""
        return {tier: [f"{d.config.model} ({d.path})" for d in ds] for tier, ds in self.deployments.items()}

    # -- calls ---------------------------------------------------------------------------
    async def complete(
        self, tier: LLMTierConfig, messages: list[dict[str, Any]], on_text: TextSink | None = None
    ) -> Completion:
        """The tier's reply; ``on_text`` gets the raw text as it streams, if given."""
        if on_text is None:
            return await self._across(tier, lambda d: self._plain(d, messages))
        said = _Said(on_text)
        return await self._across(tier, lambda d: self._streamed(d, messages, said), said)

    async def complete_tools(
        self, tier: LLMTierConfig, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
        tool_choice: str,
    ) -> tuple[Reply, Completion]:
        """One round with ``tools`` attached: the reply (maybe tool calls) and its cost."""

        async def ask(deployment: Deployment) -> tuple[Reply, Completion]:
            reply = await self._reply(deployment, messages, tools=tools, tool_choice=tool_choice)
            return reply, self._completion(deployment, reply.text, reply.usage)

        return await self._across(tier, ask)

    async def _across(
        self, tier: LLMTierConfig, attempt: Callable[[Deployment], Awaitable[T]],
        said: _Said | None = None,
    ) -> T:
        """Try the tier's deployments in turn (rotating), until one answers."""
        deployments = self.deployments[tier.name]
        start = next(self._turns[tier.name])
        failure: BaseException | None = None
        try:
            async with asyncio.timeout(self.config.timeout_s * len(deployments) + 1):
                for step in range(len(deployments)):
                    deployment = deployments[(start + step) % len(deployments)]
                    try:
                        return await attempt(deployment)
                    except Exception as exc:  # litellm and openai raise their own error types
                        failure = exc
                        logger.warning("llm: %s failed (%s)", deployment.id, _kind(exc))
                        if said is not None and said.started:
                            break  # the customer has part of this answer: no second one
        except TimeoutError as exc:
            failure = exc
        assert failure is not None
        if isinstance(failure, TierFailed):
            raise failure
        raise TierFailed(tier.name, _kind(failure)) from failure

    async def _plain(self, deployment: Deployment, messages: list[dict[str, Any]]) -> Completion:
        reply = await self._reply(deployment, messages)
        return self._completion(deployment, reply.text, reply.usage)

    async def _reply(self, deployment: Deployment, messages: list[dict[str, Any]], **extra: Any) -> Reply:
        if deployment.wire is not None:
            async with self._client() as session:
                return await deployment.wire.reply(session, messages, self.config.timeout_s, **extra)
        import litellm

        response = await litellm.acompletion(
            **deployment.params, **self._litellm_args(), messages=messages, **extra
        )
        message = response.choices[0].message
        calls = tuple(
            ToolCall(str(c.id), str(c.function.name), c.function.arguments or "{}")
            for c in message.tool_calls or ()
        )
        return Reply(message.content or "", calls, _litellm_usage(getattr(response, "usage", None)))

    async def _streamed(
        self, deployment: Deployment, messages: list[dict[str, Any]], said: _Said
    ) -> Completion:
        parts: list[str] = []
        usage = Usage()
        async for item in await self._first_chunk(deployment, messages):
            if isinstance(item, Usage):
                usage = item
            else:
                parts.append(item)
                await said(item)
        return self._completion(deployment, "".join(parts), usage)

    async def _first_chunk(
        self, deployment: Deployment, messages: list[dict[str, Any]]
    ) -> AsyncIterator[str | Usage]:
        """The stream from its first item, which must come within
        ``[llm] first_token_timeout_s``: a provider that hangs fails fast."""
        limit = min(self.config.first_token_timeout_s, self.config.timeout_s)
        items = aiter(self._stream(deployment, messages))
        try:
            async with asyncio.timeout(limit):
                first = await anext(items, None)
        except TimeoutError:
            await items.aclose()  # type: ignore[attr-defined]
            raise TierFailed(deployment.tier, f"no first token within {limit:g} s") from None

        async def rest() -> AsyncIterator[str | Usage]:
            if first is None:
                return
            yield first
            async for item in items:
                yield item

        return rest()

    async def _stream(self, deployment: Deployment, messages: list[dict[str, Any]]) -> AsyncIterator[str | Usage]:
        if deployment.wire is not None:
            async with self._client() as session:
                async for item in deployment.wire.stream(session, messages, self.config.timeout_s):
                    yield item
            return
        import litellm

        stream = await litellm.acompletion(
            **deployment.params, **self._litellm_args(), messages=messages,
            stream=True, stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if getattr(chunk, "usage", None):
                yield _litellm_usage(chunk.usage)
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        """The pre-built session; without one (a bare stage in tests), a session for this call."""
        if self._session is not None:
            yield self._session
            return
        import aiohttp

        async with aiohttp.ClientSession() as session:
            yield session

    def _litellm_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"timeout": self.config.timeout_s}
        if self._session is not None:
            args["shared_session"] = self._session
        return args

    def _completion(self, deployment: Deployment, text: str, usage: Usage) -> Completion:
        cost = deployment.price.cost(usage.tokens_in, usage.tokens_out)
        return Completion(
            text=text,
            tier=deployment.tier,
            model=deployment.config.model,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cost_usd=cost or 0.0,
            priced=cost is not None,
        )


class _Said:
    """Passes streamed text on, and remembers whether any reached the customer."""

    def __init__(self, sink: TextSink) -> None:
        self._sink = sink
        self.started = False

    async def __call__(self, text: str) -> None:
        self.started = True
        await self._sink(text)


def _litellm_usage(usage: Any) -> Usage:
    return Usage(
        int(getattr(usage, "prompt_tokens", 0) or 0), int(getattr(usage, "completion_tokens", 0) or 0)
    )


def _kind(exc: BaseException) -> str:
    """A short, safe name for a provider failure (never the provider's message)."""
    if isinstance(exc, TierFailed):
        return exc.kind
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return "timeout"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    return type(exc).__name__
