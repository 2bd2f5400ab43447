"""One contract for every session bus: MemorySessionBus and RedisSessionBus (a real redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.webchat.bus import START, Frame, MemorySessionBus, Published, SessionBus

MAXLEN = 5
TTL_S = 0.4


class Recorder:
    """A listener that keeps what it is told: None for "read the outbox", a Published
    durable frame, or an ephemeral frame."""

    def __init__(self) -> None:
        self.items: list[Frame | Published | None] = []
        self._changed = asyncio.Event()

    def notify(self, item: Frame | Published | None) -> None:
        self.items.append(item)
        self._changed.set()

    async def next(self, timeout: float = 5.0) -> Frame | Published | None:
        while not self.items:
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.items.pop(0)

    async def quiet(self, seconds: float = 0.2) -> list[Frame | Published | None]:
        await asyncio.sleep(seconds)
        items, self.items = self.items, []
        return items


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[SessionBus]:
    if request.param == "memory":
        memory = MemorySessionBus(maxlen=MAXLEN, ttl_s=TTL_S)
        await memory.start()
        yield memory
        await memory.close()
        return
    from redis import asyncio as aioredis

    from adapters.webchat.redis_bus import RedisSessionBus

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    redis_bus = RedisSessionBus(client, maxlen=MAXLEN, ttl_s=TTL_S)
    await redis_bus.start()
    try:
        yield redis_bus
    finally:
        await redis_bus.close()
        await client.aclose()


def frame(n: int) -> Frame:
    return {"type": "message", "id": f"m{n}", "text": f"reply {n}"}


async def test_frames_are_read_in_order_after_a_position(bus: SessionBus) -> None:
    start = await bus.position("s1")
    assert await bus.read("s1", start) == []
    positions = [await bus.publish("s1", frame(n)) for n in range(3)]
    read = await bus.read("s1", start)
    assert [f["id"] for _, f in read] == ["m0", "m1", "m2"]
    assert [p for p, _ in read] == positions
    assert [f["id"] for _, f in await bus.read("s1", positions[0])] == ["m1", "m2"]
    assert await bus.position("s1") == positions[-1]
    assert await bus.read("s1", positions[-1]) == []
    assert [f["id"] for _, f in await bus.read("s1", start, count=2)] == ["m0", "m1"]


async def test_sessions_are_separate(bus: SessionBus) -> None:
    await bus.publish("a", frame(1))
    assert await bus.read("b", await bus.position("b")) == []
    assert [f["id"] for _, f in await bus.read("a", "0")] == ["m1"]


async def test_the_outbox_is_bounded(bus: SessionBus) -> None:
    for n in range(MAXLEN + 3):
        await bus.publish("s1", frame(n))
    kept = await bus.read("s1", "0")
    assert [f["id"] for _, f in kept] == [f"m{n}" for n in range(3, MAXLEN + 3)]


async def test_an_idle_outbox_expires(bus: SessionBus) -> None:
    await bus.publish("s1", frame(1))
    await asyncio.sleep(TTL_S + 0.3)
    await bus.publish("other", frame(2))  # the memory bus forgets lazily, on a write
    assert await bus.read("s1", "0") == []


async def test_find_gives_the_position_of_a_frame_id(bus: SessionBus) -> None:
    first = await bus.publish("s1", frame(1))
    await bus.publish("s1", frame(2))
    assert await bus.find("s1", "m1") == first
    assert [f["id"] for _, f in await bus.read("s1", first)] == ["m2"]
    assert await bus.find("s1", "never") is None
    assert await bus.find("nobody", "m1") is None


async def test_a_listener_is_told_when_reading_is_safe_then_on_every_frame(bus: SessionBus) -> None:
    listener = Recorder()
    await bus.listen("s1", listener)
    assert await listener.next() is None  # subscribed: read the outbox from here on
    position = await bus.publish("s1", frame(1))
    assert await listener.next() == Published(START, position, frame(1))
    await bus.signal("s1", {"type": "typing", "on": True})
    assert await listener.next() == {"type": "typing", "on": True}
    await bus.publish("other", frame(2))
    assert await listener.quiet() == []


async def test_ephemeral_frames_are_not_kept(bus: SessionBus) -> None:
    start = await bus.position("s1")
    await bus.signal("s1", {"type": "delta", "reply_to": "c1", "text": "Hel"})
    assert await bus.read("s1", start) == []
    late = Recorder()
    await bus.listen("s1", late)
    assert await late.next() is None
    assert await late.quiet() == []  # what was signalled before listening is gone


async def test_every_listener_of_a_session_is_told_until_it_stops(bus: SessionBus) -> None:
    one, two = Recorder(), Recorder()
    await bus.listen("s1", one)
    await bus.listen("s1", two)
    assert await one.next() is None
    assert await two.next() is None
    first = await bus.publish("s1", frame(1))
    assert await one.next() == Published(START, first, frame(1))
    assert await two.next() == Published(START, first, frame(1))
    await bus.unlisten("s1", one)
    second = await bus.publish("s1", frame(2))
    assert await two.next() == Published(first, second, frame(2))
    assert await one.quiet() == []
    await bus.unlisten("s1", two)
    await bus.unlisten("s1", two)  # twice is harmless
    await bus.publish("s1", frame(3))
    assert await two.quiet() == []


async def test_order_of_ephemeral_and_durable_frames_is_kept(bus: SessionBus) -> None:
    listener = Recorder()
    await bus.listen("s1", listener)
    assert await listener.next() is None
    await bus.signal("s1", {"type": "delta", "reply_to": "c1", "text": "a"})
    await bus.signal("s1", {"type": "delta", "reply_to": "c1", "text": "b"})
    position = await bus.publish("s1", frame(1))
    got = [await listener.next() for _ in range(3)]
    assert got == [
        {"type": "delta", "reply_to": "c1", "text": "a"},
        {"type": "delta", "reply_to": "c1", "text": "b"},
        Published(START, position, frame(1)),
    ]


async def test_a_published_frame_names_the_position_it_follows(bus: SessionBus) -> None:
    listener = Recorder()
    await bus.listen("s1", listener)
    assert await listener.next() is None
    positions = [await bus.publish("s1", frame(n)) for n in range(MAXLEN + 2)]  # trimmed too
    told = [await listener.next() for _ in positions]
    assert told == [
        Published(after, position, frame(n))
        for n, (after, position) in enumerate(zip([START, *positions], positions, strict=False))
    ]


async def test_after_an_idle_outbox_expires_a_frame_follows_the_start(bus: SessionBus) -> None:
    await bus.publish("s1", frame(1))
    await asyncio.sleep(TTL_S + 0.2)
    listener = Recorder()
    await bus.listen("s1", listener)
    assert await listener.next() is None
    position = await bus.publish("s1", frame(2))
    assert await listener.next() == Published(START, position, frame(2))
