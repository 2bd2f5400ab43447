"""Webchat customers that behave like the chat page across crashes.

A customer sends numbered messages to one hub. When its socket drops (the hub
died or is draining), it reconnects to another live hub with its session
token, reads the replies it missed from the welcome history, and resends what
is still unanswered, as ``adapters/webchat/static/chat.js`` does. It records
every distinct reply (by server message id) per client message id, so a test
can count what was lost and what was answered twice.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

__all__ = ["Customer", "Outcome", "outcome"]


class Hub(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def alive(self) -> bool: ...


@dataclass
class Customer:
    name: str
    hubs: Sequence[Hub]
    home: int = 0
    session: str | None = None
    sent: list[str] = field(default_factory=list)
    answers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    texts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    arrivals: list[str] = field(default_factory=list)  # client ids, in the order answered
    unavailable: int = 0
    reconnects: int = 0
    retries: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def source_ip(self) -> str:
        """A loopback address of this customer's own (Linux answers on all of 127/8)."""
        digest = zlib.crc32(self.name.encode())
        return f"127.{digest >> 16 & 0xFF}.{digest >> 8 & 0xFF}.{max(2, digest & 0xFF)}"

    def unanswered(self) -> list[str]:
        return [cid for cid in self.sent if not self.answers.get(cid)]

    def _record(self, frame: dict[str, Any]) -> None:
        reply_to = frame.get("reply_to")
        if frame.get("type") != "message" or frame.get("from") == "customer" or not reply_to:
            return
        if frame["id"] not in self.answers[reply_to]:
            self.answers[reply_to].add(frame["id"])
            self.texts[reply_to].append(frame.get("text", ""))
            self.arrivals.append(reply_to)

    async def chat(self, messages: Sequence[str], *, gap_s: float = 0.02, timeout_s: float = 60) -> None:
        """Send ``messages`` (client id = text) and wait until each has an answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        queue = list(messages)
        # Each customer from its own loopback address, as customers come from their own
        # (the hub limits sockets, hellos and messages per client address).
        connector = aiohttp.TCPConnector(local_addr=(self.source_ip, 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            while loop.time() < deadline:
                hub = self._pick()
                try:
                    ws = await http.ws_connect(f"{hub.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=2))
                except (aiohttp.ClientError, OSError):
                    await asyncio.sleep(0.2)
                    continue
                done = await self._converse(ws, queue, gap_s, deadline)
                await ws.close()
                if done:
                    return
                self.reconnects += 1
                await asyncio.sleep(0.1)

    def _pick(self) -> Hub:
        for offset in range(len(self.hubs)):
            hub = self.hubs[(self.home + offset) % len(self.hubs)]
            if hub.alive:
                self.home = (self.home + offset) % len(self.hubs)
                return hub
        raise AssertionError("no hub left alive")

    async def _converse(
        self, ws: aiohttp.ClientWebSocketResponse, queue: list[str], gap_s: float, deadline: float
    ) -> bool:
        await ws.send_json({"type": "hello", "session": self.session})
        try:
            welcome = await self._welcome(ws)
        except (TimeoutError, ConnectionError, aiohttp.ClientError):
            return False
        self.session = welcome["session"]
        for frame in welcome.get("history", ()):
            self._record(frame)
        reader = asyncio.create_task(self._read(ws))
        try:
            for cid in self.unanswered():
                await ws.send_json({"type": "message", "id": cid, "text": cid})
            while queue and not reader.done():
                text = queue.pop(0)
                self.sent.append(text)
                await ws.send_json({"type": "message", "id": text, "text": text})
                await asyncio.sleep(gap_s)
            loop = asyncio.get_running_loop()
            while not reader.done() and self.unanswered() and loop.time() < deadline:  # noqa: ASYNC110 (the reader fills answers)
                await asyncio.sleep(0.02)
        except (ConnectionError, aiohttp.ClientError, RuntimeError):
            pass
        finally:
            reader.cancel()
        return not queue and not self.unanswered()

    async def _welcome(self, ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed before the welcome ({msg.type})")
            frame = json.loads(msg.data)
            if frame.get("type") == "welcome":
                return dict(frame)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            code = frame.get("code") if frame.get("type") == "error" else None
            cid = frame.get("reply_to")
            if code in ("unavailable", "rate_limited") and cid:
                self.unavailable += code == "unavailable"
                # exponential back-off per message, as the page does
                pause = min(0.3 * 2 ** self.retries[cid], 3.0)
                self.retries[cid] += 1
                asyncio.get_running_loop().call_later(pause, self._resend_later, ws, cid)
            self._record(frame)

    def _resend_later(self, ws: aiohttp.ClientWebSocketResponse, cid: str) -> None:
        if not ws.closed and not self.answers.get(cid):
            asyncio.ensure_future(ws.send_json({"type": "message", "id": cid, "text": cid}))


@dataclass(frozen=True)
class Outcome:
    sent: int
    lost: list[str]
    twice: list[str]
    unavailable: int


def outcome(customers: Sequence[Customer]) -> Outcome:
    lost = [f"{c.name}/{cid}" for c in customers for cid in c.sent if not c.answers.get(cid)]
    twice = [f"{c.name}/{cid}" for c in customers for cid in c.sent if len(c.answers.get(cid, ())) > 1]
    return Outcome(
        sent=sum(len(c.sent) for c in customers),
        lost=lost,
        twice=twice,
        unavailable=sum(c.unavailable for c in customers),
    )
