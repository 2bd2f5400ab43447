"""Which messages ask for a person: the default phrases and request words, table-driven.

Decided: a question *about* the bot ("is a human reading this?", "are you a
person?") is not a request. The bot answers it (or says it cannot), and after
``offer_after_failures`` unhelpful answers the reply offers the button for a
person anyway. Only messages that ask for one count.
"""

from __future__ import annotations

import pytest

from hub.config import Config
from hub.handoff.stages import asks_for_person
from hub.text import fold

HANDOFF = Config().handoff

# Real phrasings (support-chat logs, Reddit threads on "how do I reach a human", IVR habits).
ASKS = [
    "can I get a human please",
    "talk to a real person",
    "agent please",
    "I want to speak to someone",
    "representative",
    "operator",
    "OPERATOR!!!",
    "Can I talk to a human?",
    "let me speak to a manager",
    "I need a real human",
    "live agent",
    "connect me with an agent",
    "transfer me to a human",
    "is there someone I can talk to?",
    "get me a human",
    "HUMAN PLEASE",
    "customer service representative",
    "I'd like to talk to customer service",
    "speak with a person",
    "real person please",
    "I want a human",
    "put me through to an agent",
    "can i chat with a human",
    "stop. I want to talk to someone",
    "I need to speak to somebody",
    "Representative please",
    "connect me to a live person",
    "can someone from your team help me",
    "I'd rather talk to an actual person",
    "get me an agent now",
    "human",
    "agent pls",
    "i wanna talk to a human being",
    "anyone there?",
    "this bot is useless, speak to a human",
    "I’d like a person please",  # typographic apostrophe
    # the demo's other languages
    "人工客服",
    "我要转人工",
    "请帮我找人工",
    "人工",
    "je voudrais parler à un conseiller",
    "Puis-je parler à quelqu’un ?",
    "conseiller",
]

# Near-misses: a word that names a person, in a message about something else.
DOES_NOT_ASK = [
    "is a human reading this?",
    "are you a human?",
    "are you a bot or a person?",
    "my travel agent booked this order",
    "the delivery person left my parcel at the wrong door",
    "the operator of the parcel locker lost it",
    "someone stole my package",
    "can someone explain the return policy",
    "I talked to a person on the phone yesterday about my refund",
    "personal details",
    "what are your opening hours",
    "I need help with my order",
    "yes please",
    "the manager's email address",
    "human rights policy of your suppliers",
    "人工智能是什么",  # "what is artificial intelligence": 人工 inside another word
    "我想退货",
    "mon conseiller bancaire m'a dit de vous écrire",
]


@pytest.mark.parametrize("text", ASKS)
def test_asks_for_a_person(text: str) -> None:
    assert asks_for_person(fold(text), HANDOFF)


@pytest.mark.parametrize("text", DOES_NOT_ASK)
def test_does_not_ask_for_a_person(text: str) -> None:
    assert not asks_for_person(fold(text), HANDOFF)


def test_there_are_at_least_thirty_real_phrasings() -> None:
    assert len(set(ASKS)) >= 30


def test_admins_replace_the_phrases_and_words() -> None:
    config = Config.from_mapping(
        {"handoff": {"request_phrases": ["parler à un conseiller"], "request_words": ["conseiller"]}}
    ).handoff
    assert asks_for_person(fold("Je veux parler à un conseiller"), config)
    assert asks_for_person(fold("conseiller"), config)
    assert not asks_for_person(fold("talk to a human"), config)


def test_chinese_phrases_match_inside_the_sentence() -> None:
    config = Config.from_mapping({"handoff": {"request_phrases": ["人工客服", "转人工"]}}).handoff
    assert asks_for_person(fold("请帮我转人工"), config)
    assert not asks_for_person(fold("我想退货"), config)
