"""Rate limits a client cannot reset: per session and per client address, in the store."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from tests.harness import WebchatClient, make_config, running_hub

pytestmark = pytest.mark.timeout(60)

RULES = [{"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."}]


def config(store: dict[str, Any] | None = None, **webchat: Any) -> Any:
    sections: dict[str, Any] = {"rules": RULES, "channels": {"webchat": webchat}}
    if store:
        sections["store"] = store
    return make_config(**sections)


async def _taken(chat: WebchatClient, texts: int, tag: str) -> list[str]:
    """Send ``texts`` messages, return each one's fate: "answer" or the error code."""
    fates = []
    for i in range(texts):
        cid = f"{tag}{i}"
        await chat.send({"type": "message", "id": cid, "text": "open?"})
        while True:
            frame = await chat.recv()
            if frame.get("reply_to") == cid and frame["type"] in ("message", "error"):
                fates.append("answer" if frame["type"] == "message" else frame["code"])
                break
    return fates


async def test_a_reconnect_flood_with_the_same_token_is_still_limited() -> None:
    # Issue 19: reconnecting, or a fresh hello every 20 messages, refilled the bucket.
    async with running_hub(config(rate_limit_burst=5, rate_limit_per_s=0.01)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            assert await _taken(chat, 5, "a") == ["answer"] * 5
            token = chat.session
            await chat.hello(token)  # a fresh hello on the same socket
            assert await _taken(chat, 2, "b") == ["rate_limited"] * 2
        fates = []
        for round_ in range(5):  # reconnect after reconnect
            async with WebchatClient.connect(hub.url, session=token) as again:
                fates += await _taken(again, 4, f"r{round_}")
        assert fates == ["rate_limited"] * 20


async def test_new_sessions_from_one_address_share_its_bucket_and_hello_limit() -> None:
    cfg = config(rate_limit_per_ip_burst=6, rate_limit_per_ip_per_s=0.01, hellos_per_ip_per_min=3)
    async with running_hub(cfg) as hub:
        fates = []
        for round_ in range(3):  # no token: a new session each time
            async with WebchatClient.connect(hub.url) as chat:
                fates += await _taken(chat, 3, f"n{round_}")
        assert fates == ["answer"] * 6 + ["rate_limited"] * 3
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{hub.url}/ws") as ws:
            await ws.send_json({"type": "hello", "session": None})  # the 4th in a minute
            assert (await ws.receive_json(timeout=5))["code"] == "rate_limited"
            assert (await ws.receive(timeout=5)).data == 1013


async def test_two_processes_on_one_redis_enforce_one_limit(redis_url: str) -> None:
    cfg = config({"url": redis_url}, rate_limit_burst=6, rate_limit_per_s=0.01)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_hub(cfg))
        b = await stack.enter_async_context(running_hub(cfg))
        async with WebchatClient.connect(a.url) as on_a:
            async with WebchatClient.connect(b.url, session=on_a.session) as on_b:
                fates = []
                for i in range(5):  # the same session, alternately on each process
                    fates += await _taken(on_a, 1, f"a{i}") + await _taken(on_b, 1, f"b{i}")
        assert fates.count("answer") == 6 and fates[6:] == ["rate_limited"] * 4


async def _close_code(url: str, forwarded_for: str) -> int | None:
    """None if the socket is welcomed, else the code it was closed with."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/ws", headers={"X-Forwarded-For": forwarded_for})
        await ws.send_json({"type": "hello", "session": None})
        msg = await ws.receive(timeout=5)
        code = None if msg.type == aiohttp.WSMsgType.TEXT else int(msg.data)
        await ws.close()
        return code


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    server = {"host": "127.0.0.1", "port": 0, "max_connections_per_ip": 1}
    trusting = make_config(server={**server, "trusted_proxies": ["127.0.0.0/8"]})
    async with running_hub(trusting) as hub, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{hub.url}/ws", headers={"X-Forwarded-For": "203.0.113.7"}):
            assert await _close_code(hub.url, "198.51.100.9, 127.0.0.2") is None  # another client
            assert await _close_code(hub.url, "203.0.113.7") == 1013  # the same one again
    async with running_hub(make_config(server=server)) as hub, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{hub.url}/ws", headers={"X-Forwarded-For": "203.0.113.7"}):
            assert await _close_code(hub.url, "198.51.100.9") == 1013  # a header is not an address


async def test_bad_frames_take_tokens_too() -> None:
    """A flood of empty messages is refused for being empty, then for being a flood,
    and it leaves no token for a good message after it."""
    async with running_hub(config(rate_limit_burst=3, rate_limit_per_s=0.01)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            codes = []
            for i in range(4):
                await chat.send({"type": "message", "id": f"e{i}", "text": "   "})
                codes.append((await chat.expect("error", reply_to=f"e{i}"))["code"])
            assert codes == ["empty_text"] * 3 + ["rate_limited"]
            assert await _taken(chat, 1, "good") == ["rate_limited"]
