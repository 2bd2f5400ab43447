"""Thumbs on Telegram (inline keyboard) and Slack (Block Kit), with the real clients
(aiogram, slack-bolt) against the fake Bot API and the fake Slack Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.channel_faq import PAYMENT_ANSWER, write_channel_faq
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    SIGNING_SECRET,
    block_actions,
    event_callback,
    message_event,
    post_event,
)
from tests.fakes.telegram_api import TOKEN, FakeTelegram, button_press, message
from tests.feedback.helpers import RatingsSeen
from tests.harness import make_config, running_hub


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    async with FakeTelegram.running() as server:
        yield server


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    async with FakeSlack() as fake:
        yield fake


async def test_telegram_inline_keyboard_thumbs(telegram: FakeTelegram, tmp_path: Path) -> None:
    section = {"enabled": True, "api_base": telegram.base_url, "per_chat_per_s": 50.0,
               "global_per_s": 1000.0, "poll_timeout_s": 1}
    config = make_config(
        kb={"enabled": True, "path": str(write_channel_faq(tmp_path))},
        channels={"webchat": {"enabled": False}, "telegram": section},
    )
    async with running_hub(config) as service:
        seen = RatingsSeen(service)
        telegram.queue(message(55, "can I pay with paypal"))
        [answer] = await telegram.wait_sent(1)
        assert answer.params["text"].startswith(PAYMENT_ANSWER)
        [row] = answer.params["reply_markup"]["inline_keyboard"]  # one row: 👍 👎
        assert [b["text"] for b in row] == ["👍", "👎"]
        assert all(len(b["callback_data"].encode()) <= 64 for b in row)

        telegram.queue(button_press(55, row[0]["callback_data"], query_id="q-rate"))
        [rating] = await seen.wait(1)
        assert (rating.kind, rating.value, rating.stage, rating.address) == ("thumbs", 1, "kb", "telegram:55")
        await telegram.wait_for(lambda: bool(telegram.called("answerCallbackQuery")))
        assert telegram.called("answerCallbackQuery")[0].params["callback_query_id"] == "q-rate"
        assert telegram.texts(55) == [answer.params["text"]]  # no reply to a thumb


async def test_slack_block_kit_thumbs(slack: FakeSlack, tmp_path: Path) -> None:
    config = make_config(
        kb={"enabled": True, "path": str(write_channel_faq(tmp_path))},
        channels={"webchat": {"enabled": False},
                  "slack": {"enabled": True, "api_base": slack.api_base}},
    )
    async with running_hub(config) as service:
        seen = RatingsSeen(service)
        url = f"{service.url}/slack/events"
        status, _ = await post_event(url, event_callback(message_event("can I pay with paypal",
                                                                        channel="D_CUSTOMER")))
        assert status == 200
        answer = await slack.wait_for("chat.postMessage")
        actions = answer["blocks"][-1]
        assert actions["type"] == "actions"
        assert [b["text"]["text"] for b in actions["elements"]] == ["👍", "👎"]
        thumbs_down = actions["elements"][1]

        posted = slack.messages["D_CUSTOMER"][0]
        press = block_actions(
            thumbs_down["value"], action_id=thumbs_down["action_id"], label="👎",
            channel="D_CUSTOMER", message_ts=posted["ts"], message=posted,
        )
        status, _ = await post_event(url, press)
        assert status == 200
        [rating] = await seen.wait(1)
        assert (rating.kind, rating.value, rating.stage, rating.address) == (
            "thumbs", -1, "kb", "slack:D_CUSTOMER"
        )
        update = await slack.wait_for("chat.update")  # the buttons give way to the choice
        assert "👎" in str(update["blocks"][-1])
        summary = await service.hub.store.conversation_summary(rating.conversation_id)
        assert summary is not None and summary.rating == -1 and summary.messages == 2
