"""One socket's feed (Outlet) on both session buses: frames in order, once, and read
from the outbox only when the socket is behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiohttp import web

from adapters.webchat.bus import START, Frame, MemorySessionBus, Published, SessionBus
from adapters.webchat.outlet import Outlet


class FakeSocket:
    """What an Outlet uses of a WebSocketResponse: ``closed`` and ``send_str``."""

    def __init__(self) -> None:
        self.closed = False
        self.sent: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))
        self._changed.set()

    async def ids(self, count: int, timeout: float = 5.0) -> list[str]:
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.sleep(0.1)  # and nothing more than that
        return [str(frame.get("id")) for frame in self.sent]


class Counted:
    """A bus whose outbox reads are counted (everything else is the bus's own)."""

    def __init__(self, bus: SessionBus) -> None:
        self.bus = bus
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def read(self, session: str, after: str, count: int = 100) -> list[tuple[str, Frame]]:
        self.reads += 1
        return await self.bus.read(session, after, count)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Counted]:
    if request.param == "memory":
        yield Counted(MemorySessionBus())
        return
    from redis import asyncio as aioredis

    from adapters.webchat.redis_bus import RedisSessionBus

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    redis_bus = RedisSessionBus(client)
    await redis_bus.start()
    try:
        yield Counted(redis_bus)
    finally:
        await redis_bus.close()
        await client.aclose()


def frame(n: int) -> Frame:
    return {"type": "message", "id": f"m{n}", "text": f"reply {n}"}


async def open_outlet(bus: Counted, socket: FakeSocket, cursor: str = START) -> Outlet:
    outlet = Outlet(cast(web.WebSocketResponse, socket), cast(SessionBus, bus), "s1", cursor)
    await outlet.open()
    async with asyncio.timeout(5):
        while bus.reads == 0:  # noqa: ASYNC110 (the first read, once listening can miss nothing)
            await asyncio.sleep(0.01)
    return outlet


async def test_frames_that_follow_the_cursor_are_sent_without_reading_the_outbox(
    bus: Counted,
) -> None:
    socket = FakeSocket()
    outlet = await open_outlet(bus, socket)
    reads = bus.reads
    for n in range(20):
        await bus.publish("s1", frame(n))
    assert await socket.ids(20) == [f"m{n}" for n in range(20)]
    assert bus.reads == reads
    await outlet.close()


async def test_a_socket_that_missed_a_frame_reads_the_outbox_in_order(bus: Counted) -> None:
    socket = FakeSocket()
    outlet = await open_outlet(bus, socket)
    await bus.bus.unlisten("s1", outlet)  # deaf for a while: the wake-up goes nowhere
    missed = await bus.publish("s1", frame(1))
    await bus.bus.listen("s1", outlet)
    await bus.publish("s1", frame(2))
    assert await socket.ids(2) == ["m1", "m2"]
    assert outlet.cursor != missed
    await outlet.close()


async def test_a_frame_a_read_already_sent_is_not_sent_again(bus: Counted) -> None:
    socket = FakeSocket()
    outlet = await open_outlet(bus, socket)
    first = await bus.publish("s1", frame(1))
    second = await bus.publish("s1", frame(2))
    assert await socket.ids(2) == ["m1", "m2"]
    reads = bus.reads
    outlet.notify(Published(START, first, frame(1)))  # late wake-ups of what was sent
    outlet.notify(Published(first, second, frame(2)))
    assert await socket.ids(2) == ["m1", "m2"]
    assert bus.reads == reads  # behind the cursor: nothing to read either
    await outlet.close()
