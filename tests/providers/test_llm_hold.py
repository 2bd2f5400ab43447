"""[llm] hold_s: a rule's answer to a newer message does not wait out a slow LLM answer.

Policy (docs/llm.md): past hold_s the newer message is handled and answered;
the pending LLM answer is still delivered when it comes, and its transcript
line says that newer messages went ahead. No message is lost or answered
twice, on the memory store and on Redis (where each entry is acked on its own
once its answer is sent: the held one stays pending, and a restart answers it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.conversation import TranscriptEntry
from hub.service import HubService
from tests.fakes.llm_api import FakeLLM, Held, Reply, answer_json
from tests.harness import WebchatClient, make_config, running_hub
from tests.providers.test_llm_hang import loaded, one_tier

ANSWER = "We open at nine."
HELLO = {"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hi there!"}


def hold_config(fake: FakeLLM, **store: Any) -> Any:
    llm = one_tier(fake, hold_s=0.2, still_working_s=60, timeout_s=60, first_token_timeout_s=60)
    return make_config(llm=llm, rules=[HELLO], **({"store": store} if store else {}))


async def transcript(service: HubService, session: str) -> list[TranscriptEntry]:
    conversation = await service.hub.store.conversation_at(f"webchat:{session}")
    assert conversation is not None
    return await service.hub.store.transcript(conversation.id, limit=50)


async def pending_becomes(service: HubService, count: int, within_s: float = 10.0) -> bool:
    """Poll the ingress (bounded) until ``count`` entries are pending (TimeoutError if never)."""
    async with asyncio.timeout(within_s):
        while (await service.hub.ingress_health())["pending"] != count:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return True


async def ask_then_greet(service: HubService, customer: WebchatClient, slow: Held) -> dict[str, Any]:
    """The slow question, then "hello" once the provider has it: the greeting comes first."""
    await customer.send({"type": "message", "id": "q", "text": "when do you open"})
    await slow.arrived.wait()
    hello = await customer.say("hello", id="hi")
    assert not slow.release.is_set()  # answered while the LLM answer was still pending
    return hello


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_a_rule_answers_a_newer_message_while_the_llm_answer_is_pending(
    fake: FakeLLM, backend: str, request: pytest.FixtureRequest
) -> None:
    slow = Held(Reply(answer_json(ANSWER)))
    fake.on("gpt-4o-mini", slow)
    store = {"url": request.getfixturevalue("redis_url")} if backend == "redis" else {}
    async with running_hub(hold_config(fake, **store)) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as customer:
            hello = await ask_then_greet(service, customer, slow)
            assert hello["text"] == "Hi there!"
            # the greeting's entry is acked (just after its answer went out); the held one
            # is still pending in the ingress
            assert await pending_becomes(service, 1)
            slow.release.set()
            answer = await customer.expect("message", timeout=30, reply_to="q")
            assert answer["text"] == ANSWER
            assert await customer.silence(0.5) == []  # each answered once
            await service.hub.drain()
            assert await pending_becomes(service, 0)
            lines = await transcript(service, customer.session_id)
    said = [(e.sender, e.text) for e in lines]
    assert said == [("customer", "when do you open"), ("customer", "hello"),
                    ("bot", "Hi there!"), ("bot", ANSWER)]
    assert "1 newer message(s) went ahead ([llm] hold_s)" in (lines[-1].reason or "")
    assert fake.calls == 1


async def test_a_held_answer_cut_off_by_a_restart_is_answered_once_after_it(
    fake: FakeLLM, redis_url: str
) -> None:
    slow = Held(Reply(answer_json(ANSWER)))
    fake.on("gpt-4o-mini", slow)
    config = hold_config(fake, url=redis_url)
    async with running_hub(config) as service:
        await loaded(service)
        async with WebchatClient.connect(service.url) as customer:
            assert (await ask_then_greet(service, customer, slow))["text"] == "Hi there!"
            token, session = customer.session, customer.session_id
        await service.hub.close(drain_s=0.2)  # the held question is left pending, unanswered
    slow.release.set()
    async with running_hub(config) as service:
        await loaded(service)
        await service.hub.drain()  # the new owner takes the pending entry back and answers it
        async with WebchatClient.connect(service.url, session=token) as customer:
            said = [(f["from"], f["text"]) for f in customer.history]
        lines = await transcript(service, session)
    assert said == [("customer", "when do you open"), ("customer", "hello"),
                    ("bot", "Hi there!"), ("bot", ANSWER)]
    assert [e.text for e in lines].count("Hi there!") == 1  # the acked greeting is not redone
    assert fake.calls == 2  # asked again after the restart: the first call never answered
