"""The LLM tiers load off the event loop, reload atomically, and queue past max_concurrency."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.service import HubService
from providers import LLMStage
from tests.fakes.llm_api import FakeLLM, Hang, Reply, answer_json
from tests.harness import WebchatClient, free_port, make_config, running_hub
from tests.providers.conftest import OPENAI_KEY_ENV, llm_section

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "We open at nine."
HELLO_RULE = {"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hi there!"}


def one_tier(fake: FakeLLM, name: str = "cheap", **tier: Any) -> dict[str, Any]:
    model = {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base,
             "api_key_env": OPENAI_KEY_ENV}
    return llm_section(fake, tiers=[{"name": name, "models": [model], **tier}])


def llm_stage(service: HubService) -> LLMStage:
    return next(s for s in service.hub.chain.stages if isinstance(s, LLMStage))


async def health(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/healthz") as response:
        return response.status, await response.json()


def config_file(folder: Path, fake: FakeLLM, port: int) -> Path:
    path = folder / "config.toml"
    path.write_text(f"""
[server]
port = {port}
[kb]
enabled = false
[[rules]]
name = "greeting"
keywords = ["hello"]
action = "reply"
text = "Hi there!"
[[llm.tiers]]
name = "cheap"
[[llm.tiers.models]]
model = "openai/gpt-4o-mini"
api_base = "{fake.openai_base}"
api_key_env = "{OPENAI_KEY_ENV}"
""")
    return path


# A fresh `hub run` imports the KB's and litellm's libraries: seconds on a quiet machine,
# over a minute on a loaded CI runner. Generous bounds, never the assertion.
STARTUP_S = 240.0


async def first_health(url: str) -> tuple[int, dict[str, Any]]:
    """The first answer of a freshly started hub's /healthz."""
    deadline = asyncio.get_running_loop().time() + STARTUP_S
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            try:
                return await health(http, url)
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"the hub never answered /healthz within {STARTUP_S} s")


async def test_a_rule_answer_never_waits_for_the_llm_warm_up(fake: FakeLLM, tmp_path: Path) -> None:
    """A fresh `hub run` (litellm not imported yet): /healthz says starting, and a rule
    answers while the LLM tier still loads, even right after an LLM question."""
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, OPENAI_KEY_ENV: "sk-test", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    log_file = tmp_path / "hub.log"
    with log_file.open("wb") as log:
        hub = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "run", "--config",
            str(config_file(tmp_path, fake, port)),
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
    try:
        status, body = await first_health(url)
        assert (status, body["status"], body["components"]["llm"]["status"]) == (
            503, "starting", "starting")
        async with WebchatClient.connect(url) as asking, WebchatClient.connect(url) as greeting:
            await asking.send({"type": "message", "id": "q-llm", "text": "when do you open"})
            await asyncio.sleep(0.1)  # the LLM question is the tier's first use
            hi = await greeting.say("hello", id="q-rule")
            async with aiohttp.ClientSession() as http:
                status_then, _ = await health(http, url)
            answer = await asking.expect("message", timeout=STARTUP_S)  # litellm loads first
        assert hi["text"] == "Hi there!"
        assert status_then == 503  # the rule answered while the LLM tier was still loading
        assert answer["reply_to"] == "q-llm" and answer["text"] == ANSWER
        async with aiohttp.ClientSession() as http:
            status, body = await health(http, url)
        assert status == 200 and body["components"]["llm"]["tiers"] == ["cheap"]
    finally:
        hub.terminate()
        await asyncio.wait_for(hub.wait(), 30)
    logged = log_file.read_text()
    assert "litellm imported in" in logged and "built in" in logged and "warmed up in" in logged


async def test_a_reload_builds_the_new_tiers_off_the_loop_and_swaps_them_in(
    fake: FakeLLM,
) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    config = make_config(llm=one_tier(fake))
    async with running_hub(config) as service, WebchatClient.connect(service.url) as customer:
        await customer.send({"type": "message", "id": "q1", "text": "when do you open"})
        assert (await customer.expect("message", timeout=60))["text"] == ANSWER
        stage = llm_stage(service)
        old = stage.routers.current
        assert old is not None and old.names == ["cheap"]
        await service.hub.apply_config(make_config(llm=one_tier(fake, name="everyday")))
        assert stage.routers.current is old  # still serving: the new one builds in a thread
        await customer.send({"type": "message", "id": "q2", "text": "and on sundays?"})
        assert (await customer.expect("message", timeout=60))["text"] == ANSWER
        assert stage.routers.current is not old and stage.routers.current.names == ["everyday"]
        assert llm_stage(service).health()["tiers"] == ["everyday"]


async def test_past_max_concurrency_a_question_queues_and_is_told_once(fake: FakeLLM) -> None:
    fake.on("gpt-4o-mini", Reply(answer_json(ANSWER)))
    fake.delay_s = 1.0
    llm = {**one_tier(fake, max_concurrency=1), "queue_notice_s": 0.3}
    async with running_hub(make_config(llm=llm)) as service:
        await llm_stage(service).router_for(service.config.llm)  # loaded before the clock starts
        async with WebchatClient.connect(service.url) as first, \
                WebchatClient.connect(service.url) as second:
            await first.send({"type": "message", "id": "a", "text": "when do you open"})
            await asyncio.sleep(0.2)  # the first question holds the only slot
            await second.send({"type": "message", "id": "b", "text": "are you open on sunday"})
            first_frames = await _messages_until_answer(first, "a")
            second_frames = await _messages_until_answer(second, "b")
    assert fake.peak_in_flight == 1 and fake.calls == 2
    assert [f["text"] for f in first_frames] == [ANSWER]
    assert [f["text"] for f in second_frames] == ["Still working on it…", ANSWER]
    assert all(f["reply_to"] == "b" for f in second_frames)


async def _messages_until_answer(client: WebchatClient, frame_id: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await client.expect("message", timeout=30, reply_to=frame_id)
        frames.append(frame)
        if frame["text"] == ANSWER:
            return frames


async def test_a_provider_that_sends_no_first_token_fails_over_fast(
    fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    """A hanging cheap tier fails after first_token_timeout_s, not the whole timeout_s."""
    fake.on("gpt-4o-mini", Hang())
    fake.on("claude-sonnet-4-5", Reply(answer_json(ANSWER)))
    llm = llm_section(fake, timeout_s=60.0, first_token_timeout_s=0.5)
    async with running_hub(make_config(llm=llm)) as service:
        await llm_stage(service).router_for(service.config.llm)
        async with WebchatClient.connect(service.url) as customer:
            await customer.send({"type": "message", "id": "q", "text": "when do you open"})
            answer = await customer.expect("message", timeout=30, reply_to="q")
    assert answer["text"] == ANSWER  # from the premium tier
    assert "llm tier cheap failed: no first token within 0.5 s" in caplog.text
