"""The tiers' call path: OpenAI-compatible deployments direct, the rest through litellm.

Against the fake provider (both wire protocols), and a small misbehaving
server for answers that are not chat completions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from hub.config import LLMConfig
from providers.errors import TierFailed
from providers.router import TierRouter
from tests.fakes.llm_api import Fail, FakeLLM, Hang, Reply
from tests.providers.conftest import OPENAI_KEY_ENV, llm_section

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def open_router(section: dict[str, Any]) -> TierRouter:
    router = TierRouter(LLMConfig.model_validate(section))
    router.open_session()
    return router


@pytest.fixture
async def routers() -> AsyncIterator[list[TierRouter]]:
    made: list[TierRouter] = []
    yield made
    for router in made:
        await router.close()


def openai_tier(name: str, *bases_and_models: tuple[str, str]) -> dict[str, Any]:
    return {"name": name, "models": [
        {"model": f"openai/{model}", "api_base": base, "api_key_env": OPENAI_KEY_ENV}
        for base, model in bases_and_models
    ]}


async def collect(router: TierRouter, tier: int = 0, text: str = "hi") -> tuple[Any, list[str]]:
    deltas: list[str] = []

    async def on_text(piece: str) -> None:
        deltas.append(piece)

    done = await router.complete(router.tiers[tier], [{"role": "user", "content": text}], on_text)
    return done, deltas


async def test_openai_deployments_are_called_directly_and_the_rest_through_litellm(
    fake: FakeLLM, routers: list[TierRouter]
) -> None:
    fast = await open_router(llm_section(fake))
    slow = await open_router(llm_section(fake, fast_path=False))
    routers += [fast, slow]
    assert fast.paths() == {"cheap": ["openai/gpt-4o-mini (direct)"],
                            "premium": ["anthropic/claude-sonnet-4-5 (litellm)"]}
    assert slow.paths()["cheap"] == ["openai/gpt-4o-mini (litellm)"]
    fake.on("gpt-4o-mini", Reply("Nine to five.", tokens_in=11, tokens_out=4))
    fake.on("claude-sonnet-4-5", Reply("Nine to five.", tokens_in=11, tokens_out=4))
    for router in (fast, slow):
        for tier in (0, 1):
            plain = await router.complete(router.tiers[tier], [{"role": "user", "content": "hours?"}])
            streamed, deltas = await collect(router, tier)
            for done in (plain, streamed):
                assert (done.text, done.tokens_in, done.tokens_out) == ("Nine to five.", 11, 4)
                assert done.tier == router.tiers[tier].name and done.cost_usd > 0
            assert "".join(deltas) == "Nine to five." and len(deltas) > 1
    direct, served = fake.for_model("gpt-4o-mini")[:2], fake.for_model("gpt-4o-mini")[2:]
    assert [r.headers["authorization"] for r in direct] == ["Bearer sk-test-openai"] * 2
    # the fast router's calls came from our aiohttp client, the slow one's through litellm's SDK
    assert all("aiohttp" in r.headers["user-agent"] for r in direct)
    assert served and not any("aiohttp" in r.headers["user-agent"] for r in served)
    assert direct[1].body["stream"] is True and direct[1].body["stream_options"] == {"include_usage": True}


async def test_a_failed_deployment_hands_the_call_to_the_next_and_calls_rotate(
    fake: FakeLLM, routers: list[TierRouter]
) -> None:
    base = fake.openai_base
    section = llm_section(fake, tiers=[openai_tier("everyday", (base, "alpha"), (base, "beta"))])
    router = await open_router(section)
    routers.append(router)
    fake.on("alpha", Fail(500))
    fake.on("beta", Reply("From beta."))
    answers = [(await collect(router))[0].text for _ in range(3)]
    assert answers == ["From beta."] * 3
    # rotation: alpha first, then beta first (no failure, one call), then alpha first again
    assert [r.model for r in fake.requests] == ["alpha", "beta", "beta", "alpha", "beta"]
    fake.on("beta", Fail(503))
    with pytest.raises(TierFailed) as failed:
        await router.complete(router.tiers[0], [{"role": "user", "content": "hi"}])
    assert failed.value.kind in ("HTTP 500", "HTTP 503")


async def serve(handler: Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def breaks_after_first_words(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Our stores "}}]}\n\n')
    await response.write(b"data: {not json\n\n")
    return response


async def test_a_stream_that_breaks_after_its_first_words_is_not_asked_again(
    fake: FakeLLM, routers: list[TierRouter]
) -> None:
    async for broken in serve(breaks_after_first_words):
        section = llm_section(fake, tiers=[openai_tier("t", (broken, "broken"), (fake.openai_base, "good"))])
        router = await open_router(section)
        routers.append(router)
        with pytest.raises(TierFailed) as failed:
            await collect(router)
        assert failed.value.kind == "BadAnswer"
        assert fake.requests == []  # the customer already has "Our stores ": no second answer


def answering(status: int, body: bytes) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    return handler


@pytest.mark.parametrize(("status", "body", "kind"), [
    (200, b"<html>gateway</html>", "BadAnswer"),
    (200, b'{"object": "chat.completion"}', "BadAnswer"),
    (200, b"[1, 2]", "BadAnswer"),
    (502, b'{"error": "secret upstream detail"}', "HTTP 502"),
])
async def test_answers_that_are_not_chat_completions_are_typed_failures(
    fake: FakeLLM, routers: list[TierRouter], status: int, body: bytes, kind: str
) -> None:
    async for base in serve(answering(status, body)):
        router = await open_router(llm_section(fake, tiers=[openai_tier("t", (base, "m"))]))
        routers.append(router)
        with pytest.raises(TierFailed) as failed:
            await router.complete(router.tiers[0], [{"role": "user", "content": "hi"}])
        assert failed.value.kind == kind and "secret" not in str(failed.value)


async def test_a_direct_stream_that_never_starts_fails_on_the_first_token_timeout(
    fake: FakeLLM, routers: list[TierRouter]
) -> None:
    section = llm_section(fake, first_token_timeout_s=0.3,
                          tiers=[openai_tier("t", (fake.openai_base, "sleepy"))])
    router = await open_router(section)
    routers.append(router)
    fake.on("sleepy", Hang())
    started = asyncio.get_running_loop().time()
    with pytest.raises(TierFailed) as failed:
        await collect(router)
    assert failed.value.kind == "no first token within 0.3 s"
    assert asyncio.get_running_loop().time() - started < 5
