"""Replies in the customer's language: system texts, rules per language, the LLM prompt,
the webchat page's language frame field, the agents' view of an escalation."""

from __future__ import annotations

import pytest

from adapters.slack.agents import escalation_blocks
from hub.config import Config
from hub.errors import ConfigError
from hub.handoff import Escalation
from hub.text import fold, phrase_regex
from providers.prompt import build_messages
from tests.harness import WebchatClient, make_config, running_hub

LANGUAGES = {"supported": ["en", "zh", "fr"], "default": "en"}
RULES = [
    {"name": "hours-zh", "keywords": ["营业时间"], "lang": "zh", "action": "reply", "text": "早九晚五"},
    {"name": "hours", "keywords": ["hours", "营业时间"], "action": "reply", "text": "9-5"},
    {"name": "returns-zh", "keywords": ["退貨"], "lang": ["zh"], "action": "reply", "text": "30天"},
]
MESSAGES = {
    "zh": {"no_agents": "抱歉，没有客服。", "no_agents_meanwhile": "请说详细一点。", "offer_button": "转人工客服"},
    "fr": {"cannot_help": "Désolé, je ne peux pas vous aider."},
}


async def test_a_reply_carries_the_language_and_system_texts_are_in_it() -> None:
    config = make_config(rules=RULES, languages=LANGUAGES, messages=MESSAGES)
    async with running_hub(config) as service, WebchatClient.connect(service.url) as chat:
        zh = await chat.say("你们的营业时间是什么时候")
        assert zh["text"] == "早九晚五" and zh["language"] == "zh"  # the zh rule wins
        person = await chat.say("转人工客服")  # the zh button for a person; no agents here
        assert person["text"].startswith("抱歉，没有客服。") and person["language"] == "zh"
    async with running_hub(config) as service, WebchatClient.connect(service.url) as chat:
        fr = await chat.say("Pouvez-vous me dire la météo à Paris demain matin ?")
        assert fr["text"].startswith("Désolé, je ne peux pas vous aider.") and fr["language"] == "fr"
        en = await chat.say("what are your opening hours, please?")
        assert en["text"] == "9-5"  # the zh rule is not for an English conversation...


async def test_one_language_adds_no_frame_field() -> None:
    async with running_hub(make_config(rules=RULES)) as service, WebchatClient.connect(service.url) as chat:
        frame = await chat.say("what are your hours?")
        assert frame["text"] == "9-5" and "language" not in frame


def test_keywords_fold_traditional_to_simplified_and_full_width() -> None:
    assert fold("我想退貨") == fold("我想退货")
    pattern = phrase_regex(("退貨",))
    assert pattern is not None and pattern.search(fold("我想退货")) is not None
    assert pattern.search(fold("我想退貨，謝謝")) is not None
    assert phrase_regex(("return",)).search(fold("ＲＥＴＵＲＮ please")) is not None  # type: ignore[union-attr]


def test_rule_lang_is_checked_and_named() -> None:
    assert Config.from_mapping({"rules": RULES}).rules[2].lang == ("zh",)
    with pytest.raises(ConfigError, match=r"rules\[0\]\.lang"):
        Config.from_mapping({"rules": [{**RULES[0], "lang": "chinese"}]})


def test_the_prompt_says_which_language_to_answer_in() -> None:
    system = build_messages("Be nice.", "我的订单什么时候到？", [], language="zh")[0]["content"]
    assert "Chinese" in system and "answer" in system
    assert "writes in" not in build_messages("Be nice.", "where is my order", [])[0]["content"]


def test_the_agents_see_the_customers_language() -> None:
    escalation = Escalation(
        conversation_id="c", address="webchat:s", channel="webchat", customer="Li", reason="asked",
        language="zh", gist="Asks when the order arrives.",
    )
    facts = escalation_blocks(escalation)[1]["text"]["text"]
    assert "*Language:* Chinese (zh)" in facts
    assert "*Gist (English):* Asks when the order arrives." in facts
    assert "Language" not in escalation_blocks(escalation.evolve(language="", gist=""))[1]["text"]["text"]
