"""LLM load: N webchat customers at once, each asking one question only the LLM answers.

One ``hub run`` process (or ``--workers N`` of them on a Redis store) talks to
the fake OpenAI-compatible provider of ``tests/fakes/llm_api.py``, run as its
own process, which answers every call after exactly ``--delay`` seconds. For
each batch the bench reports what the hub adds on top of that delay (p50, p95,
p99, from the customer's send to the answer's ``message`` frame), the hub's CPU
per LLM answer (utime + stime from /proc, over the batch, divided by the
answers), the provider's peak concurrency and the hub's open sockets at peak.
It also times the first LLM answer after start, and runs a mixed batch (80%
FAQ and rule questions, 20% LLM) for the rule/FAQ p99 under LLM load.

    python -m bench.llm_load                         # 100, 300, 1000 customers
    python -m bench.llm_load --clients 1000 --workers 2
    python -m bench.llm_load --clients 300 --profile out.txt   # py-spy, top frames
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.webchat_load import free_port

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "Our stores open at nine in the morning and close at six in the evening."
NOTICE = "Still working on it"  # the start of [messages] still_working's default
LLM_QUESTION = "Could you write me a short poem about lighthouses, number {n}?"
RULE_QUESTION = "ping"
FAQ_QUESTIONS = ("How do I return an item?", "can I pay with PayPal?", "I forgot my login")

CONFIG = """
[server]
port = {port}
max_connections_per_ip = 100000  # every load client comes from 127.0.0.1
[store]
url = "{store}"
[log]
level = "WARNING"
[channels.webchat]
rate_limit_burst = 100000
rate_limit_per_s = 100000
rate_limit_per_ip_burst = 100000
rate_limit_per_ip_per_s = 100000
hellos_per_ip_per_min = 100000
[kb]
enabled = {kb}
path = "{kb_path}"
[llm]
timeout_s = 120
daily_budget_usd = 0
conversation_budget_usd = 0
cache_ttl_s = 0
refuse_topics = []
[[llm.tiers]]
name = "cheap"
max_concurrency = {max_concurrency}
[[llm.tiers.models]]
model = "openai/gpt-4o-mini"
api_base = "http://127.0.0.1:{llm_port}/v1"
input_cost_per_token = 0.00000015
output_cost_per_token = 0.0000006
[[rules]]
name = "bench"
keywords = ["ping"]
action = "reply"
text = "pong"
"""


@dataclass
class Batch:
    name: str
    added_ms: list[float]
    other_ms: list[float]
    cpu_s: float
    peak_provider: int
    peak_sockets: int
    notices: int
    failed: int = 0

    def line(self, delay_s: float) -> str:
        added = _percentiles(self.added_ms)
        cpu_us = self.cpu_s / max(1, len(self.added_ms)) * 1e6
        text = (
            f"{self.name:<22} hub adds p50 {added[0]:7.1f} ms  p95 {added[1]:7.1f} ms  "
            f"p99 {added[2]:7.1f} ms  | hub CPU {cpu_us:7.0f} us/LLM answer  "
            f"| provider peak {self.peak_provider:4d}  hub sockets {self.peak_sockets:4d}"
        )
        if self.notices:
            text += f"  notices {self.notices}"
        if self.failed:
            text += f"  NOT ANSWERED {self.failed}"
        if self.other_ms:
            other = _percentiles(self.other_ms)
            text += f"\n{'':<22} rule/FAQ answers ({len(self.other_ms)}): p50 {other[0]:.1f} ms  " \
                    f"p95 {other[1]:.1f} ms  p99 {other[2]:.1f} ms"
        return text


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return at(0.5), at(0.95), at(0.99)


# -- processes -------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the workers of ``hub run --workers``)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for one in _tree(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def open_sockets(pid: int) -> int:
    count = 0
    for one in _tree(pid):
        try:
            count += sum(
                1 for fd in os.scandir(f"/proc/{one}/fd") if os.readlink(fd.path).startswith("socket:")
            )
        except OSError:
            continue
    return count


def spawn(args: list[str], *, quiet: bool = False) -> subprocess.Popen[bytes]:
    """A Python process of the project; ``quiet`` drops its output."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(ROOT)}
    out = subprocess.DEVNULL if quiet else None
    return subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=out, stderr=out)


