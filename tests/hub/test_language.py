"""Language detection per message ([languages], hub/language.py), with real lingua models."""

from __future__ import annotations

import pytest

from hub.config import Config
from hub.errors import ConfigError
from hub.language import LanguageDetector
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "hours", "keywords": ["hours", "horaires", "营业"], "action": "reply", "text": "9-5"}]


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(("en", "fr", "zh"), "en")


def test_one_supported_language_needs_no_model() -> None:
    only = LanguageDetector(("en",), "en")
    assert only.detect("Bonjour, je voudrais retourner ma veste") == "en"
    assert only._detector is None


@pytest.mark.parametrize(("text", "language"), [
    ("Bonjour, je voudrais retourner ma veste", "fr"),
    ("我想退货", "zh"),
    ("wher is my ordr?? its been 2 weeks", "en"),
    ("Where is my order NW-12345?", "en"),
    ("Quels sont vos horaires d'ouverture ?", "fr"),
    ("你们的营业时间是什么时候", "zh"),
])
def test_a_first_message_in_each_supported_language(
    detector: LanguageDetector, text: str, language: str
) -> None:
    assert detector.detect(text) == language


@pytest.mark.parametrize("text", ["ok", "#123", "👍", "NW-12345", "   "])
def test_what_says_nothing_keeps_the_conversation_language(
    detector: LanguageDetector, text: str
) -> None:
    assert detector.detect(text, "fr") == "fr"
    assert detector.detect(text) == "en"  # a first message: the default


def test_a_clear_switch_changes_the_language_a_short_word_does_not(
    detector: LanguageDetector,
) -> None:
    assert detector.detect("merci", "en") == "en"  # short: not a clear switch
    assert detector.detect("Je voudrais retourner ma veste, s'il vous plaît", "en") == "fr"
    assert detector.detect("我想退货，谢谢", "fr") == "zh"


def test_config_names_the_bad_key() -> None:
    with pytest.raises(ConfigError, match="languages.supported"):
        Config.from_mapping({"languages": {"supported": ["en", "klingon"]}})
    with pytest.raises(ConfigError, match="languages"):
        Config.from_mapping({"languages": {"supported": ["en", "fr"], "default": "zh"}})


async def test_the_language_goes_into_the_transcript_the_metrics_and_sticks() -> None:
    config = make_config(rules=RULES, languages={"supported": ["en", "fr", "zh"], "default": "en"})
    async with running_hub(config) as service, WebchatClient.connect(service.url) as chat:
        assert (await chat.say("Bonjour, quels sont vos horaires ?"))["text"] == "9-5"
        await chat.say("ok")
        hub = service.hub
        conversation = await hub.store.conversation_at(f"webchat:{chat.session_id}")
        assert conversation is not None and conversation.data["language"] == "fr"
        said = [e for e in await hub.store.transcript(conversation.id) if e.sender == "customer"]
        assert [e.language for e in said] == ["fr", "fr"]
        assert hub.metrics.languages.labels("fr")._value.get() == 2


async def test_the_fallback_is_said_in_the_customers_language() -> None:
    config = make_config(
        rules=RULES,
        languages={"supported": ["en", "zh"], "default": "en"},
        messages={"zh": {"cannot_help": "抱歉，我无法回答这个问题。"}},
    )
    async with running_hub(config) as service, WebchatClient.connect(service.url) as chat:
        assert (await chat.say("我想知道你们的退货政策是什么"))["text"].startswith("抱歉")
        assert (await chat.say("what is the airspeed of a swallow"))["text"].startswith("Sorry")


async def test_one_language_writes_nothing_per_conversation() -> None:
    async with running_hub(make_config(rules=RULES)) as service, WebchatClient.connect(service.url) as chat:
        await chat.say("what are your hours?")
        hub = service.hub
        conversation = await hub.store.conversation_at(f"webchat:{chat.session_id}")
        assert conversation is not None and "language" not in conversation.data
        said = [e for e in await hub.store.transcript(conversation.id) if e.sender == "customer"]
        assert [e.language for e in said] == ["en"]
