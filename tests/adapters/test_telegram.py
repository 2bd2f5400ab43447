"""The Telegram channel: the real aiogram client against a fake Bot API server.

Every test but the pure conversion ones runs a whole hub (``HubService``) whose
``channels.telegram.api_base`` points at :class:`tests.fakes.telegram_api.FakeTelegram`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram.types import Update

from adapters.telegram import (
    BotIdentity,
    SendPacer,
    TelegramAdapter,
    build_bot,
    split_text,
    to_envelope,
    to_platform,
)
from hub.config import Config, KBConfig
from hub.envelope import Button, InboundMessage, OutboundMessage
from hub.errors import ConfigError
from hub.service import HubService
from hub.store import Keys, MemoryStore
from tests.channel_faq import PAYMENT_ANSWER, write_channel_faq
from tests.fakes.flaky import FlakyLog
from tests.fakes.telegram_api import BOT, TOKEN, FakeTelegram, button_press, message
from tests.harness import free_port, make_config, running_hub

LONG_VALUE = "Tell me everything about pricing plans, discounts and invoices, please " * 2
LONG_ANSWER = "\n\n".join(
    f"Paragraph {n}: " + " ".join(f"word{n}x{i}" for i in range(60)) for n in range(10)
)
RULES = [
    {"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5 *daily*_!",
     "buttons": [{"label": "Thanks", "value": "thanks"}, {"label": "Prices", "value": LONG_VALUE}]},
    {"name": "thanks", "keywords": ["thanks"], "action": "reply", "text": "You're welcome!"},
    {"name": "pricing", "keywords": ["invoices"], "action": "reply", "text": "Plans start at 10 EUR."},
    {"name": "long", "keywords": ["terms"], "action": "reply", "text": LONG_ANSWER,
     "buttons": [{"label": "OK", "value": "thanks"}]},
]
SECRET = "s3cret-Token_1"


def telegram_config(fake: FakeTelegram, store_url: str = "memory://", **telegram: Any) -> Config:
    section = {"enabled": True, "api_base": fake.base_url, "per_chat_per_s": 50.0,
               "global_per_s": 1000.0, "poll_timeout_s": 1, **telegram}
    return make_config(rules=RULES, store={"url": store_url},
                       channels={"webchat": {"enabled": False}, "telegram": section})


def webhook_config(fake: FakeTelegram, **telegram: Any) -> Config:
    port = free_port()
    config = telegram_config(
        fake, mode="webhook", webhook_url=f"http://127.0.0.1:{port}/telegram/webhook", **telegram
    )
    return config.model_copy(update={"server": config.server.model_copy(update={"port": port})})


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)
    async with FakeTelegram.running() as server:
        yield server


def keyboard(call: Any) -> list[list[dict[str, str]]]:
    return call.params["reply_markup"]["inline_keyboard"]


# -- a whole conversation, polling -------------------------------------------------------


async def test_rule_with_buttons_then_button_press(fake: FakeTelegram) -> None:
    async with running_hub(telegram_config(fake)):
        fake.queue(message(777, "When are you open?"))
        [reply] = await fake.wait_sent(1)
        assert reply.params["chat_id"] == 777
        assert reply.params["text"] == "We are open 9 to 5 *daily*_!"  # plain text, sent as is
        assert "parse_mode" not in reply.params
        thanks, prices = keyboard(reply)
        assert thanks == [{"text": "Thanks", "callback_data": "thanks"}]

        fake.queue(button_press(777, "thanks", query_id="q-1"))
        await fake.wait_sent(2)
        assert fake.texts(777)[1] == "You're welcome!"
        await fake.wait_for(lambda: bool(fake.called("answerCallbackQuery")))
        assert fake.called("answerCallbackQuery")[0].params["callback_query_id"] == "q-1"




async def test_faq_answers_with_markdown_characters_intact(fake: FakeTelegram, tmp_path: Any) -> None:
    faq = write_channel_faq(tmp_path)
    config = telegram_config(fake).model_copy(
        update={"kb": KBConfig(enabled=True, path=str(faq))}
    )
    async with running_hub(config):
        fake.queue(message(88, "when will my order arrive?"))
        await fake.wait_sent(1)
        fake.queue(message(88, "can I pay with paypal", message_id=2))
        first, second = await fake.wait_sent(2)
    assert first.params["text"].startswith("Two to four working days.")
    choices, rating = keyboard(first)  # the FAQ's button, then 👍/👎 on one row (feedback/)
    assert choices == [{"text": "Track my order", "callback_data": "where is my order"}]
    assert [b["text"] for b in rating] == ["👍", "👎"]
    assert second.params["text"].startswith(PAYMENT_ANSWER)


async def test_long_button_value_travels_through_a_short_key(fake: FakeTelegram) -> None:
    async with running_hub(telegram_config(fake)):
        fake.queue(message(5, "open?"))
        [reply] = await fake.wait_sent(1)
        data = keyboard(reply)[1][0]["callback_data"]
        assert len(data.encode()) <= 64 and data != LONG_VALUE
        fake.queue(button_press(5, data))
        await fake.wait_sent(2)
        assert fake.texts(5)[1] == "Plans start at 10 EUR."


async def test_duplicate_update_is_answered_once(fake: FakeTelegram) -> None:
    async with running_hub(telegram_config(fake)) as service:
        update = fake.queue(message(42, "thanks"))
        await fake.wait_sent(1)
        fake.redeliver(update)
        await fake.wait_for(lambda: fake.delivered.count(update["update_id"]) == 2)
        polls = fake.polls
        await fake.wait_for(lambda: fake.polls > polls)  # the poller handled that batch
        await service.hub.drain()
        assert fake.texts(42) == ["You're welcome!"]
        assert service.hub.metrics.duplicates.labels("telegram")._value.get() == 1


async def test_five_thousand_character_reply_is_split(fake: FakeTelegram) -> None:
    assert len(LONG_ANSWER) > 5000
    async with running_hub(telegram_config(fake, per_chat_per_s=5.0)):
        fake.queue(message(9, "What are your terms?"))
        first, second = await fake.wait_sent(2)
        assert all(len(c.params["text"]) <= 4096 for c in (first, second))
        joined = first.params["text"] + "\n\n" + second.params["text"]
        assert joined == LONG_ANSWER  # cut at a paragraph break, nothing lost
        assert "reply_markup" not in first.params and keyboard(second)  # buttons on the last part
        assert second.at - first.at >= 1 / 5.0  # one chat: at most per_chat_per_s messages/s


async def test_groups_get_answers_only_when_the_bot_is_addressed(fake: FakeTelegram) -> None:
    async with running_hub(telegram_config(fake)) as service:
        fake.queue(message(-200, "thanks all", chat_type="group", from_id=5))
        fake.queue(message(-200, "@switchboard_test_bot thanks", chat_type="group", from_id=5,
                           message_id=2))
        await fake.wait_sent(1)
        await service.hub.drain()
        assert fake.texts(-200) == ["You're welcome!"]
        async with aiohttp.ClientSession() as http, http.get(f"{service.url}/healthz") as resp:
            health = (await resp.json())["components"]["telegram"]
        assert health["status"] == "ok" and health["mode"] == "polling"


async def test_typing_action_and_its_failure_never_hurts(fake: FakeTelegram) -> None:
    config = telegram_config(fake).channels.telegram
    adapter = TelegramAdapter(config, RecordingIngress(), MemoryStore(), build_bot(TOKEN, fake.base_url))
    inbound = InboundMessage(channel="telegram", conversation_id="777", user_id="777",
                             message_id="u1", text="hi")
    try:
        await adapter.typing(inbound, True)
        await adapter.typing(inbound, False)  # Telegram clears it by itself: no call
        fake.rate_limit("sendChatAction", retry_after=5)
        await adapter.typing(inbound, True)  # a 429 on typing is logged, not raised or waited out
    finally:
        await adapter.stop()
    assert [c.params for c in fake.called("sendChatAction")] == [
        {"chat_id": 777, "action": "typing"}, {"chat_id": 777, "action": "typing"}]


class RecordingIngress:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []

    async def submit(self, message: InboundMessage) -> bool:
        self.messages.append(message)
        return True


# -- delivery failures ---------------------------------------------------------------------


async def test_429_storm_is_ridden_out_in_order(fake: FakeTelegram) -> None:
    fake.rate_limit("sendMessage", retry_after=1, times=4)
    chats = (101, 102, 103)
    async with running_hub(telegram_config(fake)) as service:
        for chat in chats:
            fake.queue(message(chat, "open?"))
            fake.queue(message(chat, "thanks", message_id=2))
        await fake.wait_sent(6, timeout=30)
        await service.hub.drain()
    for chat in chats:
        assert fake.texts(chat) == ["We are open 9 to 5 *daily*_!", "You're welcome!"]
    limited = fake.called("sendMessage", ok=False)
    assert len(limited) == 4 and {c.status for c in limited} == {429}
    first_ok = min(c.at for c in fake.sent())
    assert first_ok - limited[0].at >= 1.0  # retry_after honoured


async def test_429_forever_gives_up_after_the_attempt_limit(fake: FakeTelegram) -> None:
    fake.rate_limit("sendMessage", retry_after=1, times=100, chat_id=7)
    async with running_hub(telegram_config(fake, max_send_attempts=2)) as service:
        fake.queue(message(7, "thanks"))
        fake.queue(message(8, "thanks"))
        await fake.wait_sent(1, chat_id=8)
        await service.hub.drain()
        assert len(fake.called("sendMessage", ok=False)) == 2
        conversation = await service.hub.store.conversation_at("telegram:7")
        assert conversation is not None and "delivery_failed" not in conversation.data


async def test_blocked_bot_is_recorded_and_not_retried(fake: FakeTelegram) -> None:
    fake.block(555)
    async with running_hub(telegram_config(fake)) as service:
        fake.queue(message(555, "thanks"))
        await fake.wait_for(lambda: bool(fake.called("sendMessage")))
        await service.hub.drain()
        assert [c.status for c in fake.called("sendMessage")] == [403]
        conversation = await service.hub.store.conversation_at("telegram:555")
        assert conversation is not None
        assert "blocked" in conversation.data["delivery_failed"]["reason"]


# -- webhook -------------------------------------------------------------------------------


async def test_webhook_registers_and_checks_the_secret(fake: FakeTelegram) -> None:
    config = webhook_config(fake)
    async with running_hub(config) as service:
        assert fake.webhook == {"url": config.channels.telegram.webhook_url, "secret_token": SECRET,
                                "allowed_updates": ["message", "edited_message", "callback_query"]}
        update = fake.new_update(message(31, "thanks"))
        assert await fake.post_webhook(update, secret="") == 401
        assert await fake.post_webhook(update, secret="wrong") == 401
        assert await fake.post_webhook(update) == 200
        assert await fake.post_webhook(update) == 200  # redelivered: accepted, not answered again
        await fake.wait_sent(1)
        await service.hub.drain()
        assert fake.texts(31) == ["You're welcome!"]
        assert not fake.called("getUpdates")


async def test_webhook_registration_waits_out_a_429(fake: FakeTelegram) -> None:
    fake.rate_limit("setWebhook", retry_after=1)
    async with running_hub(webhook_config(fake)):
        first, second = fake.called("setWebhook")
        assert (first.status, second.status) == (429, 200)
        assert second.at - first.at >= 1.0


async def test_telegram_down_at_startup_is_retried_in_the_background(fake: FakeTelegram) -> None:
    outage = fake.fail("setWebhook", 502, "Bad Gateway", times=5)  # 4 at startup, 1 more after
    async with running_hub(webhook_config(fake)) as service:
        [adapter] = service.adapters
        health = adapter.health()  # type: ignore[attr-defined]
        if outage.times > 0:  # not registered yet: the hub serves and says so
            assert health["status"] == "degraded" and not health["connected"]
        async with asyncio.timeout(10):
            await adapter.ready.wait()  # type: ignore[attr-defined]
        assert adapter.health()["status"] == "ok"  # type: ignore[attr-defined]
        assert [c.status for c in fake.called("setWebhook")] == [502] * 5 + [200]
        assert await fake.post_webhook(fake.new_update(message(91, "thanks"))) == 200
        await fake.wait_sent(1, chat_id=91)


async def test_webhook_url_telegram_refuses_is_a_startup_error(fake: FakeTelegram) -> None:
    config = telegram_config(fake, mode="webhook", webhook_url="http://example.com/hook")
    with pytest.raises(ConfigError) as caught:
        async with running_hub(config):
            pass
    assert caught.value.problems[0].key == "channels.telegram.webhook_url"
    assert "HTTPS" in str(caught.value)


async def test_webhook_answers_503_when_the_store_is_down(fake: FakeTelegram) -> None:
    log = FlakyLog()
    async with running_hub(webhook_config(fake), log=log) as service:
        update = fake.new_update(message(61, "thanks"))
        log.down = True
        assert await fake.post_webhook(update) == 503
        log.down = False
        assert await fake.post_webhook(update) == 200  # Telegram's redelivery
        await fake.wait_sent(1)
        await service.hub.drain()
        assert fake.texts(61) == ["You're welcome!"]


# -- polling offset ------------------------------------------------------------------------


async def test_restart_in_polling_mode_keeps_the_offset(fake: FakeTelegram, redis_url: str) -> None:
    config = telegram_config(fake, store_url=redis_url)
    async with running_hub(config) as service:
        first = fake.queue(message(71, "thanks"))
        second = fake.queue(message(72, "thanks"))
        await fake.wait_sent(2)
        await service.hub.drain()
        assert await service.hub.store.get(Keys.telegram_offset()) == second["update_id"] + 1
    calls_before = len(fake.calls)
    fake.redeliver(first, second)  # what Telegram holds if confirmations were lost
    third = fake.queue(message(73, "thanks"))
    async with running_hub(config) as service:
        await fake.wait_sent(3)
        await service.hub.drain()
    restarted = [c for c in fake.calls[calls_before:] if c.method == "getUpdates"]
    assert restarted[0].params["offset"] == second["update_id"] + 1
    assert [fake.texts(chat) for chat in (71, 72, 73)] == [["You're welcome!"]] * 3
    assert third["update_id"] == second["update_id"] + 1


async def test_polling_does_not_move_past_an_update_the_store_refused(fake: FakeTelegram) -> None:
    log = FlakyLog()
    log.down = True
    async with running_hub(telegram_config(fake), log=log) as service:
        update = fake.queue(message(81, "thanks"))
        await fake.wait_for(lambda: len(fake.called("getUpdates")) >= 2)
        assert not fake.sent()
        log.down = False
        await fake.wait_sent(1)
        await service.hub.drain()
        assert fake.texts(81) == ["You're welcome!"]
        assert await service.hub.store.get(Keys.telegram_offset()) == update["update_id"] + 1


# -- configuration -------------------------------------------------------------------------


async def test_missing_token_names_the_env_var(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    with pytest.raises(ConfigError) as caught:
        async with HubService(telegram_config(fake)):
            pass
    assert caught.value.problems[0].key == "channels.telegram.token_env"
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)


async def test_token_telegram_rejects_is_a_startup_error(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:not-the-right-one")
    with pytest.raises(ConfigError) as caught:
        async with HubService(telegram_config(fake)):
            pass
    assert caught.value.problems[0].key == "channels.telegram.token_env"


async def test_webhook_mode_needs_a_secret(fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    with pytest.raises(ConfigError) as caught:
        async with HubService(webhook_config(fake)):
            pass
    assert caught.value.problems[0].key == "channels.telegram.secret_token_env"


# -- pure conversions ----------------------------------------------------------------------

ME = BotIdentity(id=BOT["id"], username=BOT["username"])


def envelope(update: dict[str, Any]) -> Any:
    return to_envelope(Update.model_validate({"update_id": 5, **update}), ME)


def test_text_message_envelope() -> None:
    env = envelope(message(77, "  hello  "))
    assert (env.channel, env.conversation_id, env.user_id, env.message_id, env.text) == (
        "telegram", "77", "77", "77:1", "hello")  # Telegram's own identity of the message
    assert env.user_name == "Ada" and env.metadata["chat_type"] == "private"


def test_media_become_attachment_references() -> None:
    photo = envelope(message(1, None, caption="my screen", photo=[
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
        {"file_id": "big", "file_unique_id": "b", "width": 900, "height": 900, "file_size": 5000}]))
    assert photo.text == "my screen"
    assert (photo.attachments[0].kind, photo.attachments[0].ref) == ("photo", "big")
    doc = envelope(message(1, None, document={"file_id": "d1", "file_unique_id": "d",
                                              "file_name": "invoice.pdf", "mime_type": "application/pdf"}))
    assert doc.text == "[document: invoice.pdf]" and doc.attachments[0].name == "invoice.pdf"
    voice = envelope(message(1, None, voice={"file_id": "v1", "file_unique_id": "v", "duration": 3}))
    assert voice.text == "[voice message]" and voice.attachments[0].kind == "voice"
    sticker = envelope(message(1, None, sticker={
        "file_id": "st", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
        "is_animated": False, "is_video": False, "emoji": "👍"}))
    assert sticker.text == "[sticker 👍]"


def test_edited_message_is_a_new_envelope_naming_the_original() -> None:
    body = message(3, "new words")["message"]
    env = envelope({"edited_message": {**body, "edit_date": body["date"]}})
    assert env.text == "new words" and env.metadata["edited"] is True
    assert (env.message_id, env.edit_of) == ("u5", "3:1")


def test_groups_only_when_addressed() -> None:
    assert envelope(message(-100, "hello everyone", chat_type="group", from_id=9)) is None
    mentioned = envelope(message(-100, "@Switchboard_Test_Bot are you open?", chat_type="supergroup", from_id=9))
    assert mentioned.text == "are you open?" and mentioned.conversation_id == "-100"
    reply = envelope(message(-100, "and on sundays?", chat_type="group", from_id=9,
                             reply_to_message={"message_id": 1, "date": 0, "from": BOT,
                                               "chat": {"id": -100, "type": "group", "title": "G"}}))
    assert reply is not None and reply.text == "and on sundays?"
    assert envelope(message(-5, "news", chat_type="channel")) is None


def test_button_press_envelope() -> None:
    env = envelope(button_press(12, "thanks", query_id="q9"))
    assert (env.text, env.conversation_id, env.metadata["callback_query_id"]) == ("thanks", "12", "q9")


def test_outbound_split_buttons_and_agent_name() -> None:
    out = OutboundMessage(channel="telegram", conversation_id="-100", text="a" * 5000,
                          buttons=(Button("Yes", "y"),), sender="agent", sender_name="Maya")
    first, last = to_platform(out)
    assert first.text.startswith("Maya: ") and first.reply_markup is None
    assert last.reply_markup is not None and first.chat_id == -100
    assert len(first.text) == 4096 and first.text + last.text == "Maya: " + "a" * 5000


def test_split_text_counts_utf16_and_prefers_breaks() -> None:
    assert split_text("short") == ["short"]
    emoji = "😀" * 3000  # 6000 UTF-16 units
    parts = split_text(emoji)
    assert [len(p.encode("utf-16-le")) // 2 for p in parts] == [4096, 1904]
    text = "y" * 3000 + "\n" + "x" * 2000
    assert split_text(text) == ["y" * 3000, "x" * 2000]
    assert split_text("z" * 5000) == ["z" * 4096, "z" * 904]  # no break: a hard cut


def test_pacer_spaces_each_chat_and_the_whole_bot() -> None:
    now = [0.0]
    pacer = SendPacer(per_chat_per_s=1.0, global_per_s=4.0, clock=lambda: now[0])
    assert [pacer.delay(c) for c in ("a", "b", "c", "a")] == [0.0, 0.25, 0.5, 1.0]
    pacer.back_off("b", 3.0)
    assert pacer.delay("c") == 3.0


async def test_webhook_with_a_malformed_body_gets_400_and_the_hub_keeps_serving(
    fake: FakeTelegram,
) -> None:
    config = webhook_config(fake)
    async with running_hub(config), aiohttp.ClientSession() as http:
        url = fake.webhook["url"]
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        for body in (b"{not json", b"[1, 2]", b'{"update_id": "x"}'):
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 400, body
        update = fake.new_update(message(32, "thanks"))
        assert await fake.post_webhook(update) == 200
        await fake.wait_sent(1)
        assert fake.texts(32) == ["You're welcome!"]