async def wait_status(url: str, want: int | None, timeout: float = 180.0) -> tuple[float, int]:
    """Seconds until ``url`` answers with status ``want`` (any status: None), and the status."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - started < timeout:
            try:
                async with http.get(url) as resp:
                    if want is None or resp.status == want:
                        return time.monotonic() - started, resp.status
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer {want} within {timeout} s")


@asynccontextmanager
async def process(args: list[str], *, quiet: bool = False) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = spawn(args, quiet=quiet)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- customers ---------------------------------------------------------------------------


class Customer:
    """One webchat session: connect and hello first, then ask when told to."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.notices = 0

    async def ask(self, text: str, frame_id: str) -> float | None:
        """Milliseconds until the answer; None if the socket closed or nothing came."""
        sent = time.perf_counter()
        await self.ws.send_str(json.dumps({"type": "message", "id": frame_id, "text": text}))
        while True:
            try:
                message = await self.ws.receive(timeout=180)
            except TimeoutError:
                return None
            if message.type != aiohttp.WSMsgType.TEXT:
                return None
            frame = json.loads(message.data)
            if frame.get("type") != "message" or frame.get("reply_to") != frame_id:
                continue
            if str(frame.get("text", "")).startswith(NOTICE):
                self.notices += 1
                continue
            return (time.perf_counter() - sent) * 1000


@asynccontextmanager
async def customers(url: str, count: int) -> AsyncIterator[list[Customer]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        try:
            for start in range(0, count, 100):
                sockets += await asyncio.gather(
                    *(http.ws_connect(url, max_msg_size=0) for _ in range(start, min(count, start + 100)))
                )
            for ws in sockets:
                await ws.send_json({"type": "hello", "session": None})
            for ws in sockets:
                await ws.receive_json(timeout=60)
            yield [Customer(ws) for ws in sockets]
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def provider_stats(http: aiohttp.ClientSession, llm: str, *, reset: bool) -> int:
    async with http.request("POST" if reset else "GET", f"{llm}/fake/stats") as resp:
        return int((await resp.json())["peak_in_flight"])


async def batch(
    name: str, hub: str, llm: str, pid: int, count: int, delay_s: float, llm_share: float
) -> Batch:
    """``count`` customers ask at once; a ``llm_share`` of them an LLM question."""
    async with customers(f"{hub}/ws", count) as people, aiohttp.ClientSession() as http:
        await provider_stats(http, llm, reset=True)
        every = max(1, round(1 / llm_share)) if llm_share < 1 else 1
        plan = []
        for i, _ in enumerate(people):
            if i % every == 0:
                plan.append((True, LLM_QUESTION.format(n=i)))
            else:
                other = FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)] if i % 2 else RULE_QUESTION
                plan.append((False, other))
        peak = 0

        async def watch_sockets() -> None:
            nonlocal peak
            while True:
                peak = max(peak, open_sockets(pid))
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch_sockets())
        before = cpu_seconds(pid)
        latencies = await asyncio.gather(
            *(p.ask(text, f"q{i}") for i, (p, (_, text)) in enumerate(zip(people, plan, strict=True)))
        )
        cpu = cpu_seconds(pid) - before
        watcher.cancel()
        peak_provider = await provider_stats(http, llm, reset=False)
    pairs = list(zip(latencies, plan, strict=True))
    added = [ms - delay_s * 1000 for ms, (is_llm, _) in pairs if is_llm and ms is not None]
    other = [ms for ms, (is_llm, _) in pairs if not is_llm and ms is not None]
    notices = sum(p.notices for p in people)
    failed = sum(1 for ms in latencies if ms is None)
    return Batch(name, added, other, cpu, peak_provider, peak, notices, failed)


async def first_answer(hub: str, delay_s: float) -> tuple[float, float]:
    """Hub-added ms of the first LLM answer after start, then of a second one."""
    async with customers(f"{hub}/ws", 1) as (person,):
        first = await person.ask(LLM_QUESTION.format(n="first"), "first")
        second = await person.ask(LLM_QUESTION.format(n="second"), "second")
    if first is None or second is None:
        raise RuntimeError("the first LLM questions got no answer")
    return first - delay_s * 1000, second - delay_s * 1000


# -- the run -------------------------------------------------------------------------------


def hub_args(config: Path, workers: int) -> list[str]:
    args = ["-m", "hub.cli", "run", "--config", str(config)]
    if workers > 1:
        args += ["--workers", str(workers)]
    return args


