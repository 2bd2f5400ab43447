"""A provider that fails or hangs: what the log, the customer and /healthz are told."""

from __future__ import annotations

import logging

import pytest

from hub.envelope import InboundMessage
from hub.logs import LIBRARY_LOGGERS
from hub.service import HubService
from hub.stages import Turn
from providers import LLMStage
from tests.fakes.llm_api import Fail, FakeLLM
from tests.harness import WebchatClient, make_config, running_hub
from tests.providers.conftest import llm_section

CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"
BODY = f"upstream exploded while charging {CARD} for {EMAIL} (trace 0xdeadbeef)"


async def ready(service: HubService) -> LLMStage:
    """The LLM stage, its tiers loaded (litellm's import is slow on a busy machine)."""
    stage = next(s for s in service.hub.chain.stages if isinstance(s, LLMStage))
    await stage.router_for(service.config.llm)
    return stage


async def test_a_provider_error_body_reaches_the_log_scrubbed_and_once_at_most(
    fake: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.on("gpt-4o-mini", Fail(500, BODY))
    fake.on("claude-sonnet-4-5", Fail(500, BODY))
    async with running_hub(make_config(llm=llm_section(fake))) as service:
        await ready(service)
        before = len(caplog.records)
        async with WebchatClient.connect(service.url) as customer:
            await customer.send({"type": "message", "id": "q", "text": "when do you open"})
            reply = await customer.expect("message", timeout=30, reply_to="q")
        turn = caplog.records[before:]
    assert reply["text"] == "Our assistant is unavailable right now."  # no contact configured
    assert fake.calls == 2  # both tiers were really asked, by the real litellm client
    logged = caplog.text
    assert CARD not in logged and EMAIL not in logged and "jane.doe" not in logged
    assert not [r for r in turn if r.name.split(".")[0] in LIBRARY_LOGGERS]  # below WARNING
    # The hub's own: one line per failed tier, the hand-off, the decision.
    assert len(turn) <= 2 * fake.calls + 2, [r.getMessage()[:80] for r in turn]
    assert not [r for r in turn if "exploded" in r.getMessage() + (r.exc_text or "")]


async def test_when_every_tier_fails_the_customer_is_told_the_assistant_is_unavailable(
    fake: FakeLLM,
) -> None:
    fake.on("gpt-4o-mini", Fail(503))
    fake.on("claude-sonnet-4-5", Fail(500))
    config = make_config(llm=llm_section(fake), messages={"contact": "help@shop.example"})
    async with running_hub(config) as service:
        await ready(service)
        async with WebchatClient.connect(service.url) as customer:
            await customer.send({"type": "message", "id": "q", "text": "when do you open"})
            reply = await customer.expect("message", timeout=30, reply_to="q")
            decision = await service.hub.decide(await _turn(service, "and on sundays?"))
    assert reply["text"] == (
        "Our assistant is unavailable right now. You can reach our team at help@shop.example."
    )
    assert "no one from the team" not in reply["text"]
    assert decision.details["failures"] == ["cheap: HTTP 503", "premium: HTTP 500"]
    assert decision.details["provider_failed"] and decision.handoff is None


async def _turn(service: HubService, text: str) -> Turn:
    message = InboundMessage("webchat", "probe", "u1", "m1", text)
    conversation = await service.hub.conversation_for(message)
    return await service.hub.new_turn(message, conversation, dry_run=True)
