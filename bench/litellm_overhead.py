"""What one provider call costs in CPU, by path, against the fake provider (no delay).

litellm's own paths, the openai SDK alone, and the hub's ``TierRouter`` on its
litellm path (``fast_path = false``) and its direct path (the default for
OpenAI-compatible deployments).

Each variant makes 60 calls per round, 3 rounds alternating between variants;
the figure is the median of the rounds of this process's CPU (``process_time``)
per call. The fake provider runs as its own process, so its work is not counted.

    python -m bench.litellm_overhead
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp  # noqa: E402

from bench.llm_load import process, wait_status  # noqa: E402
from bench.webchat_load import free_port  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "You are a helpful support assistant. " * 30},
    {"role": "user", "content": "<customer_message>\nwhen are you open?\n</customer_message>"},
]
VARIANTS = ("router", "router, shared session, no-log", "acompletion, client", "openai SDK",
            "TierRouter, litellm path", "TierRouter, direct path")


async def call(kind: str, stream: bool, env: dict[str, Any]) -> None:
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
    quiet = {"no-log": True}
    if kind == "router":
        reply = await env["router"].acompletion(
            model="t", messages=MESSAGES, timeout=10, stream=stream, **extra)
    elif kind == "router, shared session, no-log":
        reply = await env["router"].acompletion(
            model="t", messages=MESSAGES, timeout=10, stream=stream,
            shared_session=env["session"], **quiet, **extra)
    elif kind == "acompletion, client":
        reply = await env["litellm"].acompletion(
            model="openai/gpt-4o-mini", messages=MESSAGES, timeout=10, stream=stream,
            client=env["client"], **quiet, **extra)
    elif kind.startswith("TierRouter"):
        router = env["direct" if kind.endswith("direct path") else "served"]
        sink = _discard if stream else None
        await router.complete(router.tiers[0], MESSAGES, sink)
        return
    else:
        reply = await env["client"].chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, timeout=10, stream=stream, **extra)
    if stream:
        async for _ in reply:
            pass


async def _discard(text: str) -> None:
    pass


def tier_router(base: str, fast_path: bool) -> Any:
    """What the hub calls: providers.router.TierRouter on one OpenAI-compatible deployment."""
    from hub.config import LLMConfig
    from providers.router import TierRouter

    os.environ["SB_BENCH_KEY"] = "sk-bench"
    tier = {"name": "t", "models": [{"model": "openai/gpt-4o-mini", "api_base": base,
                                     "api_key_env": "SB_BENCH_KEY"}]}
    router = TierRouter(LLMConfig.model_validate({"fast_path": fast_path, "timeout_s": 10, "tiers": [tier]}))
    router.open_session()
    return router


async def measure(base: str, calls: int, rounds: int) -> dict[tuple[str, bool], list[float]]:
    import litellm
    import openai

    litellm.disable_streaming_logging = True  # documented switches; measured to change little
    litellm.telemetry = False
    deployment = {"model": "openai/gpt-4o-mini", "api_key": "sk-bench", "api_base": base}
    env = {
        "litellm": litellm,
        "router": litellm.Router(model_list=[{"model_name": "t", "litellm_params": deployment}]),
        "session": aiohttp.ClientSession(),
        "client": openai.AsyncOpenAI(api_key="sk-bench", base_url=base, max_retries=0),
        "direct": tier_router(base, fast_path=True),
        "served": tier_router(base, fast_path=False),
    }
    results: dict[tuple[str, bool], list[float]] = {}
    try:
        for _ in range(rounds):
            for kind in VARIANTS:
                for stream in (False, True):
                    for _ in range(5):
                        await call(kind, stream, env)
                    started = time.process_time()
                    for _ in range(calls):
                        await call(kind, stream, env)
                    per_call = (time.process_time() - started) / calls
                    results.setdefault((kind, stream), []).append(per_call * 1e6)
    finally:
        await env["session"].close()
        await env["direct"].close()
        await env["served"].close()
    return results


async def main() -> None:
    port = free_port()
    fake = ["-m", "tests.fakes.llm_api", "--port", str(port), "--answer", "We open at nine."]
    async with process(fake):
        await wait_status(f"http://127.0.0.1:{port}/fake/stats", 200)
        results = await measure(f"http://127.0.0.1:{port}/v1", calls=60, rounds=3)
    print(f"CPU per call (median of 3 rounds), load average {os.getloadavg()[0]:.1f}")
    for (kind, stream), rounds in results.items():
        median = sorted(rounds)[len(rounds) // 2]
        print(f"  {kind:<32} {'streamed' if stream else 'plain':<8} {median:8.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
