"""The durable ingress under load: memory vs Redis, one vs two processes, and takeover.

Closed-loop webchat clients (each sends a message, waits for the answer, sends
the next) against:

- ``memory``:  one ``hub run`` on ``memory://``;
- ``redis-1``: one ``hub run`` on Redis Streams;
- ``redis-2``: two ``hub run`` processes on the same Redis, clients split.

For each: messages per second, client-side p50/p99, and the hubs' CPU time per
message (utime + stime from /proc). Then the takeover: with two processes, one
is killed with SIGKILL and a customer whose conversation is on one of its
partitions waits for the first answer from the new owner.

    python -m bench.cluster --clients 100 --messages 40
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.webchat_load import CONFIG, Result, free_port, load, spawn, wait_ready

REDIS_TOML = """
[store]
url = "{url}"
[cluster]
lease_s = {lease_s}
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    return process, f"redis://127.0.0.1:{port}/0"


def hub_config(folder: str, name: str, redis_url: str | None, lease_s: float) -> tuple[Path, int]:
    port = free_port()
    text = CONFIG.format(port=port)
    if redis_url:
        text += REDIS_TOML.format(url=redis_url, lease_s=lease_s)
    path = Path(folder) / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path, port


async def run_mode(
    name: str, folder: str, redis_url: str | None, processes: int, clients: int, messages: int
) -> tuple[Result, float]:
    hubs = []
    for i in range(processes):
        path, port = hub_config(folder, f"{name}-{i}", redis_url, 10.0)
        hubs.append((spawn(["-m", "hub.cli", "run", "--config", str(path)]), port))
    try:
        for _, port in hubs:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", timeout=120)
        before = sum(cpu_seconds(p.pid) for p, _ in hubs)
        results = await asyncio.gather(*(
            load(name, f"http://127.0.0.1:{port}/ws", clients // processes, messages, hub=True)
            for _, port in hubs
        ))
        used = sum(cpu_seconds(p.pid) for p, _ in hubs) - before
    finally:
        for process, _ in hubs:
            stop(process)
    merged = Result(
        name,
        sum(r.messages for r in results),
        max(r.seconds for r in results),
        [ms for r in results for ms in r.latencies_ms],
    )
    return merged, used / merged.messages * 1e6


async def takeover(folder: str, redis_url: str, lease_s: float) -> float:
    """Seconds from SIGKILL to the first answer from the partition's new owner."""
    from redis import asyncio as aioredis

    from hub.envelope import Address
    from hub.ingress import partition_of
    from hub.store.keys import Keys

    hubs = []
    for i in range(2):
        path, port = hub_config(folder, f"takeover-{i}", redis_url, lease_s)
        hubs.append((spawn(["-m", "hub.cli", "run", "--config", str(path)]), port))
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for _, port in hubs:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", timeout=120)
        await asyncio.sleep(3 * lease_s / 3 + 1)  # balanced: each holds about half
        victim, survivor = hubs
        holders = await redis.mget([Keys().lease(p) for p in range(64)])
        theirs = {p for p, h in enumerate(holders) if h and h.startswith(f"{_hostname()}-{victim[0].pid}-")}
        if not theirs:
            raise RuntimeError(f"the victim holds no partition: {holders}")
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(f"http://127.0.0.1:{survivor[1]}/ws") as ws:
            while True:  # a session whose conversation lives on one of the victim's partitions
                await ws.send_json({"type": "hello", "session": None})
                welcome = await _frame(ws, "welcome")
                session = welcome["session"].split(".")[0]
                if partition_of(str(Address("webchat", session)), 64) in theirs:
                    break
            victim[0].send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            await ws.send_json({"type": "message", "id": "t1", "text": "ping"})
            await _frame(ws, "message")
            return time.perf_counter() - killed
    finally:
        await redis.aclose()
        for process, _ in hubs:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _hostname() -> str:
    import socket

    return socket.gethostname()


async def _frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict:  # type: ignore[type-arg]
    while True:
        frame = await ws.receive_json(timeout=120)
        if frame.get("type") == kind:
            return dict(frame)


async def main(clients: int, messages: int, lease_s: float, takeover_only: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        redis, redis_url = start_redis(folder)
        try:
            await asyncio.sleep(0.5)
            rows = []
            for name, url, processes in () if takeover_only else (
                ("memory", None, 1), ("redis-1", redis_url, 1), ("redis-2", redis_url, 2)
            ):
                result, cpu_us = await run_mode(name, folder, url, processes, clients, messages)
                rows.append((result, cpu_us))
                print(f"{result.line()}  hub CPU {cpu_us:6.0f} us/msg", flush=True)
            for result, cpu_us in rows[1:]:
                memory_cpu = rows[0][1]
                print(f"{result.name}: {cpu_us / memory_cpu:.2f}x the CPU per message of memory mode")
            seconds = await takeover(folder, redis_url, lease_s)
            print(f"takeover: first answer {seconds:.2f} s after SIGKILL (lease_s = {lease_s})")
        finally:
            redis.terminate()
            redis.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--lease-s", type=float, default=10.0)
    parser.add_argument("--takeover-only", action="store_true")
    ns = parser.parse_args()
    asyncio.run(main(ns.clients, ns.messages, ns.lease_s, ns.takeover_only))
