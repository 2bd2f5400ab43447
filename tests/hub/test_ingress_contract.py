"""One contract for every ingress log: memory and Redis Streams behave alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hub.conversation import TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage
from hub.errors import RateLimited
from hub.ingress import Delivery, Entry, Fence, IngressLog, MemoryLog, Outbox, Work, partition_of
from hub.store import MemoryStore, RateLimit, Store

PARTITIONS = 8


@pytest.fixture(params=["memory", "redis"])
async def log(request: pytest.FixtureRequest) -> AsyncIterator[IngressLog]:
    if request.param == "memory":
        yield MemoryLog(PARTITIONS)
        return
    from redis import asyncio as aioredis

    from hub.ingress.redis import RedisLog

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    redis_log = RedisLog(client, "consumer-1", partitions=PARTITIONS)
    await redis_log.create_groups()
    try:
        yield redis_log
    finally:
        await client.aclose()


def work(text: str, message_id: str, conversation: str = "c1") -> Work:
    return Work.of_message(InboundMessage("webchat", conversation, "u1", message_id, text))


async def held_fence(log: IngressLog, entry: Entry) -> Fence:
    """A fence that holds the entry's partition (a lease in Redis; always, in memory)."""
    fence = Fence(entry.partition, "owner-1:1", 1)
    redis = getattr(log, "redis", None)
    if redis is not None:
        await redis.set(log.keys.lease(entry.partition), fence.token)  # type: ignore[attr-defined]
    return fence


def store_beside(log: IngressLog) -> Store:
    """The store a hub pairs with this log (on the same Redis client, or in memory)."""
    redis = getattr(log, "redis", None)
    if redis is None:
        return MemoryStore()
    from hub.store.redis import RedisStore

    return RedisStore(redis)


async def read_all(log: IngressLog, expected: int) -> list[Entry]:
    entries: list[Entry] = []
    for _ in range(20):
        entries += await log.read(range(PARTITIONS), 100, 0.05)
        if len(entries) >= expected:
            break
    return entries


async def test_enqueue_dedupes_by_work_key(log: IngressLog) -> None:
    assert await log.enqueue(work("hi", "m1"), 900)
    assert not await log.enqueue(work("hi again", "m1"), 900)
    assert await log.enqueue(work("other", "m2"), 900)
    entries = await read_all(log, 2)
    assert [e.work.message().text for e in entries if e.work] == ["hi", "other"]


async def test_one_conversation_stays_in_one_partition_in_order(log: IngressLog) -> None:
    for i in range(10):
        await log.enqueue(work(f"n{i}", f"m{i}", conversation="talk"), 900)
    entries = await read_all(log, 10)
    partition = partition_of("webchat:talk", PARTITIONS)
    assert {e.partition for e in entries} == {partition}
    assert [e.work.message().text for e in entries if e.work] == [f"n{i}" for i in range(10)]
    assert all(e.deliveries == 1 and not e.redelivered for e in entries)


async def test_read_waits_for_new_work(log: IngressLog) -> None:
    reading = asyncio.create_task(log.read(range(PARTITIONS), 10, 2.0))
    await asyncio.sleep(0.1)
    assert not reading.done()
    await log.enqueue(work("late", "m1"), 900)
    entries = await asyncio.wait_for(reading, 3)
    assert [e.work.message().text for e in entries if e.work] == ["late"]


async def test_only_the_asked_partitions_are_read(log: IngressLog) -> None:
    await log.enqueue(work("a", "m1", conversation="x"), 900)
    mine = partition_of("webchat:x", PARTITIONS)
    others = [p for p in range(PARTITIONS) if p != mine]
    assert await log.read(others, 10, 0.05) == []
    assert len(await log.read([mine], 10, 0.05)) == 1


async def test_unacked_entries_come_back_to_a_new_owner_in_order(log: IngressLog) -> None:
    for i in range(5):
        await log.enqueue(work(f"n{i}", f"m{i}", conversation="talk"), 900)
    entries = await read_all(log, 5)
    await log.ack(entries[0])
    partition = entries[0].partition
    recovered = await log.recover(partition)
    assert [e.work.message().text for e in recovered if e.work] == ["n1", "n2", "n3", "n4"]
    assert all(e.deliveries == 2 and e.redelivered for e in recovered)
    assert await log.read([partition], 10, 0.05) == []  # recovered, not new
    stats = await log.stats()
    assert (stats.lag, stats.pending) == (0, 4)


