"""Real platform payloads, in the shapes Slack and Telegram document, against a running hub.

The payloads are written out in full here, after Slack's Events API reference
(``message`` and its subtypes), slack-web's recorded events (``slackbotIm``,
``share_without_message``, ``messageChange``) and the Telegram Bot API's
``Update``/``Message`` objects, not built from our fakes' defaults. The hub
runs with the real slack-bolt / aiogram clients against the fakes in
``tests/fakes``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram.types import Update

from adapters.slack import to_envelope as slack_envelope
from adapters.slack.inbound import CUSTOMER_SUBTYPES, is_from_bot
from adapters.telegram import BotIdentity
from adapters.telegram import to_envelope as telegram_envelope
from hub.config import Config, load_config
from hub.envelope import InboundMessage
from hub.service import HubService
from routing.rules import RuleStage
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import SIGNING_SECRET, post_event
from tests.fakes.telegram_api import BOT, TOKEN, FakeTelegram
from tests.harness import free_port, make_config, running_hub

RULES = [{"name": "thanks", "keywords": ["thanks"], "action": "reply", "text": "You're welcome!"}]
SECRET = "s3cret-Token_1"
NOW = int(time.time())
ME = BotIdentity(id=BOT["id"], username=BOT["username"])

# -- Slack -----------------------------------------------------------------------------------


def slack_callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The Events API wrapper, as in Slack's reference examples."""
    return {
        "token": "XXYYZZ", "team_id": "T043DB835ML", "api_app_id": "A0442TUPHGR",
        "event": event, "type": "event_callback", "event_id": event_id, "event_time": NOW,
        "authorizations": [{"enterprise_id": None, "team_id": "T043DB835ML",
                            "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


SLACKBOT_DM = {  # slack-web's slackbotIm.json: Slackbot tells the bot it was removed
    "type": "message",
    "text": "You have been removed from #testing-slack-app by <@U043H11ES4V>",
    "user": "USLACKBOT",
    "ts": "1664826477.425039",
    "team": "T043DB835ML",
    "blocks": [{"type": "rich_text", "block_id": "ZRe", "elements": [{
        "type": "rich_text_section", "elements": [
            {"type": "text", "text": "You have been removed from #testing-slack-app by "},
            {"type": "user", "user_id": "U043H11ES4V"}]}]}],
    "channel": "D043HMJ0WDU",
    "event_ts": "1664826477.425039",
    "channel_type": "im",
}

SHARE_WITHOUT_COMMENT = {  # slack-web's share_without_message.json, shared into a DM
    "type": "message",
    "text": "",
    "user": "U_CUSTOMER",
    "ts": "1668537593.598469",
    "team": "T043DB835ML",
    "attachments": [{
        "from_url": "https://shop.slack.com/archives/C043KSKGJUB/p1665615886364019",
        "ts": "1665615886.364019", "author_id": "U_CUSTOMER", "channel_id": "C043KSKGJUB",
        "channel_team": "T043DB835ML", "channel_name": "orders", "is_msg_unfurl": True,
        "color": "D0D0D0", "is_share": True,
        "fallback": "[October 12th, 2022 4:04 PM] casey: thanks, my parcel arrived",
        "text": "thanks, my parcel arrived", "author_name": "casey",
        "author_link": "https://shop.slack.com/team/U_CUSTOMER", "author_subname": "casey",
        "mrkdwn_in": ["text"], "footer": "Posted in #orders",
    }],
    "channel": "D_CUSTOMER",
    "event_ts": "1668537593.598469",
    "channel_type": "im",
}

ME_MESSAGE = {  # Slack's me_message subtype: "/me says thanks"
    "type": "message", "subtype": "me_message", "channel": "D_CUSTOMER", "channel_type": "im",
    "user": "U_CUSTOMER", "text": "says thanks", "ts": "1355517523.000005",
    "event_ts": "1355517523.000005",
}

# message subtypes of Slack's reference that carry no customer's words; many have a `user`
NOT_CUSTOMERS = [
    {"type": "message", "subtype": "bot_message", "ts": "1358877455.000010", "text": "Pushing is the answer",
     "bot_id": "BB12033", "username": "github", "icons": {}},
    {"type": "message", "subtype": "channel_join", "ts": "1358877458.000011",
     "user": "U_CUSTOMER", "text": "<@U_CUSTOMER|casey> has joined the channel"},
    {"type": "message", "subtype": "channel_topic", "ts": "1358877455.000010",
     "user": "U_CUSTOMER", "topic": "hello world", "text": "<@U_CUSTOMER|casey> set the channel topic: hello world"},
    {"type": "message", "subtype": "pinned_item", "user": "U_CUSTOMER", "item_type": "C",
     "text": "<@U_CUSTOMER|casey> pinned a message to this channel.", "item": {}, "ts": "1360782804.083113"},
    {"type": "message", "subtype": "reminder_add", "user": "U_CUSTOMER",
     "text": "set up a reminder \u201cthanks\u201d in this channel at 9AM tomorrow", "ts": "1480018585.000018"},
    {"type": "message", "subtype": "ekm_access_denied", "ts": "1358877455.000010",
     "text": "Your admins have suspended everyone's access to this content.", "user": "U00"},
    {"type": "message", "subtype": "message_replied", "hidden": True, "ts": "1483037604.017506",
     "message": {"type": "message", "user": "U_CUSTOMER", "text": "thanks", "thread_ts": "1482960137.003543",
                 "reply_count": 1, "replies": [{"user": "U_CUSTOMER", "ts": "1483037603.017503"}],
                 "ts": "1482960137.003543"}},
    {"type": "message", "subtype": "message_deleted", "hidden": True, "ts": "1358878755.000001",
     "deleted_ts": "1358878749.000002",
     "previous_message": {"type": "message", "user": "U_CUSTOMER", "text": "thanks", "ts": "1358878749.000002"}},
    {"type": "message", "subtype": "tombstone", "hidden": True, "user": "USLACKBOT",
     "text": "This message was deleted.", "ts": "1700000000.000100"},
    SLACKBOT_DM,
]


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    async with FakeSlack() as fake:
        yield fake


def slack_config(fake: FakeSlack, **handoff: Any) -> Config:
    return make_config(
        rules=RULES,
        channels={"webchat": {"enabled": False},
                  "slack": {"enabled": True, "api_base": fake.api_base}},
        handoff=handoff,
    )


async def slack_say(service: HubService, event: dict[str, Any], event_id: str) -> int:
    status, _ = await post_event(f"{service.url}/slack/events", slack_callback(event, event_id))
    await service.hub.drain()
    return status


@pytest.mark.parametrize("event", NOT_CUSTOMERS, ids=lambda e: e.get("subtype") or e["user"])
def test_only_a_persons_own_words_are_a_customer_message(event: dict[str, Any]) -> None:
    assert is_from_bot(event, "UBOT")
    assert slack_envelope({"channel": "D_CUSTOMER", "channel_type": "im", **event}) is None


def test_the_subtypes_that_carry_a_customers_words() -> None:
    assert CUSTOMER_SUBTYPES == {None, "file_share", "thread_broadcast", "me_message"}
    assert not is_from_bot(ME_MESSAGE, "UBOT")


async def test_slackbot_gets_no_answer_even_with_agents_on_duty(slack: FakeSlack) -> None:
    async with running_hub(slack_config(slack, agents_channel="C_AGENTS")) as service:
        assert await slack_say(service, SLACKBOT_DM, "Ev044Y3D66M9") == 200
        assert await slack_say(service, {**SLACKBOT_DM, "text": "thanks", "ts": "1664826478.000001",
                                         "event_ts": "1664826478.000001"}, "Ev044Y3D66N0") == 200
    assert slack.posted == []  # no reply, no hand-off announcement
    assert await service.hub.store.conversation_at("slack:D043HMJ0WDU") is None


async def test_a_me_message_is_answered(slack: FakeSlack) -> None:
    async with running_hub(slack_config(slack)) as service:
        assert await slack_say(service, ME_MESSAGE, "EvME1") == 200
    assert [m["text"] for m in slack.messages["D_CUSTOMER"]] == ["You're welcome!"]


async def test_a_message_shared_without_comment_reaches_the_hub(slack: FakeSlack) -> None:
    async with running_hub(slack_config(slack)) as service:
        assert await slack_say(service, SHARE_WITHOUT_COMMENT, "Ev04BEN3QMSM") == 200
        conversation = await service.hub.store.conversation_at("slack:D_CUSTOMER")
        assert conversation is not None
        [said, answer] = await service.hub.store.transcript(conversation.id)
    assert said.text == "[shared message] thanks, my parcel arrived"
    assert answer.text == "You're welcome!"


def test_a_share_is_an_attachment_and_a_comment_stays_the_text() -> None:
    shared = slack_envelope(SHARE_WITHOUT_COMMENT)
    assert shared is not None
    [attachment] = shared.attachments
    assert (attachment.kind, attachment.name) == ("shared_message", "casey")
    assert attachment.ref.endswith("/p1665615886364019")
    commented = slack_envelope({**SHARE_WITHOUT_COMMENT, "text": "is this right?"})
    assert commented is not None and commented.text == "is this right?"
    assert commented.attachments == shared.attachments


def test_a_message_with_nothing_in_it_is_logged_with_its_id(caplog: pytest.LogCaptureFixture) -> None:
    unfurl_only = {**SHARE_WITHOUT_COMMENT, "attachments": [{"from_url": "https://example.com/",
                                                             "title": "Example", "id": 1}]}
    with caplog.at_level(logging.INFO, logger="adapters.slack.inbound"):
        assert slack_envelope(unfurl_only) is None
    assert "D_CUSTOMER:1668537593.598469" in caplog.text


# -- Telegram ---------------------------------------------------------------------------------

PRIVATE = {"id": 4242, "first_name": "Ada", "last_name": "Lovelace", "username": "ada", "type": "private"}
ADA = {"id": 4242, "is_bot": False, "first_name": "Ada", "last_name": "Lovelace",
       "username": "ada", "language_code": "en"}


def tg_message(message_id: int, **content: Any) -> dict[str, Any]:
    """A Bot API ``Message`` in a private chat, with ``content`` (text, video, ...)."""
    return {"message_id": message_id, "from": ADA, "chat": PRIVATE, "date": NOW, **content}


THUMB = {"file_id": "AAMCthumb", "file_unique_id": "AQADthumb", "file_size": 1200, "width": 90, "height": 160}
KINDS: dict[str, tuple[dict[str, Any], str, str | None]] = {
    # kind: (message content, the text the hub reads, the attachment kind)
    "video": ({"video": {"file_id": "BAACvid", "file_unique_id": "AgADvid", "width": 720, "height": 1280,
                         "duration": 12, "thumbnail": THUMB, "file_name": "broken-zip.mp4",
                         "mime_type": "video/mp4", "file_size": 2314501}},
              "[video: broken-zip.mp4]", "video"),
    "video_note": ({"video_note": {"file_id": "DQACnote", "file_unique_id": "AgADnote", "length": 240,
                                   "duration": 7, "thumbnail": THUMB, "file_size": 401233}},
                   "[video message]", "video_note"),
    "audio": ({"audio": {"file_id": "CQACaud", "file_unique_id": "AgADaud", "duration": 184,
                         "performer": "Northwind", "title": "Hold music", "mime_type": "audio/mpeg",
                         "file_size": 2945000}},
              "[audio: Northwind - Hold music]", "audio"),
    "animation": ({"animation": {"file_id": "CgACgif", "file_unique_id": "AgADgif", "width": 320,
                                 "height": 240, "duration": 3, "file_name": "wave.mp4",
                                 "mime_type": "video/mp4", "file_size": 98342},
                   # the Bot API also sets `document` on animations, for old clients
                   "document": {"file_id": "CgACgif", "file_unique_id": "AgADgif", "file_name": "wave.mp4",
                                "mime_type": "video/mp4", "file_size": 98342}},
                  "[GIF]", "animation"),
    "contact": ({"contact": {"phone_number": "+442071234567", "first_name": "Ada", "last_name": "Lovelace",
                             "user_id": 4242}},
                "[contact: Ada Lovelace, +442071234567]", "contact"),
    "location": ({"location": {"latitude": 51.507351, "longitude": -0.127758, "horizontal_accuracy": 25.0}},
                 "[location: 51.50735, -0.12776]", "location"),
    "venue": ({"location": {"latitude": 51.50142, "longitude": -0.14189},
               "venue": {"location": {"latitude": 51.50142, "longitude": -0.14189},
                         "title": "Northwind Store", "address": "1 Market Street, London"}},
              "[venue: Northwind Store, 1 Market Street, London]", "venue"),
    "poll": ({"poll": {"id": "5843271003520712704", "question": "Which size should I order?",
                       "options": [{"persistent_id": "0", "text": "M", "voter_count": 0},
                                   {"persistent_id": "1", "text": "L", "voter_count": 0}],
                       "total_voter_count": 0, "is_closed": False, "is_anonymous": True,
                       "type": "regular", "allows_multiple_answers": False,
                       "allows_revoting": False, "members_only": False}},
             "[poll: Which size should I order? (M / L)]", "poll"),
    "dice": ({"dice": {"emoji": "🎲", "value": 4}}, "[dice 🎲 4]", None),
    "photo with caption": ({"photo": [{**THUMB, "file_id": "small"},
                                      {"file_id": "AgACbig", "file_unique_id": "AQADbig", "file_size": 81234,
                                       "width": 1280, "height": 960}],
                            "caption": "the zip is broken"},
                           "the zip is broken", "photo"),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_a_customer_sends_becomes_an_envelope(kind: str) -> None:
    content, text, attachment = KINDS[kind]
    update = Update.model_validate({"update_id": 811, "message": tg_message(31, **content)})
    envelope = telegram_envelope(update, ME)
    assert isinstance(envelope, InboundMessage)
    assert envelope.text == text
    assert [a.kind for a in envelope.attachments] == ([attachment] if attachment else [])


def test_locations_are_geo_references() -> None:
    for kind in ("location", "venue"):
        update = Update.model_validate({"update_id": 812, "message": tg_message(32, **KINDS[kind][0])})
        envelope = telegram_envelope(update, ME)
        assert envelope is not None and envelope.attachments[0].ref.startswith("geo:51.50")


def test_a_kind_the_hub_cannot_use_is_logged_with_the_update_id(caplog: pytest.LogCaptureFixture) -> None:
    game = {"game": {"title": "Snake", "description": "Eat the apples",
                     "photo": [{"file_id": "AgACgame", "file_unique_id": "AQADgame", "width": 640, "height": 360}]}}
    empty = {}  # no text, no caption, no media: what a client sends when it has nothing to say
    with caplog.at_level(logging.INFO, logger="adapters.telegram.convert"):
        for update_id, content in ((901, game), (902, empty)):
            update = Update.model_validate({"update_id": update_id, "message": tg_message(40, **content)})
            assert telegram_envelope(update, ME) is None
    lines = [r for r in caplog.records if r.levelno == logging.INFO]
    assert "901" in lines[0].getMessage() and "game" in lines[0].getMessage()
    assert "902" in lines[1].getMessage() and "no text and no media" in lines[1].getMessage()


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    async with FakeTelegram.running() as server:
        yield server


def telegram_config(fake: FakeTelegram, **section: Any) -> Config:
    telegram = {"enabled": True, "api_base": fake.base_url,
                "per_chat_per_s": 50.0, "global_per_s": 1000.0, "poll_timeout_s": 1, **section}
    return make_config(rules=RULES, channels={"webchat": {"enabled": False}, "telegram": telegram})


async def test_a_video_without_caption_is_answered_and_kept_in_the_transcript(
    telegram: FakeTelegram,
) -> None:
    async with running_hub(telegram_config(telegram)) as service:
        telegram.queue({"message": tg_message(50, **KINDS["video"][0])})
        [reply] = await telegram.wait_sent(1)
        conversation = await service.hub.store.conversation_at("telegram:4242")
        assert conversation is not None
        said = (await service.hub.store.transcript(conversation.id))[0]
    assert reply.params["chat_id"] == 4242 and reply.params["text"]
    assert said.text == "[video: broken-zip.mp4]"


def webhook_config(fake: FakeTelegram) -> Config:
    port = free_port()
    config = telegram_config(fake, mode="webhook",
                             webhook_url=f"http://127.0.0.1:{port}/telegram/webhook")
    return config.model_copy(update={"server": config.server.model_copy(update={"port": port})})


async def post_raw(url: str, body: bytes) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
        return response.status


async def test_webhook_logs_what_it_refuses_and_accepts_kinds_it_does_not_handle(
    telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    reaction = {"chat": PRIVATE, "message_id": 50, "user": ADA, "date": NOW,
                "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}
    async with running_hub(webhook_config(telegram)):
        url = telegram.webhook["url"]
        with caplog.at_level(logging.INFO):
            # a message without chat or date: not a valid Message, Telegram should see the 400
            assert await post_raw(url, b'{"update_id": 7001, "message": {"message_id": 3, "text": "hi"}}') == 400
            assert await post_raw(url, b"[1, 2]") == 400
            # kinds the hub does not handle: well-formed, malformed by aiogram's model, or unknown
            assert await telegram.post_webhook({"update_id": 7002, "message_reaction": reaction}) == 200
            assert await telegram.post_webhook({"update_id": 7003, "chat_member": {"chat": PRIVATE}}) == 200
            assert await telegram.post_webhook({"update_id": 7004, "kind_from_the_future": {"a": 1}}) == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("7001" in w and "message.chat" in w for w in warnings), warnings
    assert any("not an update" in w for w in warnings), warnings
    infos = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    for update_id, kind in (("7002", "message_reaction"), ("7003", "chat_member"),
                            ("7004", "kind_from_the_future")):
        assert f"telegram update {update_id}" in infos and kind in infos
    assert "Lovelace" not in caplog.text and "hi" not in " ".join(warnings).split()


# -- /start and /help -------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["embedded defaults", "config.toml"])
@pytest.mark.parametrize("text", ["/start", "/help", "/start ref-campaign-7", "/help@switchboard_test_bot"])
async def test_start_and_help_get_the_welcome(config: str, text: str) -> None:
    loaded = Config() if config == "embedded defaults" else load_config("config.toml")
    stage = RuleStage()
    update = Update.model_validate({"update_id": 1, "message": tg_message(1, text=text)})
    envelope = telegram_envelope(update, ME)
    assert envelope is not None
    decision = await stage(_turn(envelope, loaded))
    assert decision is not None and decision.details.get("rule") == "welcome"
    assert decision.text.startswith("Welcome")


def _turn(message: InboundMessage, config: Config) -> Any:
    from hub.conversation import Conversation
    from hub.stages import Turn

    return Turn(message=message, conversation=Conversation.start(message), config=config)


async def test_polling_skips_an_update_no_one_can_read_and_serves_the_next(
    telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(telegram_config(telegram)):
        with caplog.at_level(logging.WARNING, logger="adapters.telegram.polling"):
            # one batch: a message whose message_id is not an integer, then a good one
            bad = telegram.queue({"message": tg_message(60, text="thanks") | {"message_id": "sixty"}})
            telegram.queue({"message": tg_message(61, text="thanks")})
            [reply] = await telegram.wait_sent(1)
    assert reply.params["text"] == "You're welcome!"
    assert f"telegram update {bad['update_id']} cannot be read" in caplog.text
    assert "message.message_id" in caplog.text and "sixty" not in caplog.text
