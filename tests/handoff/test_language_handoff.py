"""A Chinese customer handed off: hand-off texts in Chinese, the agents see the language
and (with an LLM tier) a one-line English gist."""

from __future__ import annotations

import pytest

from tests.fakes.llm_api import FakeLLM, Reply
from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import agents_channel, handoff_config
from tests.harness import WebchatClient

KEY_ENV = "SB_TEST_GIST_KEY"
LANGUAGES = {"supported": ["en", "zh"], "default": "en"}
MESSAGES = {"zh": {"queued": "已转给客服，通常在{wait}内回复。", "expected_wait": "15分钟",
                   "resolved": "您的会话已解决。"}}
RULES = [{"name": "person-zh", "keywords": ["转人工"], "lang": "zh", "action": "handoff"}]


def facts(top: dict) -> str:  # type: ignore[type-arg]
    return str(top["blocks"][1]["text"]["text"])


async def test_a_chinese_hand_off_speaks_chinese_and_shows_the_language(slack: FakeSlack) -> None:
    config = handoff_config(slack, {"rules": RULES, "languages": LANGUAGES, "messages": MESSAGES})
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        queued = await chat.say("我的包裹丢了，请帮我转人工")
        assert queued["text"] == "已转给客服，通常在15分钟内回复。"
        top = await agents.escalated()
        assert "*Language:* Chinese (zh)" in facts(top)
        assert "Gist" not in facts(top)  # no LLM tier: no gist
        await agents.press(top, "resolve")
        closing = await chat.expect("message", **{"from": "system"})
        assert closing["text"] == "您的会话已解决。"


async def test_with_an_llm_tier_the_agents_get_an_english_gist(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")
    async with FakeLLM() as llm:
        llm.on("gpt-4o-mini", Reply("The customer's parcel is lost and they want a person."))
        tier = {"name": "cheap", "models": [
            {"model": "openai/gpt-4o-mini", "api_base": llm.openai_base, "api_key_env": KEY_ENV}]}
        config = handoff_config(slack, {
            "rules": RULES, "languages": LANGUAGES, "messages": MESSAGES,
            "llm": {"enabled": True, "timeout_s": 10.0, "tiers": [tier]},
        })
        async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
            await chat.say("我的包裹丢了，请帮我转人工")
            top = await agents.escalated()
            await slack.wait_for("chat.update", lambda p: "Gist" in str(p.get("blocks")), timeout=90)  # litellm loads first
            shown = next(m for m in agents.messages() if m["ts"] == top["ts"])
            assert "*Gist (English):* The customer's parcel is lost and they want a person." in str(shown["blocks"])
            asked = llm.requests[-1].prompt
            assert "Chinese" in asked and "我的包裹丢了" in asked
