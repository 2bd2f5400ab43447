"""[messages]: every text the hub says itself is a config key, per language if need be."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from hub.config import Config, load_config
from hub.conversation import Conversation
from hub.envelope import InboundMessage
from hub.errors import ConfigError
from hub.handoff import queue_text
from hub.hub import Hub
from hub.messages import MessageTexts
from hub.stages import StageChain, Turn
from hub.store import MemoryStore
from tests.fakes.channel import RecordingChannel

REPO = Path(__file__).resolve().parents[2]


def shipped_messages_section() -> str:
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    start = text.index("\n[messages]\n")
    end = text.index("\n# ----", start)
    return text[start:end]


def test_config_toml_shows_every_key_with_its_true_default() -> None:
    section = shipped_messages_section()
    uncommented = re.sub(r"^# (\w+ = )", r"\1", section, flags=re.MULTILINE)
    shown = tomllib.loads(uncommented)["messages"]
    languages = {key: shown.pop(key) for key in list(shown) if isinstance(shown[key], dict)}
    defaults = MessageTexts()
    assert set(shown) == set(MessageTexts.model_fields)
    # the demo's translations ([messages.zh], [messages.fr]) say every text but the address
    assert set(languages) == {"zh", "fr"}
    for table in languages.values():
        assert set(table) == set(MessageTexts.model_fields) - {"contact"}
    for key, value in shown.items():
        if key != "contact":  # the demo shop sets its own
            assert value == getattr(defaults, key), key


def test_texts_and_contact_come_from_the_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[messages]\ncontact = "https://shop.example/help"\nexpected_wait = "1 hour"\n'
                    'queued = "Queued, about {wait}."\n', encoding="utf-8")
    config = load_config(path)
    assert queue_text(config) == "Queued, about 1 hour."
    assert config.messages.unavailable() == (
        "Our assistant is unavailable right now. You can reach our team at https://shop.example/help."
    )
    assert config.messages.still_working == "Still working on it…"


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('[messages]\ncontact = "call us maybe"\n',
         "config.toml:2: messages.contact: expected an e-mail address or a URL"),
        ('[messages]\ncontact_route = "Write to us."\n',
         "config.toml:2: messages.contact_route: must contain {contact}"),
        ('[messages]\ncannot_hlep = "x"\n', "config.toml:1: messages: unknown key 'cannot_hlep'"),
        ('[messages.zh]\ncannot_hlep = "x"\n', "config.toml:2: messages.zh.cannot_hlep: unknown key"),
        ('[messages.Chinese_simplified]\napology = "x"\n', "a language table is named by a language code"),
        ('[handoff]\nexpected_wait = "1h"\n[messages]\nexpected_wait = "2h"\n',
         "handoff.expected_wait is now messages.expected_wait"),
    ],
)
def test_bad_messages_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert expected in str(caught.value).replace(f"{tmp_path}/", "")


def test_old_handoff_keys_still_work() -> None:
    config = Config.from_mapping({"handoff": {
        "queue_message": "Hold on, {wait}.", "expected_wait": "5 min", "offer_button": "Agent",
        "resolved_message": "Done.", "returned_message": "Back.", "after_hours_message": "Away.",
    }})
    texts = config.messages
    assert (texts.queued, texts.expected_wait, texts.offer_button) == ("Hold on, {wait}.", "5 min", "Agent")
    assert (texts.resolved, texts.returned, texts.after_hours) == ("Done.", "Back.", "Away.")


def test_a_language_table_falls_back_to_the_default_table() -> None:
    config = Config.from_mapping({"messages": {
        "contact": "help@shop.example",
        "zh": {"cannot_help": "抱歉，我帮不了这个。", "contact_route": "请联系 {contact}。"},
        "pt-BR": {"apology": "Desculpe!"},
    }})
    messages = config.messages
    assert sorted(messages.languages) == ["pt-br", "zh"]
    zh = messages.for_language("zh-CN")
    assert zh.cannot_help == "抱歉，我帮不了这个。"
    assert zh.with_contact(zh.cannot_help) == "抱歉，我帮不了这个。 请联系 help@shop.example。"
    assert zh.apology == messages.apology  # not translated: the default text
    assert messages.for_language("pt-BR").apology == "Desculpe!"
    assert messages.for_language("fr") is messages
    assert messages.for_language(None) is messages


class Broken:
    name = "broken"

    async def __call__(self, turn: Turn) -> None:
        raise RuntimeError("boom")


async def test_the_apology_and_the_chain_fallback_are_config_keys() -> None:
    config = Config.from_mapping({"messages": {"apology": "Oops, our fault.",
                                               "cannot_help": "No idea.",
                                               "contact": "help@shop.example"}})
    hub = Hub(config, MemoryStore(), [Broken()])  # type: ignore[list-item]
    channel = RecordingChannel()
    hub.register(channel)
    message = InboundMessage(channel=channel.name, conversation_id="c", user_id="u",
                             message_id="1", text="hello")
    await hub.submit(message)
    await hub.drain()
    assert channel.texts == ["Oops, our fault."]
    turn = Turn(message=message, conversation=Conversation.start(message), config=config)
    decision = await StageChain([])(turn)
    assert decision.text == "No idea. You can reach our team at help@shop.example."
