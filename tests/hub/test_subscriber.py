"""hub.store.subscriber on a real redis-server: what the webchat bus listens with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from hub.store.subscriber import Message, Subscriber


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield redis
    finally:
        await redis.aclose()


async def _until(subscriber: Subscriber, count: int) -> list[Message]:
    got: list[Message] = []
    while len(got) < count:
        got += await asyncio.wait_for(subscriber.read(), 5)
    return got


async def test_confirmations_and_messages_come_in_order(client: aioredis.Redis) -> None:
    subscriber = Subscriber(client.connection_pool)
    await subscriber.connect()
    try:
        subscriber.subscribe("a", "b")
        confirmed = await _until(subscriber, 2)
        assert [(m["type"], m["channel"]) for m in confirmed] == [("subscribe", "a"), ("subscribe", "b")]
        await client.publish("b", "one")
        await client.publish("a", "two é")
        subscriber.unsubscribe("a")
        await client.publish("a", "not heard")
        await client.publish("b", "three")
        got = await _until(subscriber, 4)
        assert [(m["type"], m["channel"], m["data"]) for m in got] == [
            ("message", "b", "one"), ("message", "a", "two é"),
            ("unsubscribe", "a", 1), ("message", "b", "three"),
        ]
    finally:
        await subscriber.close()


async def test_what_came_together_is_read_together(client: aioredis.Redis) -> None:
    subscriber = Subscriber(client.connection_pool)
    await subscriber.connect()
    try:
        subscriber.subscribe("c")
        await _until(subscriber, 1)
        async with client.pipeline(transaction=False) as pipe:
            for i in range(200):
                pipe.publish("c", str(i))
            await pipe.execute()
        await asyncio.sleep(0.1)
        reads, got = 0, []
        while len(got) < 200:
            got += await asyncio.wait_for(subscriber.read(), 5)
            reads += 1
        assert [m["data"] for m in got] == [str(i) for i in range(200)]
        assert reads <= 3, reads
    finally:
        await subscriber.close()


async def test_a_lost_connection_raises_and_a_closed_one_refuses(client: aioredis.Redis) -> None:
    subscriber = Subscriber(client.connection_pool)
    await subscriber.connect()
    subscriber.subscribe("d")
    await _until(subscriber, 1)
    assert await client.client_kill_filter(_type="pubsub") >= 1  # ours, and any left by others
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(subscriber.read(), 5)
    await subscriber.close()
    assert not subscriber.connected
    with pytest.raises(RedisConnectionError):
        subscriber.subscribe("d")
