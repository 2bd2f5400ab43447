"""A flow survives a hub restart on a real redis-server, and another process continues it."""

from __future__ import annotations

import json

import redis.asyncio

from flows.state import FlowState
from hub.store import Keys
from tests.fakes.shop_api import FakeShop
from tests.flows.conftest import shop_config
from tests.harness import WebchatClient, running_hub


async def test_a_flow_survives_a_restart_on_redis(shop: FakeShop, redis_url: str) -> None:
    config = shop_config(shop, {"store": {"url": redis_url}})
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("I want to return my order")
        assert (await chat.say("NW-10043"))["text"] == "Why are you returning order NW-10043?"
        token = chat.session
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = [k.decode() async for k in client.scan_iter("*flow:*")]
        assert len(keys) == 1  # the state sits in Redis, under the key hub/store/keys.py builds
        assert keys[0].endswith(Keys.flow_state(keys[0].rsplit(":", 1)[1]))
        saved = FlowState.from_json(json.loads(await client.get(keys[0])))
        assert (saved.flow, saved.step, dict(saved.slots)) == ("returns", "ask-reason", {"order_id": "NW-10043"})
    finally:
        await client.aclose()
    async with running_hub(config) as hub, WebchatClient.connect(hub.url, session=token) as chat:
        done = await chat.say("changed my mind")
        assert done["text"].startswith("Return RMA-00001 is open for order NW-10043.")
    assert len(shop.for_path("/api/returns")) == 1
