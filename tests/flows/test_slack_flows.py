"""Both demo flows over Slack (real slack-bolt and slack_sdk against the fake Slack Web
API, signed Events API requests), with the actions calling the fake shop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.adapters.test_slack import delivered, events_url, say
from tests.fakes.shop_api import FakeShop
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import SIGNING_SECRET, block_actions, message_event, post_event
from tests.flows.conftest import shop_config
from tests.harness import running_hub

DM = "D_CUSTOMER"


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    async with FakeSlack() as fake:
        yield fake


def config(shop: FakeShop, slack: FakeSlack):  # type: ignore[no-untyped-def]
    section = {"enabled": True, "api_base": slack.api_base}
    return shop_config(shop, {"channels": {"webchat": {"enabled": False}, "slack": section}})


async def test_order_status_over_slack(shop: FakeShop, slack: FakeSlack) -> None:
    async with running_hub(config(shop, slack)) as service:
        await say(service, message_event("Where is my order?", channel=DM))
        assert delivered(slack, DM)[0]["text"].startswith("What is your order number?")
        await say(service, message_event("it's NW-10042", channel=DM))
        assert delivered(slack, DM)[1]["text"].startswith(
            "Order NW-10042 is shipped; expected in 2 working days.")
    assert [r.path for r in shop.requests] == ["/api/orders/NW-10042"]


async def test_returns_over_slack_with_the_reason_buttons(shop: FakeShop, slack: FakeSlack) -> None:
    async with running_hub(config(shop, slack)) as service:
        await say(service, message_event("I want to return this", channel=DM))
        await say(service, message_event("NW-10043", channel=DM))
        reason = delivered(slack, DM)[1]
        elements = [b for b in reason["blocks"] if b["type"] == "actions"][0]["elements"]
        assert [e["text"]["text"] for e in elements] == [
            "wrong size", "damaged", "not as described", "changed my mind"]
        damaged = elements[1]
        press = block_actions(
            damaged["value"], action_id=damaged["action_id"], label="damaged", channel=DM,
            message_ts=reason["ts"], message=reason,
        )
        status, _ = await post_event(events_url(service), press)
        assert status == 200
        await service.hub.drain()
        answer = await slack.wait_for(
            "chat.postMessage", lambda p: str(p.get("text", "")).startswith("Sorry about that.")
        )
        assert "RMA-00001" in answer["text"]
    [posted] = shop.for_path("/api/returns")
    assert posted.body == b'{"order_id": "NW-10043", "reason": "damaged"}'
