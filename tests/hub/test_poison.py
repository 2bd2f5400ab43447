"""A message that fails every time goes to the dead letters and blocks nothing."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from redis import asyncio as aioredis

from hub.ingress import partition_of
from hub.logs import log_address
from hub.store.keys import Keys
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "n", "pattern": "^n\\d+", "action": "reply", "text": "got it"}]


async def test_a_poison_message_is_dead_lettered_and_its_partition_goes_on(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(rules=RULES, store={"url": redis_url}, cluster={"partitions": 2})
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as victim:
        assert (await victim.say("n1"))["text"] == "got it"
        partition = partition_of(f"webchat:{victim.session_id}", 2)
        async with WebchatClient.connect(hub.url) as neighbour:
            while partition_of(f"webchat:{neighbour.session_id}", 2) != partition:
                await neighbour.hello(None)  # a new session, until one shares the partition
            conversation = await redis.get(Keys().address(f"webchat:{victim.session_id}"))
            await redis.set(Keys().conversation(conversation), "{corrupt")
            with caplog.at_level(logging.ERROR, logger="hub.ingress.consumer"):
                await victim.send({"type": "message", "id": "p1", "text": "n2"})
                assert (await neighbour.say("n3"))["text"] == "got it"  # not blocked behind it
                apology = await victim.expect("message", timeout=15, reply_to="p1")
        assert apology["from"] == "system"
        assert apology["text"] == config.messages.apology
        # named by its address's hash, never the session id (a bearer secret)
        assert f"conversation {log_address(f'webchat:{victim.session_id}')}" in caplog.text
        assert victim.session_id not in caplog.text
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{hub.url}/metrics") as resp:
                assert "switchboard_dead_letters_total 1.0" in await resp.text()
            async with http.get(f"{hub.url}/healthz") as resp:
                assert (await resp.json())["components"]["ingress"]["dead_letters"] == 1
    letters = await redis.xrange(Keys().dead_letters())
    assert len(letters) == 1 and "failed 3 times" in letters[0][1]["letter"]
    await redis.aclose()
