"""Both demo flows over Telegram (the real aiogram client against the fake Bot API),
with the actions calling the fake shop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.shop_api import FakeShop
from tests.fakes.telegram_api import TOKEN, FakeTelegram, button_press, message
from tests.flows.conftest import shop_config
from tests.harness import running_hub

CHAT = 5150


@pytest.fixture
async def telegram(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTelegram]:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    async with FakeTelegram.running() as server:
        yield server


def config(shop: FakeShop, telegram: FakeTelegram):  # type: ignore[no-untyped-def]
    section = {"enabled": True, "api_base": telegram.base_url, "per_chat_per_s": 50.0,
               "global_per_s": 1000.0, "poll_timeout_s": 1}
    return shop_config(shop, {"channels": {"webchat": {"enabled": False}, "telegram": section}})


async def test_order_status_over_telegram(shop: FakeShop, telegram: FakeTelegram) -> None:
    async with running_hub(config(shop, telegram)):
        telegram.queue(message(CHAT, "Where is my order?", message_id=1))
        await telegram.wait_sent(1, CHAT)
        assert telegram.texts(CHAT)[0].startswith("What is your order number?")
        telegram.queue(message(CHAT, "nw-10042 I think", message_id=2))
        await telegram.wait_sent(2, CHAT)
        assert telegram.texts(CHAT)[1].startswith("Order NW-10042 is shipped; expected in 2 working days.")
    assert [r.path for r in shop.requests] == ["/api/orders/NW-10042"]


async def test_returns_over_telegram_with_the_reason_buttons(shop: FakeShop, telegram: FakeTelegram) -> None:
    async with running_hub(config(shop, telegram)):
        telegram.queue(message(CHAT, "I want to return this", message_id=1))
        await telegram.wait_sent(1, CHAT)
        telegram.queue(message(CHAT, "NW-10043", message_id=2))
        [_, reason] = await telegram.wait_sent(2, CHAT)
        keyboard = reason.params["reply_markup"]["inline_keyboard"]
        assert [row[0]["text"] for row in keyboard] == [
            "wrong size", "damaged", "not as described", "changed my mind"]
        telegram.queue(button_press(CHAT, keyboard[1][0]["callback_data"], query_id="q-1"))
        await telegram.wait_sent(3, CHAT)
        assert telegram.texts(CHAT)[2].startswith("Sorry about that. Return RMA-00001 is open")
    [posted] = shop.for_path("/api/returns")
    assert posted.body == b'{"order_id": "NW-10043", "reason": "damaged"}'