async def main(ns: argparse.Namespace) -> None:
    counts = [int(c) for c in ns.clients.split(",")]
    redis = None
    store = "memory://"
    if ns.workers > 1:
        from tests.harness import start_redis

        redis = start_redis()
        store = redis.url
    try:
        await run(ns, counts, store)
    finally:
        if redis is not None:
            redis.stop()


async def run(ns: argparse.Namespace, counts: list[int], store: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        hub_port, llm_port = free_port(), free_port()
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(
            port=hub_port, llm_port=llm_port, store=store, kb="true" if ns.mixed else "false",
            kb_path=ROOT / "kb" / "faq.toml", max_concurrency=ns.max_concurrency,
        ))
        hub, llm = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{llm_port}"
        fake = ["-m", "tests.fakes.llm_api", "--port", str(llm_port), "--delay", str(ns.delay),
                "--answer", ANSWER]
        async with process(fake), process(hub_args(config, ns.workers)) as proc:
            await wait_status(f"{llm}/fake/stats", 200)
            serving, first_status = await wait_status(f"{hub}/healthz", None)
            ready, _ = await wait_status(f"{hub}/healthz", 200)
            print(f"llm load: fake provider answers in {ns.delay:.1f} s; {ns.workers} hub "
                  f"process(es); max_concurrency {ns.max_concurrency}; load average "
                  f"{os.getloadavg()[0]:.2f}")
            print(f"startup: /healthz first answered {first_status} after {serving:.1f} s, "
                  f"200 (ready) {serving + ready:.1f} s after start")
            first, second = await first_answer(hub, ns.delay)
            print(f"first LLM answer after start: hub adds {first:.1f} ms (the next one "
                  f"{second:.1f} ms)")
            profiler = _profile(proc.pid, ns.profile) if ns.profile else None
            for count in counts:
                result = await batch(f"{count} at once", hub, llm, proc.pid, count, ns.delay, 1.0)
                print(result.line(ns.delay), flush=True)
            if ns.mixed:
                result = await batch(f"mixed {ns.mixed} (20% LLM)", hub, llm, proc.pid, ns.mixed,
                                     ns.delay, 0.2)
                print(result.line(ns.delay), flush=True)
            if profiler is not None:
                profiler.send_signal(2)
                profiler.wait(timeout=120)
                print(top_frames(Path(ns.profile)))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def _profile(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy on the hub for the batches: a flat 'top frames' table in ``out``."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--format",
         "raw", "--output", out, "--rate", "250", "--subprocesses", "--threads"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


_IDLE = ("Condition.wait", "_worker (", "select (", "poll", "Event.wait")
_PLUMBING = ("threading.py", "runpy", "runners.py", "cli.py", "base_events.py", "events.py",
             "process ", "thread (", "__init__.py)", "consumer.py", "lanes.py", "hub/hub.py",
             "hub/stages.py", "handoff/stages.py", "flows/stage.py")


def top_frames(raw: Path, count: int = 15) -> str:
    """The functions most often on the stack (inclusive) and on top of it (self), from
    py-spy's collapsed stacks, as shares of the busy samples (idle threads left out)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames or any(frames[-1].startswith(idle) for idle in _IDLE):
            continue
        n = int(samples)
        total += n
        for frame in set(frames):
            if not any(part in frame for part in _PLUMBING):
                inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    lines = [f"py-spy: {total} busy samples; inclusive (on the stack):"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:count]:
        lines.append(f"  {100 * n / max(1, total):5.1f}%  {frame}")
    lines.append("self (on top of the stack):")
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:count]:
        lines.append(f"  {100 * n / max(1, total):5.1f}%  {frame}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (path/to/file.py:12)`` -> ``func (package/file.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    return f"{name} ({'/'.join(path.split('/')[-2:])})" if where else frame


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="100,300,1000", help="batch sizes, comma-separated")
    parser.add_argument("--delay", type=float, default=1.0, help="the provider's seconds per answer")
    parser.add_argument("--workers", type=int, default=1, help="hub run --workers N (Redis store)")
    parser.add_argument("--max-concurrency", type=int, default=1000,
                        help="[[llm.tiers]] max_concurrency for the bench's tier")
    parser.add_argument("--mixed", type=int, default=1000,
                        help="customers in the mixed 80%% FAQ/rule, 20%% LLM batch (0: skip)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub into FILE (raw stacks)")
    asyncio.run(main(parser.parse_args()))
