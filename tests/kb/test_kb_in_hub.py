"""The knowledge base inside the running hub: answers, grounding, reloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.harness import WebchatClient, make_config, running_hub
from tests.kb.conftest import SMALL_FAQ

REPO = Path(__file__).resolve().parents[2]


def kb_config(path: Path, **extra: object):
    return make_config(kb={"enabled": True, "path": str(path), "threshold": 0.3}, **extra)


async def test_webchat_question_answered_from_the_faq(faq_path: Path) -> None:
    async with running_hub(kb_config(faq_path)) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("I want to send my shoes back")
        assert reply["text"] == "Within 30 days."
        assert reply["buttons"] == [{"label": "Start a return", "value": "start return"}]
        async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/healthz") as resp:
            assert (await resp.json())["components"]["kb"]["entries"] == 4


async def test_the_shipped_demo_faq_answers(tmp_path: Path) -> None:
    config = kb_config(REPO / "kb" / "faq.toml")
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("can I pay with PayPal?")
        assert "PayPal" in reply["text"]


async def test_route_rule_skips_the_faq_answer(faq_path: Path) -> None:
    rules = [{"name": "complex", "keywords": ["paypal"], "action": "route", "tier": "premium"}]
    llm = {"enabled": False, "tiers": [{"name": "premium", "models": [{"model": "openai/x"}]}]}
    async with running_hub(kb_config(faq_path, rules=rules, llm=llm)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            reply = await chat.say("can I pay with paypal")
            assert reply["text"] != "Cards, PayPal and Klarna."


async def test_faq_edit_is_picked_up_and_a_bad_edit_keeps_the_last_good(faq_path: Path) -> None:
    async with running_hub(kb_config(faq_path)) as hub, WebchatClient.connect(hub.url) as chat:
        faq_path.write_text(SMALL_FAQ.replace("Cards, PayPal and Klarna.", "Cards only."))
        for _ in range(60):
            if (await chat.say("can I pay with paypal"))["text"] == "Cards only.":
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the FAQ edit was not picked up")
        faq_path.write_text(SMALL_FAQ.replace('answer = "Cards, PayPal and Klarna."', 'answer = ""'))
        await asyncio.sleep(2.5)
        assert (await chat.say("can I pay with paypal"))["text"] == "Cards only."
