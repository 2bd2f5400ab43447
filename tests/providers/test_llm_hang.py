"""A slow or failing provider: one "still working" notice a turn, and /healthz degraded."""

from __future__ import annotations

from typing import Any

import aiohttp

from hub.service import overall_status
from providers import LLMStage
from providers.health import TierHealth
from tests.fakes.llm_api import Fail, FakeLLM, Hang, Reply, answer_json
from tests.harness import WebchatClient, make_config, running_hub
from tests.providers.conftest import OPENAI_KEY_ENV, llm_section

ANSWER = "We open at nine."
NOTICE = "Still working on it…"


def one_tier(fake: FakeLLM, **llm: Any) -> dict[str, Any]:
    model = {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base, "api_key_env": OPENAI_KEY_ENV}
    return llm_section(fake, tiers=[{"name": "cheap", "models": [model]}], **llm)


async def loaded(service: Any) -> LLMStage:
    stage = next(s for s in service.hub.chain.stages if isinstance(s, LLMStage))
    await stage.router_for(service.config.llm)  # litellm loaded before any clock starts
    return stage


async def frames_until(client: WebchatClient, reply_to: str, last: str) -> list[str]:
    texts: list[str] = []
    while not texts or texts[-1] != last:
        texts.append((await client.expect("message", timeout=30, reply_to=reply_to))["text"])
    return texts


async def healthz(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        return response.status, await response.json()


async def test_a_slow_answer_is_announced_once_then_delivered(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    fake.delay_s = 1.5  # well past still_working_s, well within timeout_s
    async with running_hub(make_config(llm=one_tier(fake, still_working_s=0.3))) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as customer:
            await customer.send({"type": "message", "id": "q", "text": "when do you open"})
            assert await frames_until(customer, "q", ANSWER) == [NOTICE, ANSWER]
            fake.delay_s = 0.0
            await customer.send({"type": "message", "id": "fast", "text": "and on sunday?"})
            assert await frames_until(customer, "fast", ANSWER) == [ANSWER]  # quick: no notice


async def test_queued_and_slow_in_one_turn_is_still_one_notice(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    fake.delay_s = 1.5
    llm = one_tier(fake, queue_notice_s=0.2, still_working_s=0.4)
    llm["tiers"][0]["max_concurrency"] = 1
    async with running_hub(make_config(llm=llm)) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as first, \
                WebchatClient.connect(service.url) as second:
            await first.send({"type": "message", "id": "a", "text": "when do you open"})
            # told while its call is pending: the first question holds the only slot
            assert await frames_until(first, "a", NOTICE) == [NOTICE]
            await second.send({"type": "message", "id": "b", "text": "are you open on sunday"})
            # queued about 1 s (the queue notice), then 1.5 s on the call (no second notice)
            assert await frames_until(second, "b", ANSWER) == [NOTICE, ANSWER]
            assert await frames_until(first, "a", ANSWER) == [ANSWER]
            assert await second.silence(0.3) == []


async def test_a_failing_tier_makes_healthz_degraded_with_200_until_it_answers(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Fail(500))
    llm = one_tier(fake, degraded_after_failures=2, degraded_window_s=60)
    async with running_hub(make_config(llm=llm)) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as customer:
            await customer.say("when do you open")
            status, body = await healthz(service.url)
            assert status == 200 and body["status"] == "ok"  # one failure is not a pattern
            await customer.say("and on sunday?")
            status, body = await healthz(service.url)
            assert status == 200 and body["status"] == "degraded"
            llm_health = body["components"]["llm"]
            assert llm_health["status"] == "degraded"
            assert llm_health["degraded"]["cheap"]["failures"] == 2
            assert llm_health["degraded"]["cheap"]["last_error"] == "HTTP 500"
            assert body["components"]["store"]["status"] == "ok"
            fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
            assert (await customer.say("and on monday?"))["text"] == ANSWER
            status, body = await healthz(service.url)
            assert status == 200 and body["status"] == "ok" and "degraded" not in body["components"]["llm"]


async def test_a_hanging_tier_counts_its_timeouts(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Hang())
    llm = one_tier(fake, timeout_s=0.5, first_token_timeout_s=0.5, degraded_after_failures=2)
    async with running_hub(make_config(llm=llm)) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as customer:
            for question in ("when do you open", "and on sunday?"):
                reply = await customer.say(question)
                assert reply["text"].startswith("Our assistant is unavailable right now.")
        status, body = await healthz(service.url)
    assert status == 200 and body["status"] == "degraded"
    assert "cheap" in body["components"]["llm"]["degraded"]


def test_failures_outside_the_window_are_forgotten() -> None:
    now = [100.0]
    health = TierHealth(clock=lambda: now[0])
    health.failed("cheap", "timeout")
    now[0] = 150.0
    health.failed("cheap", "HTTP 500")
    assert health.degraded(2, 60) == {
        "cheap": {"failures": 2, "window_s": 60, "last_error": "HTTP 500"}
    }
    now[0] = 161.0  # the first failure left the window
    assert health.degraded(2, 60) == {}
    health.failed("cheap", "timeout")
    health.answered("cheap")
    assert health.degraded(1, 60) == {}


def test_degraded_is_200_but_down_and_starting_stay_503() -> None:
    assert overall_status(["ok", "ok"]) == "ok"
    assert overall_status(["ok", "degraded"]) == "degraded"
    assert overall_status(["degraded", "starting"]) == "starting"
    assert overall_status(["starting", "down", "degraded"]) == "down"
    assert overall_status(["ok", None]) == "down"  # a component that says nothing is not fine