async def test_acked_entries_are_gone(log: IngressLog) -> None:
    await log.enqueue(work("hi", "m1"), 900)
    (entry,) = await read_all(log, 1)
    await log.ack(entry)
    assert await log.recover(entry.partition) == []
    assert (await log.stats()).pending == 0
    assert not await log.enqueue(work("hi", "m1"), 900)  # still a duplicate after the ack


async def test_a_guard_takes_its_tokens_in_the_same_step_as_the_enqueue(log: IngressLog) -> None:
    store = store_beside(log)
    one = [RateLimit("session:s1", 1, 0.001)]  # one token, next to none refilled
    assert await log.enqueue(work("hi", "m1"), 900, store.take_tokens_step(one))
    with pytest.raises(RateLimited):
        await log.enqueue(work("again", "m2"), 900, store.take_tokens_step(one))
    assert await log.enqueue(work("again", "m2"), 900)  # not claimed when refused
    assert [e.work.key for e in await read_all(log, 2) if e.work] == ["webchat:m1", "webchat:m2"]
    # A duplicate costs its token too, as a resend should.
    fresh = [RateLimit("session:s2", 2, 0.001)]
    assert not await log.enqueue(work("hi", "m1"), 900, store.take_tokens_step(fresh))
    assert await store.take_tokens(fresh)
    assert not await store.take_tokens(fresh)


async def test_a_retry_counts_a_delivery(log: IngressLog) -> None:
    await log.enqueue(work("hi", "m1"), 900)
    (entry,) = await read_all(log, 1)
    again = await log.retry(entry)
    assert again.deliveries == 2
    (recovered,) = await log.recover(entry.partition)
    assert recovered.deliveries == 3


async def test_outbox_round_trip(log: IngressLog) -> None:
    await log.enqueue(work("hi", "m1"), 900)
    (entry,) = await read_all(log, 1)
    assert await log.outbox(entry) is None
    reply = OutboundMessage("webchat", "c1", "hello!", reply_to="m1")
    outbox = Outbox((Delivery(reply, "conv-1", "rules", "rule greeting"),), generation=1)
    assert await log.commit(entry, outbox, await held_fence(log, entry), 900)
    kept = await log.outbox(entry)
    assert kept is not None
    assert kept.deliveries[0].message == reply
    assert (kept.deliveries[0].stage, kept.deliveries[0].conversation_id) == ("rules", "conv-1")


async def test_a_commit_makes_its_steps_and_can_ack(log: IngressLog) -> None:
    store = store_beside(log)
    await log.enqueue(work("hi", "m1"), 900)
    await log.enqueue(work("and you?", "m2"), 900)
    first, second = await read_all(log, 2)
    reply = OutboundMessage("webchat", "c1", "hello!", reply_to="m1")
    line = TranscriptEntry.outbound(reply, stage="rules")
    outbox = Outbox((Delivery(reply, "conv-1", "rules"),), generation=1, transcribed=True)
    steps = [store.append_step("conv-1", line, 10), store.append_step("conv-2", line, 10)]
    assert await log.commit(first, outbox, await held_fence(log, first), 900, steps, ack=True)
    assert [e.text for e in await store.transcript("conv-1")] == ["hello!"]
    assert [e.text for e in await store.transcript("conv-2")] == ["hello!"]
    assert (await log.stats()).pending == 1  # the first is acked with its commit
    kept = await log.outbox(first)
    assert kept is not None and kept.transcribed
    # Without ``ack``, the entry stays pending until it is acked.
    assert await log.commit(second, outbox, await held_fence(log, second), 900, steps[:1])
    assert (await log.stats()).pending == 1
    assert len(await store.transcript("conv-1")) == 2
    await log.ack(second)
    assert (await log.stats()).pending == 0


async def test_dead_letters_keep_the_work_and_the_reason(log: IngressLog) -> None:
    await log.enqueue(work("boom", "m1"), 900)
    (entry,) = await read_all(log, 1)
    await log.dead_letter(entry, "failed 3 times")
    (letter,) = await log.dead_letters()
    assert letter.reason == "failed 3 times"
    assert letter.address == "webchat:c1" and "boom" in letter.raw
    stats = await log.stats()
    assert (stats.pending, stats.dead_letters) == (0, 1)
    assert await log.recover(entry.partition) == []
