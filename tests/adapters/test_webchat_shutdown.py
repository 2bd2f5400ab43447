"""SIGTERM of a real `hub run` with a chat socket open: out within 5 s, the page told 1012."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import aiohttp

from tests.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[server]
port = {port}
[kb]
enabled = false
[llm]
enabled = false
[[rules]]
name = "hours"
keywords = ["hours"]
action = "reply"
text = "Nine to five."
"""


async def _connect(url: str, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    deadline = time.monotonic() + 180  # a fresh `hub run` imports for a minute on a loaded runner
    while True:
        try:
            return await http.ws_connect(f"{url}/ws")
        except aiohttp.ClientConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_sigterm_with_an_open_chat_closes_it_with_1012_and_exits_within_5_s(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=port))
    hub = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "run", "--config", str(config),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with aiohttp.ClientSession() as http:
            ws = await _connect(f"http://127.0.0.1:{port}", http)
            await ws.send_json({"type": "hello", "session": None})
            assert (await ws.receive_json(timeout=10))["type"] == "welcome"
            await ws.send_json({"type": "message", "id": "m1", "text": "hours?"})
            assert (await ws.receive_json(timeout=10))["text"] == "Nine to five."

            started = time.monotonic()
            hub.send_signal(signal.SIGTERM)
            closing = await ws.receive(timeout=10)
            assert closing.type == aiohttp.WSMsgType.CLOSE
            assert closing.data == 1012  # service restart: the page reconnects with back-off
            code = await asyncio.wait_for(hub.wait(), 10)
            elapsed = time.monotonic() - started
    finally:
        if hub.returncode is None:
            hub.kill()
            await hub.wait()
    assert hub.stdout is not None
    output = (await hub.stdout.read()).decode()
    assert code == 0, output
    assert elapsed < 5.0, output
    assert "shutdown: no longer accepting connections" in output
    assert "closing 1 socket(s) with 1012" in output
    assert "shut down in" in output
