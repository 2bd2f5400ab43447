"""Slowloris: requests whose headers never end are cut off, and customers still get in."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.abuse.raw import half_open, raise_fd_limit
from tests.harness import WebchatClient, make_config, running_hub

pytestmark = pytest.mark.timeout(60)

RULES = [{"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."}]
HALF_OPEN = 1100  # issue 19: past the common limit of 1,024 open files


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    return await reader.read() == b""  # EOF, no response: the server gave up on us


async def test_1100_half_open_connections_do_not_stop_a_new_customer() -> None:
    raise_fd_limit(2 * HALF_OPEN + 512)  # both ends live in this process
    config = make_config(rules=RULES, server={"host": "127.0.0.1", "port": 0, "header_timeout_s": 3})
    async with running_hub(config) as hub:
        slow = await asyncio.gather(*(half_open(hub.port) for _ in range(HALF_OPEN)))
        opened = time.monotonic()
        started = time.monotonic()
        async with WebchatClient.connect(hub.url) as chat:
            assert (await chat.say("open?"))["text"] == "We are open 9 to 5."
        assert time.monotonic() - started < 2.0
        async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/healthz") as resp:
            assert resp.status == 200
        closed = await asyncio.wait_for(
            asyncio.gather(*(_closed_by_server(reader) for reader, _ in slow)), timeout=15
        )
        waited = time.monotonic() - opened
        assert all(closed) and 2.0 < waited < 12.0, f"closed after {waited:.1f} s"
        for _, writer in slow:
            writer.close()


async def test_a_slow_body_gets_408_within_the_body_timeout() -> None:
    config = make_config(server={"host": "127.0.0.1", "port": 0, "body_timeout_s": 0.5})
    async with running_hub(config) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout=5)
        assert status.startswith(b"HTTP/1.1 408")
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_the_header_timeout() -> None:
    config = make_config(server={"host": "127.0.0.1", "port": 0, "header_timeout_s": 1})
    async with running_hub(config) as hub:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 ")
        started = time.monotonic()
        await asyncio.wait_for(reader.read(), timeout=5)  # the rest, then EOF
        assert 0.5 < time.monotonic() - started < 4
        writer.close()
