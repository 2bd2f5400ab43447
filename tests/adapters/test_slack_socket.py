"""Slack over Socket Mode: slack_sdk's SocketModeClient against the fake's WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hub.errors import ConfigError
from hub.service import HubService
from tests.adapters.test_slack import RULES
from tests.fakes.flaky import FlakyLog
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import block_actions, event_callback, message_event
from tests.harness import make_config, running_hub


@pytest.fixture(autouse=True)
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_APP_TOKEN", FakeSlack.app_token)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)  # not needed in socket mode


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def socket_config(fake: FakeSlack) -> Any:
    return make_config(
        channels={
            "webchat": {"enabled": False},
            "slack": {"enabled": True, "mode": "socket", "api_base": fake.api_base},
        },
        rules=RULES,
    )


@pytest.fixture
async def hub(slack: FakeSlack) -> AsyncIterator[HubService]:
    async with running_hub(socket_config(slack)) as service:
        yield service


async def test_dm_over_socket_mode_is_acked_and_answered(hub: HubService, slack: FakeSlack) -> None:
    assert slack.socket_connections == 1
    assert slack.called("apps.connections.open")
    envelope = await slack.socket_send(
        event_callback(message_event("opening hours?", channel="D_CUSTOMER"))
    )
    assert await slack.wait_socket_ack(envelope) == {"envelope_id": envelope}
    posted = await slack.wait_for("chat.postMessage")
    assert posted["channel"] == "D_CUSTOMER"
    assert posted["text"].startswith("We're open")


async def test_redelivered_envelope_is_answered_once(hub: HubService, slack: FakeSlack) -> None:
    payload = event_callback(message_event("opening hours?", channel="D_CUSTOMER"), "EvS1")
    for attempt in range(3):
        await slack.wait_socket_ack(await slack.socket_send(payload, retry_attempt=attempt))
    await hub.hub.drain()
    assert len(slack.messages["D_CUSTOMER"]) == 1


async def test_button_press_over_socket_mode(hub: HubService, slack: FakeSlack) -> None:
    await slack.socket_send(event_callback(message_event("refund please", channel="D_CUSTOMER")))
    await slack.wait_for("chat.postMessage")
    offer = slack.messages["D_CUSTOMER"][0]
    envelope = await slack.socket_send(block_actions("refund yes", message_ts=offer["ts"]))
    await slack.wait_socket_ack(envelope)
    answer = await slack.wait_for("chat.postMessage", lambda p: p["text"] == "Refund started.")
    assert answer["channel"] == "D_CUSTOMER"


async def test_no_events_endpoint_and_healthy_in_socket_mode(hub: HubService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{hub.url}/slack/events", data=b"{}") as response:
            assert response.status in (404, 405)
        async with http.get(f"{hub.url}/healthz") as response:
            health = await response.json()
    assert health["components"]["slack"] == {"status": "ok", "mode": "socket"}


async def test_store_down_leaves_the_envelope_unacked_for_redelivery(slack: FakeSlack) -> None:
    log = FlakyLog()
    async with running_hub(socket_config(slack), log=log) as service:
        payload = event_callback(message_event("opening hours?", channel="D_CUSTOMER"), "EvS2")
        log.down = True
        refused = await slack.socket_send(payload)
        await asyncio.sleep(0.3)
        assert refused not in slack.socket_acks
        log.down = False
        await slack.wait_socket_ack(await slack.socket_send(payload, retry_attempt=1))
        await service.hub.drain()
        assert len(slack.messages["D_CUSTOMER"]) == 1


async def test_missing_app_token_is_a_startup_error_naming_the_key(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_APP_TOKEN")
    with pytest.raises(ConfigError) as info:
        async with running_hub(socket_config(slack)):
            pass
    assert "channels.slack.app_token_env" in str(info.value)
    assert "SLACK_APP_TOKEN" in str(info.value)
