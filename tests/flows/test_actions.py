"""HTTP actions against the fake shop: failures, retries, signing, idempotency, breaker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flows.actions import Actions, idempotency_key
from flows.config import ActionConfig
from flows.errors import ActionFailed, NotFound
from flows.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from hub.errors import ConfigError
from hub.metrics import Metrics
from tests.fakes.shop_api import FakeShop
from tests.flows.conftest import SECRET, shop_config
from tests.harness import WebchatClient, make_config, running_hub

FAILURE = "Sorry, I can't reach our order system right now. Shall I pass you to a person?"


def order_action(shop: FakeShop, **extra: Any) -> ActionConfig:
    return ActionConfig(url=f"{shop.url}/api/orders/{{order_id}}", secret_env="SHOP_SECRET",
                        timeout_s=0.3, retries=0, **extra)


def return_action(shop: FakeShop, **extra: Any) -> ActionConfig:
    return ActionConfig(url=f"{shop.url}/api/returns", method="POST", secret_env="SHOP_SECRET",
                        timeout_s=0.3, **extra)


@pytest.fixture
async def actions() -> Any:
    async with Actions(Metrics()) as runner:
        yield runner


async def test_an_order_is_fetched_with_its_slot_quoted_in_the_path(shop: FakeShop, actions: Actions) -> None:
    result = await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    assert result.data["status"] == "shipped" and result.status == 200
    with pytest.raises(NotFound):
        await actions.call("order_status", order_action(shop), {"order_id": "NW-1/../../admin?x=1 #"})
    assert shop.requests[-1].path == "/api/orders/NW-1%2F..%2F..%2Fadmin%3Fx=1%20%23"  # yarl leaves a harmless = as is


async def test_timeout_5xx_and_bad_json_are_typed_failures(shop: FakeShop, actions: Actions) -> None:
    shop.hang(1.0)
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    assert failed.value.outcome == "timeout"
    shop.fail(500)
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    assert failed.value.outcome == "http_5xx"
    shop.garble()
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    assert failed.value.outcome == "bad_json"
    shop.fail(400)
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    assert failed.value.outcome == "http_4xx"


async def test_a_5xx_is_retried_with_the_same_idempotency_key(shop: FakeShop, actions: Actions) -> None:
    key = idempotency_key("conv-1", "msg-7", "returns", "create")
    assert key == idempotency_key("conv-1", "msg-7", "returns", "create")
    assert key != idempotency_key("conv-1", "msg-8", "returns", "create")
    shop.fail(503)
    args = {"order_id": "NW-10043", "reason": "damaged"}
    first = await actions.call("create_return", return_action(shop, retries=2), args, idempotency_key=key)
    assert first.attempts == 2
    again = await actions.call("create_return", return_action(shop), args, idempotency_key=key)  # a re-run
    assert again.data["return_id"] == first.data["return_id"] == "RMA-00001"
    keys = [r.header("Idempotency-Key") for r in shop.for_path("/api/returns")]
    assert keys == [key, key, key]
    assert len(shop.returns) == 1


async def test_get_requests_carry_no_idempotency_key(shop: FakeShop, actions: Actions) -> None:
    await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"}, idempotency_key="k")
    assert shop.requests[0].header("Idempotency-Key") is None


async def test_every_request_is_signed_the_documented_way(shop: FakeShop, actions: Actions) -> None:
    await actions.call("order_status", order_action(shop), {"order_id": "NW-10042"})
    await actions.call("create_return", return_action(shop), {"order_id": "NW-10043", "reason": "x"},
                       idempotency_key="k")
    for seen in shop.requests:
        timestamp, signature = seen.header(TIMESTAMP_HEADER), seen.header(SIGNATURE_HEADER)
        assert timestamp and signature and signature.startswith("v1=")
        assert verify(SECRET, timestamp, seen.body, signature)
        assert not verify("wrong secret", timestamp, seen.body, signature)
        assert not verify(SECRET, timestamp, seen.body + b" ", signature)
        assert not verify(SECRET, str(int(timestamp) - 301), seen.body, signature)


def _recompute(secret: str, timestamp: str, body: bytes) -> str:
    """The scheme as docs/flows.md tells a shop to check it, written out by hand."""
    import hashlib
    import hmac

    base = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def test_the_signature_matches_a_hand_written_check(shop: FakeShop, actions: Actions) -> None:
    await actions.call("create_return", return_action(shop), {"order_id": "NW-10043", "reason": "x"},
                       idempotency_key="k")
    seen = shop.requests[0]
    timestamp = seen.header(TIMESTAMP_HEADER) or ""
    assert seen.header(SIGNATURE_HEADER) == _recompute(SECRET, timestamp, seen.body)


async def test_the_circuit_breaker_opens_and_closes(shop: FakeShop, actions: Actions) -> None:
    config = order_action(shop, breaker_failures=2, breaker_reset_s=0.3)
    shop.fail(500, times=2)
    for _ in range(2):
        with pytest.raises(ActionFailed):
            await actions.call("order_status", config, {"order_id": "NW-10042"})
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", config, {"order_id": "NW-10042"})
    assert failed.value.outcome == "circuit_open"
    assert len(shop.requests) == 2  # the open breaker did not call the shop
    await asyncio.sleep(0.35)
    assert actions.breakers["order_status"].state == "half-open"
    assert (await actions.call("order_status", config, {"order_id": "NW-10042"})).data["status"] == "shipped"
    assert actions.breakers["order_status"].state == "closed"


async def test_a_failed_trial_reopens_the_breaker(shop: FakeShop, actions: Actions) -> None:
    config = order_action(shop, breaker_failures=1, breaker_reset_s=0.2)
    shop.fail(500, times=2)
    with pytest.raises(ActionFailed):
        await actions.call("order_status", config, {"order_id": "NW-10042"})
    await asyncio.sleep(0.25)
    with pytest.raises(ActionFailed) as failed:
        await actions.call("order_status", config, {"order_id": "NW-10042"})
    assert failed.value.outcome == "http_5xx"
    assert actions.breakers["order_status"].state == "open"


@pytest.mark.parametrize(
    ("fault", "outcome"), [("hang", "timeout"), ("fail", "http_5xx"), ("garble", "bad_json")]
)
async def test_a_failing_action_mid_flow_says_so_and_offers_a_person(
    shop: FakeShop, fault: str, outcome: str
) -> None:
    config = shop_config(shop, retries=0, timeout_s=0.2)
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("where is my order?")
        getattr(shop, fault)(1.0) if fault == "hang" else getattr(shop, fault)()
        answer = await chat.say("NW-10042")
        assert answer["text"] == FAILURE
        assert [b["label"] for b in answer["buttons"]] == ["Talk to a person"]
        metrics = hub.hub.metrics.render().decode()
        assert f'switchboard_action_calls_total{{action="order_status",outcome="{outcome}"}} 1.0' in metrics
        assert "switchboard_action_latency_seconds_bucket" in metrics
        # the flow is over; the next order question starts afresh and works
        await chat.say("where is my order?")
        assert "is shipped" in (await chat.say("NW-10042"))["text"]


async def test_an_unknown_order_is_asked_again(shop: FakeShop) -> None:
    async with running_hub(shop_config(shop)) as hub, WebchatClient.connect(hub.url) as chat:
        answer = await chat.say("where is order NW-99999?")
        assert answer["text"] == (
            "I couldn't find NW-99999. Please check it and try again.\n\n"
            "What is your order number? It starts with NW- and has 5 digits."
        )
        assert "is shipped" in (await chat.say("sorry, NW-10042"))["text"]


async def test_an_action_failure_message_can_be_configured(shop: FakeShop) -> None:
    config = shop_config(shop, retries=0, failure_message="Our shop is napping. A person can help.")
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        shop.fail(502)
        answer = await chat.say("where is order NW-10042?")
        assert answer["text"] == "Our shop is napping. A person can help."


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://shop.example/x", "javascript:alert(1)", "/relative"])
def test_a_non_http_action_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        make_config(actions={"order_status": {"url": url}})
    assert "actions.order_status.url: expected an http:// or https:// URL" in str(error.value)


PLUGIN = '''
async def lookup(args):
    return {"status": "packed", "order": args["order_id"]}


def not_async(args):
    return {}
'''


@pytest.fixture
def installed_plugin(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party package that registers actions under ``switchboard.actions``, as pip would."""
    (tmp_path / "shop_plugin.py").write_text(PLUGIN, encoding="utf-8")
    info = tmp_path / "shop_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shop-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[switchboard.actions]\nlookup_order = shop_plugin:lookup\nsync_one = shop_plugin:not_async\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


async def test_a_plugin_registered_as_an_entry_point_is_called_with_the_slots(
    installed_plugin: None, actions: Actions
) -> None:
    result = await actions.call("order_status", ActionConfig(python="lookup_order"), {"order_id": "NW-10042"})
    assert dict(result.data) == {"status": "packed", "order": "NW-10042"}
    for target, reason in (("no_such_action", "cannot load plugin"), ("sync_one", "not an async function")):
        with pytest.raises(ActionFailed) as failed:
            await actions.call("order_status", ActionConfig(python=target), {"order_id": "NW-10042"})
        assert failed.value.outcome == "error" and reason in str(failed.value)
