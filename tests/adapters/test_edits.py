"""Edits on Telegram and Slack: recorded in the transcript, marked, never answered twice.

A whole hub runs with the real aiogram / slack-bolt clients against the fakes.
The edit payloads follow the platforms' documentation: Telegram's
``edited_message`` update (a ``Message`` with ``edit_date``), Slack's
``message_changed`` event (the new message, with ``edited``, and the
``previous_message``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.slack import to_envelope as slack_envelope
from hub.config import Config
from hub.conversation import TranscriptEntry
from hub.service import HubService
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import SIGNING_SECRET, post_event
from tests.fakes.telegram_api import BOT, TOKEN, FakeTelegram
from tests.handoff.conftest import AGENTS, agents_channel, handoff_config
from tests.harness import make_config, running_hub

RULES = [
    {"name": "thanks", "keywords": ["thanks"], "action": "reply", "text": "You're welcome!"},
    {"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."},
]
NOW = int(time.time())


async def transcript(service: HubService, address: str) -> list[TranscriptEntry]:
    conversation = await service.hub.store.conversation_at(address)
    assert conversation is not None
    return await service.hub.store.transcript(conversation.id)


# -- Telegram ---------------------------------------------------------------------------------

ADA = {"id": 4242, "is_bot": False, "first_name": "Ada", "language_code": "en"}
PRIVATE = {"id": 4242, "first_name": "Ada", "type": "private"}
GROUP = {"id": -1001234567890, "title": "Northwind customers", "type": "supergroup"}


def tg_message(message_id: int, text: str, chat: dict[str, Any] = PRIVATE, **extra: Any) -> dict[str, Any]:
    return {"message_id": message_id, "from": ADA, "chat": chat, "date": NOW, "text": text, **extra}


def tg_edit(message_id: int, text: str, chat: dict[str, Any] = PRIVATE) -> dict[str, Any]:
    """The ``edited_message`` update Telegram sends when the customer edits ``message_id``."""
    return {"edited_message": tg_message(message_id, text, chat, edit_date=NOW + 30)}


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    async with FakeTelegram.running() as server:
        yield server


def telegram_config(fake: FakeTelegram) -> Config:
    section = {"enabled": True, "api_base": fake.base_url, "per_chat_per_s": 50.0,
               "global_per_s": 1000.0, "poll_timeout_s": 1}
    return make_config(rules=RULES, channels={"webchat": {"enabled": False}, "telegram": section})


async def handled(fake: FakeTelegram, service: HubService, update: dict[str, Any]) -> None:
    """Wait until the poller took ``update`` and the hub finished with it."""
    await fake.wait_for(lambda: update["update_id"] in fake.delivered)
    polls = fake.polls
    await fake.wait_for(lambda: fake.polls > polls)
    await service.hub.drain()


async def test_telegram_edit_of_an_answered_message_is_recorded_not_answered(
    telegram: FakeTelegram,
) -> None:
    async with running_hub(telegram_config(telegram)) as service:
        telegram.queue({"message": tg_message(7, "thanks")})
        await telegram.wait_sent(1)
        edit = telegram.queue(tg_edit(7, "thanks a lot, are you open on sunday?"))
        await handled(telegram, service, edit)
        lines = await transcript(service, "telegram:4242")
    assert telegram.texts(4242) == ["You're welcome!"]
    said, answer, edited = lines
    assert (said.id, said.edit_of) == ("4242:7", None)
    assert answer.reply_to == "4242:7"
    assert edited.text == "thanks a lot, are you open on sunday?" and edited.edit_of == "4242:7"
    assert service.hub.metrics.decisions.labels("edit")._value.get() == 1


async def test_telegram_edit_arriving_while_the_original_is_processed_is_answered_once(
    telegram: FakeTelegram,
) -> None:
    async with running_hub(telegram_config(telegram)) as service:
        # one getUpdates batch: the edit is accepted while the message is still being decided
        telegram.queue({"message": tg_message(8, "are you open today?")})
        edit = telegram.queue(tg_edit(8, "are you open tomorrow?"))
        await handled(telegram, service, edit)
        lines = await transcript(service, "telegram:4242")
    assert telegram.texts(4242) == ["We are open 9 to 5."]
    assert [line.edit_of for line in lines] == [None, None, "4242:8"]


async def test_telegram_edit_of_a_message_the_hub_never_saw_is_answered(telegram: FakeTelegram) -> None:
    async with running_hub(telegram_config(telegram)) as service:
        # in a group the bot answers only when addressed: the original was not for it
        original = telegram.queue({"message": tg_message(9, "are you open?", GROUP)})
        await handled(telegram, service, original)
        telegram.queue(tg_edit(9, f"@{BOT['username']} are you open?", GROUP))
        await telegram.wait_sent(1)
        await service.hub.drain()
        lines = await transcript(service, f"telegram:{GROUP['id']}")
    assert telegram.texts(GROUP["id"]) == ["We are open 9 to 5."]
    assert lines[0].text == "are you open?" and lines[0].edit_of == f"{GROUP['id']}:9"


# -- Slack ----------------------------------------------------------------------------------


def slack_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {"token": "XXYYZZ", "team_id": "T123ABC456", "api_app_id": "A123ABC456",
            "event": event, "type": "event_callback", "event_id": event_id, "event_time": NOW,
            "authorizations": [{"team_id": "T123ABC456", "user_id": "UBOT", "is_bot": True,
                                "is_enterprise_install": False}]}


ORIGINAL = {"type": "message", "channel": "D_CUSTOMER", "user": "U_CUSTOMER", "text": "thanks",
            "ts": "1355517523.000005", "event_ts": "1355517523.000005", "channel_type": "im",
            "client_msg_id": "0837851c-2d34-4d4d-804c-7aed753c3421"}


def slack_edit(text: str, **message: Any) -> dict[str, Any]:
    """Slack's ``message_changed`` event for an edit of ORIGINAL."""
    previous = {key: ORIGINAL[key] for key in ("type", "user", "text", "ts", "client_msg_id")}
    return {
        "type": "message", "subtype": "message_changed", "hidden": True,
        "channel": "D_CUSTOMER", "channel_type": "im",
        "ts": "1358878755.000001", "event_ts": "1358878755.000001",
        "message": {**previous, "text": text,
                    "edited": {"user": "U_CUSTOMER", "ts": "1358878755.000000"}, **message},
        "previous_message": previous,
    }


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    async with FakeSlack() as fake:
        yield fake


