"""Actions as LLM tools: real litellm against the fake OpenAI server answering with tool_calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hub.stages import Decision, Turn
from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.fakes.shop_api import FakeShop
from tests.flows.conftest import shop_actions
from tests.harness import WebchatClient, make_config, running_hub

KEY_ENV = "SB_TEST_OPENAI_KEY"


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLLM]:
    monkeypatch.setenv(KEY_ENV, "sk-test-openai")
    async with FakeLLM() as llm:
        yield llm


def tool_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m.get("role") == "tool"]


def config(fake: FakeLLM, shop: FakeShop, **llm: Any):  # type: ignore[no-untyped-def]
    model = {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base, "api_key_env": KEY_ENV,
             "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}
    section = {"enabled": True, "timeout_s": 10.0, "tiers": [{"name": "cheap", "models": [model]}], **llm}
    return make_config(llm=section, actions=shop_actions(shop))


async def ready(service: Any) -> None:
    """Wait until /healthz says the LLM tiers are built (litellm loads in the background)."""
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            async with http.get(f"{service.url}/healthz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("the hub never became ready")


async def ask(service: Any, text: str) -> tuple[dict[str, Any], Decision]:
    await ready(service)
    decisions: list[Decision] = []

    async def keep(turn: Turn, decision: Decision) -> None:
        decisions.append(decision)

    service.hub.decision_listeners.append(keep)
    async with WebchatClient.connect(service.url) as chat:
        await chat.send({"type": "message", "id": "q1", "text": text})
        reply = await chat.expect("message", timeout=60, reply_to="q1")  # litellm may still load
    return reply, decisions[-1]


def answer_from_the_tool(body: dict[str, Any]) -> str:
    results = tool_results(body)
    if not results:
        return answer_json("I can't check that.", confident=False)
    order = json.loads(results[-1])
    return answer_json(f"Yes: {order['order_id']} is {order['status']} with {order['carrier']}.",
                       sources=["tool:order_status"])


async def test_the_llm_answers_by_calling_an_action(fake: FakeLLM, shop: FakeShop) -> None:
    shop.orders["NW-10042"]["email"] = "ada@example.com"  # personal data in the shop's answer
    fake.on("gpt-4o-mini", Reply(
        answer_from_the_tool, tokens_in=100, tokens_out=10,
        tool_calls=lambda body: [] if tool_results(body) else [
            {"name": "order_status", "arguments": {"order_id": "NW-10042"}}],
    ))
    async with running_hub(config(fake, shop)) as service:
        reply, decision = await ask(service, "has NW-10042 shipped yet?")
    assert reply["text"] == "Yes: NW-10042 is shipped with DHL."
    assert [r.path for r in shop.requests] == ["/api/orders/NW-10042"]
    first, second = fake.requests
    [tool] = first.body["tools"]
    assert tool["function"]["name"] == "order_status"
    assert tool["function"]["parameters"]["required"] == ["order_id"]
    [result] = tool_results(second.body)
    assert "ada@example.com" not in result and "[email]" in result  # scrubbed before it left
    assert second.body["messages"][-2]["tool_calls"][0]["function"]["name"] == "order_status"
    # both rounds are counted against the conversation's budget
    assert decision.details["tokens_in"] == 200 and decision.details["tokens_out"] == 20
    assert decision.details["cost_usd"] == pytest.approx(2 * (100 * 0.000001 + 10 * 0.000002))


async def test_at_most_max_tool_calls_per_turn(fake: FakeLLM, shop: FakeShop) -> None:
    fake.on("gpt-4o-mini", Reply(
        answer_from_the_tool,
        tool_calls=lambda body: [{"name": "order_status", "arguments": {"order_id": "NW-10042"}}],
    ))
    async with running_hub(config(fake, shop, max_tool_calls=2)) as service:
        reply, _ = await ask(service, "has NW-10042 shipped yet?")
    assert len(shop.requests) == 2
    assert fake.requests[-1].body["tool_choice"] == "none"
    assert reply["text"] == "Yes: NW-10042 is shipped with DHL."


async def test_a_failing_tool_is_reported_to_the_model_not_the_customer(fake: FakeLLM, shop: FakeShop) -> None:
    fake.on("gpt-4o-mini", Reply(
        lambda body: answer_json("I couldn't check your order right now, sorry.", sources=["tool:order_status"]),
        tool_calls=lambda body: [] if tool_results(body) else [
            {"name": "order_status", "arguments": {"order_id": "NW-10042"}}],
    ))
    shop.fail(500, times=5)
    async with running_hub(config(fake, shop)) as service:
        reply, _ = await ask(service, "has NW-10042 shipped yet?")
    assert json.loads(tool_results(fake.requests[-1].body)[0]) == {
        "error": "the shop's system did not answer (http_5xx)"}
    assert reply["text"] == "I couldn't check your order right now, sorry."
