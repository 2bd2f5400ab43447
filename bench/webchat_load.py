"""Webchat load test: the hub against a bare aiohttp WebSocket echo server.

N concurrent WebSocket clients each send M messages, one at a time, waiting
for the answer (a keyword rule on the hub, the echo on the echo server). Both
servers run in their own process on this machine, in the same run, so the
ratio hub/echo is comparable even on a noisy machine.

    python -m bench.webchat_load --clients 200 --messages 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

CONFIG = """
[server]
port = {port}
max_connections_per_ip = 100000  # every load client comes from 127.0.0.1
[log]
level = "WARNING"
[channels.webchat]
rate_limit_burst = 100000
rate_limit_per_s = 100000
rate_limit_per_ip_burst = 100000
rate_limit_per_ip_per_s = 100000
hellos_per_ip_per_min = 100000
[kb]
enabled = false
[llm]
enabled = false
[[rules]]
name = "bench"
keywords = ["ping"]
action = "reply"
text = "pong"
"""


@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<6} {self.messages:>7} msgs in {self.seconds:6.2f} s  "
            f"{self.rate:>9.0f} msg/s  p50 {self.percentile(0.5):6.2f} ms  "
            f"p99 {self.percentile(0.99):6.2f} ms"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def client(url: str, messages: int, hub: bool, latencies: list[float], start: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
        if hub:
            await ws.send_json({"type": "hello", "session": None})
            await ws.receive_json()
        await start.wait()
        for i in range(messages):
            frame_id = f"m{i}"
            sent = time.perf_counter()
            await ws.send_str(json.dumps({"type": "message", "id": frame_id, "text": "ping"}))
            while True:
                frame = json.loads((await ws.receive()).data)
                if frame.get("type") == "message":
                    break
            latencies.append((time.perf_counter() - sent) * 1000)


async def load(name: str, url: str, clients: int, messages: int, hub: bool) -> Result:
    latencies: list[float] = []
    start = asyncio.Event()
    tasks = [asyncio.create_task(client(url, messages, hub, latencies, start)) for _ in range(clients)]
    await asyncio.sleep(0.5)
    while sum(1 for t in tasks if t.done()) == 0 and len(latencies) == 0 and not start.is_set():
        start.set()
    began = time.perf_counter()
    await asyncio.gather(*tasks)
    return Result(name, len(latencies), time.perf_counter() - began, latencies)


def spawn(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.Popen([sys.executable, *args], env=env)


async def server_p99_ms(port: int) -> float | None:
    """p99 of the hub's own latency (accepted -> reply sent), from its /metrics histogram.

    The histogram only knows bucket bounds, so this is the bound of the bucket
    the 99th percentile falls in: an upper limit.
    """
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    buckets = []
    for line in text.splitlines():
        if line.startswith('switchboard_message_latency_seconds_bucket{channel="webchat"'):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    if not buckets:
        return None
    total = buckets[-1][1]
    return next(bound * 1000 for bound, count in buckets if count >= 0.99 * total)


@asynccontextmanager
async def serving(args: list[str], port: int) -> AsyncIterator[None]:
    process = spawn(args)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/healthz")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


async def main(clients: int, messages: int, rounds: int) -> None:
    """Both servers up at once (idle when not loaded); rounds alternate echo and hub,
    so a noisy neighbour hits both alike, and the ratio is the median of the rounds."""
    with tempfile.TemporaryDirectory() as folder:
        hub_port, echo_port = free_port(), free_port()
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(port=hub_port))
        echo_args = ["-m", "bench.echo_server", "--port", str(echo_port)]
        hub_args = ["-m", "hub.cli", "run", "--config", str(config)]
        async with serving(echo_args, echo_port), serving(hub_args, hub_port):
            echo_url, hub_url = f"ws://127.0.0.1:{echo_port}/ws", f"ws://127.0.0.1:{hub_port}/ws"
            await load("echo", echo_url, 10, 5, hub=False)  # warm up
            await load("hub", hub_url, 10, 5, hub=True)
            pairs = []
            for _ in range(rounds):
                echo = await load("echo", echo_url, clients, messages, hub=False)
                hub = await load("hub", hub_url, clients, messages, hub=True)
                pairs.append((echo, hub))
            inside_p99 = await server_p99_ms(hub_port)
    print(f"webchat load: {clients} clients x {messages} messages, answered by a rule, "
          f"{rounds} alternating rounds")
    for echo, hub in pairs:
        print(echo.line())
        print(hub.line(), f"  ratio {hub.rate / echo.rate:.2f}")
    ratio = statistics.median(h.rate / e.rate for e, h in pairs)
    p99 = statistics.median(h.percentile(0.99) for _, h in pairs)
    print(f"median ratio hub/echo: {ratio:.2f} of the messages per second (goal >= 0.50)")
    print(f"median client-side hub p99: {p99:.1f} ms (goal < 20 ms); it includes queueing "
          f"behind {clients} closed-loop clients, as the echo's own p99 shows")
    print(f"hub's own p99 (accepted -> reply sent, from /metrics): <= {inside_p99} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    ns = parser.parse_args()
    asyncio.run(main(ns.clients, ns.messages, ns.rounds))
