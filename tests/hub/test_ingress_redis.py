"""What only the Redis Streams log does: fencing, parse failures, data loss, leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from hub.conversation import TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage
from hub.ingress import Delivery, Fence, Outbox, ProcessInfo, RedisLeader, RedisLeases, Work
from hub.ingress.redis import RedisLog
from hub.store.keys import Keys
from hub.store.pipelining import AutoPipelinedRedis
from hub.store.redis import RedisStore
from hub.store.steps import CallStep

PARTITIONS = 8


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
async def log(client: aioredis.Redis) -> RedisLog:
    redis_log = RedisLog(client, "c1", partitions=PARTITIONS)
    await redis_log.create_groups()
    return redis_log


def work(message_id: str = "m1") -> Work:
    return Work.of_message(InboundMessage("webchat", "s1", "u1", message_id, "hello"))


def outbox() -> Outbox:
    return Outbox((Delivery(OutboundMessage("webchat", "s1", "hi"), None),), generation=1)


async def test_a_stale_owner_cannot_commit(log: RedisLog, client: aioredis.Redis) -> None:
    await log.enqueue(work(), 900)
    (entry,) = await log.read(range(PARTITIONS), 10, 0.1)
    await client.set(Keys().lease(entry.partition), "new-owner:2")
    assert not await log.commit(entry, outbox(), Fence(entry.partition, "old-owner:1", 1), 900)
    assert await log.outbox(entry) is None
    # No holder at all, but the entry waits for its next owner: still refused.
    await client.delete(Keys().lease(entry.partition))
    assert not await log.commit(entry, outbox(), Fence(entry.partition, "old-owner:1", 1), 900)


async def test_a_stale_owners_commit_makes_none_of_its_steps(
    log: RedisLog, client: aioredis.Redis
) -> None:
    store = RedisStore(client)
    await log.enqueue(work(), 900)
    (entry,) = await log.read(range(PARTITIONS), 10, 0.1)
    await client.set(Keys().lease(entry.partition), "new-owner:2")
    line = TranscriptEntry.outbound(OutboundMessage("webchat", "s1", "hi"))
    step = store.append_step("conv-1", line, 10)
    fence = Fence(entry.partition, "old-owner:1", 1)
    assert not await log.commit(entry, outbox(), fence, 900, [step], ack=True)
    assert await store.transcript("conv-1") == []
    assert (await log.stats()).pending == 1  # left to the new owner


async def test_steps_it_cannot_chain_are_made_after_the_commit(
    log: RedisLog, client: aioredis.Redis
) -> None:
    """A step on another client (or an in-memory one) cannot join the script: it is
    made on its own once the commit holds, and the ack waits for it."""
    made: list[str] = []

    async def make(what: str) -> None:
        assert await log.outbox(entry) is not None  # after the commit
        assert (await log.stats()).pending == 1  # before the ack
        made.append(what)

    await log.enqueue(work(), 900)
    (entry,) = await log.read(range(PARTITIONS), 10, 0.1)
    await client.set(Keys().lease(entry.partition), "owner:1")
    fence = Fence(entry.partition, "owner:1", 1)
    assert await log.commit(entry, outbox(), fence, 900, [CallStep(make, ("frame",))], ack=True)
    assert made == ["frame"]
    assert (await log.stats()).pending == 0


async def test_after_redis_lost_its_data_the_worker_may_still_answer(
    log: RedisLog, client: aioredis.Redis
) -> None:
    await log.enqueue(work(), 900)
    (entry,) = await log.read(range(PARTITIONS), 10, 0.1)
    await client.flushall()  # what a restart without persistence does
    assert await log.commit(entry, outbox(), Fence(entry.partition, "owner:1", 1), 900)
    # The groups come back by themselves, and new work flows again.
    assert await log.enqueue(work("m2"), 900)
    (again,) = await log.read(range(PARTITIONS), 10, 0.5)
    assert again.work is not None and again.work.key == "webchat:m2"


async def test_an_unparseable_entry_is_handed_out_as_such(
    log: RedisLog, client: aioredis.Redis
) -> None:
    await client.xadd(Keys().ingress(3), {"w": "{not json"})
    (entry,) = await log.read(range(PARTITIONS), 10, 0.1)
    assert entry.work is None and entry.raw == "{not json"
    await log.dead_letter(entry, "the stored entry cannot be parsed")
    (letter,) = await log.dead_letters()
    assert letter.raw == "{not json" and letter.partition == 3


async def _balanced(leases: list[RedisLeases], timeout: float = 10.0) -> list[int]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        counts = [len(lease.owned()) for lease in leases]
        owned = [p for lease in leases for p in lease.owned()]
        if sum(counts) == PARTITIONS and len(set(owned)) == PARTITIONS and max(counts) - min(counts) <= 1:
            return counts
        await asyncio.sleep(0.05)
    raise AssertionError(f"not balanced: {[sorted(lease.owned()) for lease in leases]}")


async def _noop(*_: object) -> None:
    return None


async def test_two_processes_share_the_partitions_and_one_takes_over(
    client: aioredis.Redis,
) -> None:
    acquired: dict[str, list[Fence]] = {"a": [], "b": []}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def on_acquired(partition: int, fence: Fence) -> None:
            acquired[name].append(fence)
        return on_acquired

    a = RedisLeases(client, ProcessInfo("a"), partitions=PARTITIONS, lease_s=1.0)
    b = RedisLeases(client, ProcessInfo("b"), partitions=PARTITIONS, lease_s=1.0)
    await a.start(recorder("a"), _noop, lambda p: True)
    assert len(a.owned()) == PARTITIONS  # alone: everything
    await b.start(recorder("b"), _noop, lambda p: True)
    assert await _balanced([a, b]) == [4, 4]
    # Every fence names its owner, and a partition's generation rises with each owner.
    moved = {f.partition: f for f in acquired["b"]}
    for fence in acquired["a"]:
        if fence.partition in moved:
            assert moved[fence.partition].generation > fence.generation
            assert moved[fence.partition].token.startswith("b:")
    await a.stop()  # releases at once: b owns everything without waiting for expiry
    await asyncio.sleep(1.5)
    assert b.owned() == frozenset(range(PARTITIONS))
    await b.stop()


async def test_a_dead_processes_partitions_expire_and_move(client: aioredis.Redis) -> None:
    a = RedisLeases(client, ProcessInfo("a"), partitions=PARTITIONS, lease_s=1.0)
    b = RedisLeases(client, ProcessInfo("b"), partitions=PARTITIONS, lease_s=1.0)
    await a.start(_noop, _noop, lambda p: True)
    await b.start(_noop, _noop, lambda p: True)
    await _balanced([a, b])
    for task in a._tasks:
        task.cancel()  # a freezes: no renewals, no release
    started = asyncio.get_running_loop().time()
    while len(b.owned()) < PARTITIONS:
        await asyncio.sleep(0.05)
        assert asyncio.get_running_loop().time() - started < 4.0, "takeover took too long"
    await b.stop()


async def test_one_leader_at_a_time_and_it_moves_when_the_holder_stops(
    client: aioredis.Redis,
) -> None:
    key = Keys().leader("telegram-poll")
    first = RedisLeader(client, key, "first", lease_s=1.0)
    second = RedisLeader(client, key, "second", lease_s=1.0)
    await asyncio.wait_for(first.wait_elected(), 2)
    waiting = asyncio.create_task(second.wait_elected())
    await asyncio.sleep(0.6)
    assert first.leading and not second.leading and not waiting.done()
    await first.stop()
    await asyncio.wait_for(waiting, 3)
    assert second.leading and not first.leading
    await second.stop()


async def test_entries_with_the_same_id_in_two_partitions_are_both_processed(
    log: RedisLog, client: aioredis.Redis
) -> None:
    """Stream ids are unique per stream only: the consumer must not take one for another."""
    from hub.ingress import Consumer, LocalLeases

    same = "1700000000000-0"
    for partition, text in ((1, "one"), (2, "two")):
        entry = Work.of_message(InboundMessage("webchat", text, "u", text, text))
        await client.xadd(Keys().ingress(partition), {"w": entry.dumps()}, id=same)
    done: list[str] = []

    async def process(entry, fence) -> bool:  # type: ignore[no-untyped-def]
        done.append(entry.work.message().text)
        await log.ack(entry)
        return True

    consumer = Consumer(log, LocalLeases(PARTITIONS), process, dead_lettered=_noop)
    await consumer.start()
    try:
        for _ in range(100):
            if len(done) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop(1)
    assert sorted(done) == ["one", "two"]


async def test_a_read_that_finds_entries_does_not_wait_on_a_connection_of_its_own(
    redis_url: str, log: RedisLog, client: aioredis.Redis
) -> None:
    """Under load a read finds entries: it goes out pipelined with the other commands.
    Only a read that finds nothing blocks, on a pooled connection of its own."""
    redis = AutoPipelinedRedis.from_url(redis_url, decode_responses=True, client_name="pipelined-log")
    pipelined = RedisLog(redis, "c1", partitions=PARTITIONS)
    try:
        await pipelined.enqueue(work("m1"), 900)
        (first,) = await pipelined.read(range(PARTITIONS), 10, 5.0)
        assert first.work is not None and first.work.key == work("m1").key
        names = [c["name"] for c in await client.client_list()]
        assert names.count("pipelined-log") == 1, names  # the pipelined connection only
        waiting = asyncio.create_task(pipelined.read(range(PARTITIONS), 10, 5.0))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await pipelined.enqueue(work("m2"), 900)
        (second,) = await asyncio.wait_for(waiting, 5)
        assert second.work is not None and second.work.key == work("m2").key
    finally:
        await redis.aclose()
