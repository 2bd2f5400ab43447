"""Export and forget one customer, on the memory store and on a real Redis: afterwards
nothing of theirs is left (the Redis keyspace is scanned, keys and values)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from hub.config import Config
from hub.service import HubService
from hub.store import MemoryStore, Store
from privacy import customer_ref, export_customer, forget_customer
from tests.channel_faq import write_channel_faq
from tests.feedback.helpers import RatingsSeen
from tests.harness import WebchatClient, make_config, running_hub

SECRET_WORDS = "my card 4111 1111 1111 1111 and zebra-phrase-31"


def config(tmp_path: Path, store_url: str) -> Config:
    return make_config(
        kb={"enabled": True, "path": str(write_channel_faq(tmp_path))}, store={"url": store_url}
    )


@pytest.fixture(params=["memory", "redis"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HubService]:
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    async with running_hub(config(tmp_path, url)) as running:
        yield running


async def chat_and_rate(service: HubService) -> tuple[str, str]:
    """A customer who talks, is answered, rates, and comes back; their session id."""
    seen = RatingsSeen(service)
    async with WebchatClient.connect(service.url) as chat:
        answer = await chat.say("can I pay with paypal")
        await chat.send({"type": "rating", "message_id": answer["id"], "value": -1})
        await seen.wait(1)
        await chat.say(SECRET_WORDS)
        return chat.session_id, answer["id"]


async def test_export_then_forget_leaves_nothing(service: HubService) -> None:
    store = service.hub.store
    session, _ = await chat_and_rate(service)
    other, _ = await chat_and_rate(service)  # another customer, who stays

    exported = await export_customer(store, "webchat", session)
    [conversation] = exported["conversations"]
    texts = [line["text"] for line in conversation["transcript"]]
    assert texts[0] == "can I pay with paypal" and SECRET_WORDS in texts
    assert [r["value"] for r in conversation["ratings"]] == [-1]
    assert conversation["summary"]["rating"] == -1
    json.dumps(exported)  # JSON all the way down

    report = await forget_customer(store, "webchat", session, actor="ops")
    assert (report.conversations, report.ratings, report.transcript_lines) == (1, 1, 4)
    assert report.customer == customer_ref("webchat", session) and session not in report.customer
    assert (await export_customer(store, "webchat", session))["conversations"] == []
    assert [s.user for s in await store.list_conversations()] == [other]
    assert [r.address for r in await store.recent_ratings()] == [f"webchat:{other}"]
    [audit] = await store.audit_log()
    assert (audit.actor, audit.action) == ("ops", "privacy.forget")
    assert session not in audit.detail
    await assert_nothing_left(store, session, other)


async def assert_nothing_left(store: Store, session: str, other: str) -> None:
    if isinstance(store, MemoryStore):
        dump = json.dumps([
            sorted(store._values), list(store._values.values()), sorted(store._sets),
            [sorted(s) for s in store._sets.values()],
        ])
        assert session not in dump and "zebra-phrase" not in dump.replace(other, "")
        assert await store.conversation_at(f"webchat:{session}") is None
        return
    redis = store.redis  # type: ignore[attr-defined]
    assert isinstance(redis, aioredis.Redis)
    found = []
    async for key in redis.scan_iter(count=1000):
        if key.startswith("sb:seen:"):  # dedupe claims: an id, no content, gone after dedupe_ttl_s
            assert 0 < await redis.pttl(key) <= 900_000
            continue
        text = key + " " + await dump_value(redis, key)
        if session in text or ("zebra-phrase" in text and other not in text):
            found.append(key)
    assert found == []


async def dump_value(redis: aioredis.Redis, key: str) -> str:
    kind = await redis.type(key)
    if kind == "string":
        return str(await redis.get(key))
    if kind == "hash":
        return json.dumps(await redis.hgetall(key))
    if kind == "list":
        return json.dumps(await redis.lrange(key, 0, -1))
    if kind == "set":
        return json.dumps(sorted(await redis.smembers(key)))
    if kind == "zset":
        return json.dumps(await redis.zrange(key, 0, -1))
    if kind == "stream":
        return json.dumps(await redis.xrange(key))
    return ""
