"""Keyword rules: whole words, case and accents, patterns, channels, priority, actions."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import Config
from hub.conversation import Conversation
from hub.envelope import Button, InboundMessage
from hub.stages import Turn
from routing.rules import RuleStage


def turn(text: str, rules: list[dict[str, Any]], channel: str = "webchat", **extra: Any) -> Turn:
    config = Config.from_mapping({"rules": rules, **extra})
    message = InboundMessage(
        channel=channel, conversation_id="c", user_id="u", message_id="m", text=text
    )
    return Turn(message=message, conversation=Conversation.start(message), config=config)


def reply(name: str, text: str = "ok", **fields: Any) -> dict[str, Any]:
    return {"name": name, "action": "reply", "text": text, **fields}


async def decide(text: str, rules: list[dict[str, Any]], **kw: Any):
    t = turn(text, rules, **kw)
    return await RuleStage()(t), t


async def test_keywords_ignore_case_and_accents_but_need_whole_words() -> None:
    rules = [reply("refund", keywords=["remboursé", "refund"])]
    assert (await decide("Je veux être REMBOURSE", rules))[0] is not None
    assert (await decide("any refund?", rules))[0] is not None
    assert (await decide("refunds please", rules))[0] is None
    assert (await decide("prefund", rules))[0] is None


async def test_multi_word_keywords_tolerate_spacing() -> None:
    rules = [reply("hours", keywords=["opening hours"])]
    assert (await decide("your  Opening\nHours?", rules))[0] is not None
    assert (await decide("opening the hours", rules))[0] is None


async def test_pattern_alone_and_with_keywords() -> None:
    order = reply("order", pattern=r"order\s*#?\d{5}")
    both = reply("refund-order", keywords=["refund"], pattern=r"\d{5}", priority=5)
    assert (await decide("Order #12345 is late", [order]))[0].details["rule"] == "order"
    decision, _ = await decide("refund order 12345", [order, both])
    assert decision.details["rule"] == "refund-order"
    decision, _ = await decide("refund please", [order, both])
    assert decision is None


async def test_channels_filter() -> None:
    rules = [reply("tg-only", keywords=["hello"], channels=["telegram"])]
    assert (await decide("hello", rules, channel="webchat"))[0] is None
    assert (await decide("hello", rules, channel="telegram"))[0] is not None


async def test_priority_then_file_order() -> None:
    rules = [reply("first", "1", keywords=["x"]), reply("second", "2", keywords=["x"]),
             reply("urgent", "3", keywords=["x"], priority=9)]
    assert (await decide("x", rules))[0].details["rule"] == "urgent"
    assert (await decide("x", rules[:2]))[0].details["rule"] == "first"


async def test_reply_with_buttons_records_the_rule() -> None:
    rules = [reply("hi", "Hello!", keywords=["hi"], buttons=[{"label": "Track", "value": "track"}])]
    decision, _ = await decide("hi there", rules)
    assert decision.stage == "rules"
    assert decision.text == "Hello!"
    assert decision.buttons == (Button("Track", "track"),)
    assert decision.details["rule"] == "hi"
    assert "rule 'hi' matched keyword 'hi'" in decision.reason


async def test_tag_rules_tag_and_let_later_rules_decide() -> None:
    rules = [{"name": "vip", "keywords": ["gold"], "action": "tag", "tags": ["vip"], "priority": 5},
             reply("hi", "Hello!", keywords=["hi"])]
    decision, t = await decide("hi, gold member here", rules)
    assert decision is not None and decision.details["rule"] == "hi"
    assert t.tags == {"vip"}
    assert "tagged vip" in t.trace[0]


async def test_handoff_rule_asks_for_a_person() -> None:
    rules = [{"name": "legal", "keywords": ["lawyer"], "action": "handoff", "queue": "legal"}]
    decision, _ = await decide("my lawyer will call", rules)
    assert decision.handoff is not None
    assert (decision.handoff.queue, decision.handoff.reason) == ("legal", "rule legal")


async def test_route_rule_forces_a_tier_and_passes_on() -> None:
    rules = [{"name": "complex", "keywords": ["contract"], "action": "route", "tier": "premium"},
             reply("never", keywords=["contract"])]
    llm = {"tiers": [{"name": "premium", "models": [{"model": "openai/gpt-4o"}]}]}
    decision, t = await decide("about my contract", rules, llm=llm)
    assert decision is None
    assert t.forced_tier == "premium"


async def test_no_rules_no_decision() -> None:
    assert (await decide("anything", []))[0] is None


# Word boundaries only between characters of scripts that put spaces between words;
# Chinese, Japanese and Thai keywords match inside the text.
SCRIPTS = [
    # (keyword, message, matches)
    ("退货", "我想退货", True),
    ("退货", "退货", True),
    ("退货", "returns退货", True),
    ("退货", "退货流程是什么?", True),
    ("退货", "我想 退货", True),
    ("退货", "我想退款", False),
    ("returns", "returns退货", True),  # a script change is a word boundary
    ("return", "returns退货", False),  # Latin words are still whole words
    ("refund", "我要refund", True),
    ("refund", "我要refunds", False),
    ("帮助", "我需要帮助", True),
    ("人工客服", "请转人工客服", True),
    ("返品", "返品したいです", True),  # Japanese: kanji in kana
    ("キャンセル", "注文をキャンセルしたい", True),
    ("キャンセル", "注文をｷｬﾝｾﾙしたい", True),  # half-width katakana folds
    ("ガイド", "カイドはどこ", False),  # dakuten is a letter, not an accent
    ("คืนเงิน", "ฉันต้องการคืนเงินค่ะ", True),  # Thai: "refund" inside a sentence
    ("กิน", "กน", False),  # Thai vowel signs are kept
    ("환불", "환불 요청합니다", True),  # Korean separates words with spaces
    ("환불", "무환불", False),
    ("return", "ｒｅｔｕｒｎ my jacket", True),  # full-width Latin folds
    ("remboursé", "Je veux être REMBOURSE", True),
    ("refund", "prefund", False),
    ("order 12345", "ORDER   12345 please", True),
    ("12345", "order12345", False),
]


@pytest.mark.parametrize("keyword, text, matches", SCRIPTS)
async def test_keywords_in_every_script(keyword: str, text: str, matches: bool) -> None:
    decision, _ = await decide(text, [reply("r", keywords=[keyword])])
    assert (decision is not None) is matches