async def slack_say(service: HubService, event: dict[str, Any], event_id: str) -> int:
    status, _ = await post_event(f"{service.url}/slack/events", slack_callback(event, event_id))
    await service.hub.drain()
    return status


def slack_config(fake: FakeSlack) -> Config:
    return make_config(rules=RULES, channels={
        "webchat": {"enabled": False}, "slack": {"enabled": True, "api_base": fake.api_base}})


async def test_slack_edit_of_an_answered_message_is_recorded_not_answered(slack: FakeSlack) -> None:
    async with running_hub(slack_config(slack)) as service:
        assert await slack_say(service, ORIGINAL, "Ev1") == 200
        assert await slack_say(service, slack_edit("thanks, are you open on sunday?"), "Ev2") == 200
        assert await slack_say(service, slack_edit("thanks, are you open on sunday?"), "Ev2") == 200
        lines = await transcript(service, "slack:D_CUSTOMER")
    assert [m["text"] for m in slack.messages["D_CUSTOMER"]] == ["You're welcome!"]
    said, _, edited = lines
    assert said.id == "D_CUSTOMER:1355517523.000005"
    assert edited.text == "thanks, are you open on sunday?" and edited.edit_of == said.id


async def test_slack_changes_that_are_not_a_persons_edit_are_ignored(slack: FakeSlack) -> None:
    unfurl = slack_edit("thanks")  # a link preview was added: same text, no "edited"
    del unfurl["message"]["edited"]
    own = slack_edit("Your choice: Yes", user="UBOT", bot_id="BBOT")  # our own chat.update
    async with running_hub(slack_config(slack)) as service:
        await slack_say(service, ORIGINAL, "Ev1")
        assert await slack_say(service, unfurl, "Ev3") == 200
        assert await slack_say(service, own, "Ev4") == 200
        lines = await transcript(service, "slack:D_CUSTOMER")
    assert len(lines) == 2 and len(slack.messages["D_CUSTOMER"]) == 1


def test_slack_edit_envelope_names_the_original_and_its_thread() -> None:
    reply = {**ORIGINAL, "channel": "C_SUPPORT", "channel_type": "channel",
             "thread_ts": "1355517000.000001"}
    event = {**slack_edit("new words", thread_ts="1355517000.000001"),
             "channel": "C_SUPPORT", "channel_type": "channel"}
    original, edit = slack_envelope(reply), slack_envelope(event)
    assert original is not None and edit is not None
    assert edit.edit_of == original.message_id == "C_SUPPORT:1355517523.000005"
    assert edit.message_id == "C_SUPPORT:1355517523.000005:edited:1358878755.000000"
    assert edit.conversation_id == original.conversation_id and edit.thread == original.thread
    assert (edit.user_id, edit.text) == ("U_CUSTOMER", "new words")


async def test_an_edit_during_a_hand_off_reaches_the_agents_marked(slack: FakeSlack) -> None:
    slack.members[AGENTS] = ["U_AGENT"]
    async with agents_channel(slack, handoff_config(slack)) as agents:
        await slack_say(agents.service, {**ORIGINAL, "text": "can I talk to a human agent?"}, "Ev1")
        top = await agents.escalated()
        edit = slack_edit("can I talk to a human agent? It is about order NW-12345")
        assert await slack_say(agents.service, edit, "Ev2") == 200
        forwarded = await agents.in_thread(top, "NW-12345")
    assert forwarded.endswith("_(edited)_")
