"""The durable ingress under load: memory vs Redis, one vs two processes, and takeover.

Closed-loop webchat clients (each sends a message, waits for the answer, sends
the next) against:

- ``memory``:   one ``hub run`` on ``memory://``;
- ``memory-2``: two independent ``hub run`` processes on ``memory://``, clients
  split (the baseline for two processes on the same cores);
- ``redis-1``:  one ``hub run`` on Redis Streams;
- ``redis-2``:  two ``hub run`` processes on the same Redis, clients split.

For each: messages per second, client-side p50/p99, and the hubs' CPU time per
message (utime + stime from /proc). Then the takeover: with two processes, one
is killed with SIGKILL and a customer whose conversation is on one of its
partitions waits for the first answer from the new owner.

    python -m bench.cluster --clients 100 --messages 40 --rounds 3

With ``--rounds``, the modes run in turn that many times and each ratio is the
median of the rounds' ratios: on a shared machine the CPU time per message of
the same code varies by a fifth from one minute to the next. With ``--pin``, the
hubs run on the first core and Redis and the load generator on the others, as
in production, where Redis is not on the hubs' cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.webchat_load import CONFIG, Result, free_port, load, spawn, wait_ready

# name, Redis or not, processes. ``memory-2`` is two independent memory-mode hubs,
# clients split: the same two processes on the same cores as ``redis-2``, without
# the durable path, so the cost of running two processes is not counted against it.
MODES = (("memory", False, 1), ("memory-2", False, 2), ("redis-1", True, 1), ("redis-2", True, 2))
RATIOS = (("redis-1", "memory"), ("redis-2", "memory"), ("redis-2", "memory-2"))

REDIS_TOML = """
[store]
url = "{url}"
[cluster]
lease_s = {lease_s}
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# with --pin: the hubs' cores, and the others (Redis and the load); None: no pinning
PINNED: tuple[set[int], set[int]] | None = None


def pin(hub_cpus: set[int]) -> None:
    """From now on the hubs run on ``hub_cpus`` only, and this process (the load) and
    Redis on the other cores: the hubs' CPU per message is then their own work, not
    also the cost of sharing two cores with a busy Redis and the load generator."""
    global PINNED
    PINNED = (hub_cpus, os.sched_getaffinity(0) - hub_cpus)
    os.sched_setaffinity(0, PINNED[1])


def spawn_hub(config: Path) -> subprocess.Popen[bytes]:
    process = spawn(["-m", "hub.cli", "run", "--config", str(config)])
    if PINNED:
        os.sched_setaffinity(process.pid, PINNED[0])
    return process


def start_redis(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    if PINNED:
        os.sched_setaffinity(process.pid, PINNED[1])
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
        hubs.append((spawn_hub(path), port))
    try:
        for _, port in hubs:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", timeout=120)
        if redis_url and processes > 1:
            await wait_balanced([port for _, port in hubs])
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


async def wait_balanced(ports: list[int], partitions: int = 64, timeout: float = 60.0) -> None:
    """Until the hubs hold every partition between them, evenly (within 2): the load is
    measured in the steady state, not while partitions change hands (``takeover``
    measures that)."""
    fair = partitions // len(ports)
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            held = []
            for port in ports:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    held.append((await resp.json())["components"]["ingress"]["partitions"])
            if sum(held) == partitions and min(held) >= fair - 2:
                return
            await asyncio.sleep(0.5)
    raise RuntimeError(f"the partitions were not balanced after {timeout:.0f} s: {held}")


async def takeover(folder: str, redis_url: str, lease_s: float) -> float:
    """Seconds from SIGKILL to the first answer from the partition's new owner."""
    from redis import asyncio as aioredis

    from hub.envelope import Address
    from hub.ingress import partition_of
    from hub.store.keys import Keys

    hubs = []
    for i in range(2):
        path, port = hub_config(folder, f"takeover-{i}", redis_url, lease_s)
        hubs.append((spawn_hub(path), port))
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for _, port in hubs:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", timeout=120)
        await wait_balanced([port for _, port in hubs])  # each holds about half
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


def ratio_line(name: str, baseline: str, cpu: dict[str, list[float]]) -> str:
    """The CPU ratio of two modes; over several rounds, the median of each round's ratio
    (modes run back to back in a round, so a slow spell on a shared machine weighs on
    both sides of the ratio, not on one)."""
    ratios = sorted(a / b for a, b in zip(cpu[name], cpu[baseline], strict=True))
    line = f"{name}: {statistics.median(ratios):.2f}x the CPU per message of {baseline}"
    if len(ratios) > 1:
        line += f" (median of {len(ratios)} rounds: {' '.join(f'{r:.2f}' for r in ratios)})"
    return line


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


async def main(
    clients: int, messages: int, lease_s: float, takeover_only: bool, rounds: int = 1
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        redis, redis_url = start_redis(folder)
        try:
            await asyncio.sleep(0.5)
            cpu: dict[str, list[float]] = {name: [] for name, _, _ in MODES}
            for round_ in range(0 if takeover_only else rounds):
                if rounds > 1:
                    print(f"round {round_ + 1} of {rounds}", flush=True)
                for name, durable, processes in MODES:
                    result, cpu_us = await run_mode(
                        name, folder, redis_url if durable else None, processes, clients, messages
                    )
                    cpu[name].append(cpu_us)
                    print(f"{result.line()}  hub CPU {cpu_us:6.0f} us/msg", flush=True)
            for name, baseline in () if takeover_only else RATIOS:
                print(ratio_line(name, baseline, cpu))
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
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every mode this many times, interleaved; ratios are medians")
    parser.add_argument("--pin", action="store_true",
                        help="hubs on the first core, Redis and the load on the others")
    ns = parser.parse_args()
    if ns.pin:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            parser.error("--pin needs two cores or more")
        pin({cores[0]})
    asyncio.run(main(ns.clients, ns.messages, ns.lease_s, ns.takeover_only, ns.rounds))
