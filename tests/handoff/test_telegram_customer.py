"""A Telegram customer handed to a person in the Slack agents channel, and back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegram, message
from tests.handoff.conftest import agents_channel, handoff_config

CHAT = 4242


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    async with FakeTelegram.running() as server:
        yield server


async def test_telegram_customer_talks_to_an_agent(slack: FakeSlack, telegram: FakeTelegram) -> None:
    section = {"enabled": True, "api_base": telegram.base_url, "per_chat_per_s": 50.0,
               "global_per_s": 1000.0, "poll_timeout_s": 1}
    config = handoff_config(slack, {"channels": {
        "webchat": {"enabled": False},
        "telegram": section,
        "slack": {"enabled": True, "api_base": slack.api_base},
    }})
    async with agents_channel(slack, config) as agents:
        telegram.queue(message(CHAT, "hello", message_id=1, from_id=CHAT))
        await telegram.wait_sent(1, CHAT)
        telegram.queue(message(CHAT, "I'd like to speak to a person", message_id=2, from_id=CHAT))
        sent = await telegram.wait_sent(2, CHAT)
        assert "15 minutes" in sent[-1].params["text"]

        top = await agents.escalated()
        assert top["blocks"][0]["text"]["text"] == "Ada on telegram needs a person"

        telegram.queue(message(CHAT, "hello? anyone?", message_id=3, from_id=CHAT))
        await agents.in_thread(top, "anyone?")
        assert len(telegram.texts(CHAT)) == 2  # the bot stayed silent

        await agents.reply(top, "note: check the order first")
        await agents.reply(top, "Hello Ada, I'm on it.")
        sent = await telegram.wait_sent(3, CHAT)
        assert sent[-1].params["text"] == "Alex Agent: Hello Ada, I'm on it."
        await agents.state_becomes(top, "Claimed by Alex Agent")

        await agents.press(top, "resolve")
        sent = await telegram.wait_sent(5, CHAT)  # "resolved", then the CSAT question
        assert "resolved" in sent[3].params["text"]
        assert not any("check the order" in text for text in telegram.texts(CHAT))
        [scores] = sent[4].params["reply_markup"]["inline_keyboard"]  # [feedback] csat
        assert [b["text"] for b in scores] == ["1", "2", "3", "4", "5"]

        telegram.queue(message(CHAT, "hello", message_id=4, from_id=CHAT))
        sent = await telegram.wait_sent(6, CHAT)
        assert sent[-1].params["text"] == "Hello! How can I help?"
