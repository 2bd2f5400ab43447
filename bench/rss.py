"""Memory of one hub process: RSS at idle and after N messages, the LLM stage on.

One ``hub run`` on a Redis store (as in deploy/compose.yaml), the FAQ and the
LLM stage on (litellm loaded) against the fake OpenAI-compatible provider of
``tests/fakes/llm_api.py``, run as its own process. The bench reads
/proc/<pid>/status once /healthz is 200 and quiet, then after each round of
``--messages`` webchat messages (``--clients`` sessions, a ``--llm-share`` of the
messages only the LLM answers, the others rules and FAQ questions), and says
what holds the memory: the largest mappings of /proc/<pid>/smaps, and the RSS
each heavy import adds in a fresh interpreter.

    python -m bench.rss                        # 10,000 messages, 500 sessions, 50% LLM
    python -m bench.rss --rounds 3             # does it keep growing, or level off?
    python -m bench.rss --messages 2000 --no-breakdown
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.llm_load import (
    CONFIG,
    FAQ_QUESTIONS,
    LLM_QUESTION,
    RULE_QUESTION,
    customers,
    process,
    wait_status,
)
from bench.webchat_load import free_port

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# Heavy packages a hub may import (most lazily: a channel's SDK only when it is on);
# the breakdown keeps those a running hub with this bench's config has loaded, in this order.
CANDIDATES = ("numpy", "scipy.sparse", "sklearn.linear_model", "litellm", "lingua", "wordllama",
              "phonenumbers", "tiktoken", "tokenizers", "aiogram", "slack_bolt", "slack_sdk",
              "matplotlib", "hub.service", "hub.cli")
_RSS = ("def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'): return int(line.split()[1])\n")


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), RssAnon, RssFile from /proc/<pid>/status, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0])
    return fields


def top_mappings(pid: int, count: int = 12) -> list[tuple[str, int]]:
    """The mappings holding the most RSS (kB), grouped by file ([anon] for the heap and
    anonymous memory: Python objects, numpy arrays, model weights)."""
    rss: dict[str, int] = defaultdict(int)
    current = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
            path = parts[5] if len(parts) > 5 else "[anon]"
            current = "[anon]" if path in ("[heap]", "[anon]") or not path.startswith("/") else path
        elif parts[0] == "Rss:":
            rss[current] += int(parts[1])
    return sorted(rss.items(), key=lambda kv: -kv[1])[:count]


def _short_path(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    return path


def _python(script: str) -> str:
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=900, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout.strip().splitlines()[-1]


def loaded_by_a_hub(config: Path) -> tuple[list[str], float]:
    """Which CANDIDATES a hub serving ``config`` has imported once ready, and its RSS (MB)."""
    script = (
        "import asyncio, json, sys, aiohttp\n" + _RSS +
        "from hub.config import load_config\nfrom hub.service import HubService\n"
        "async def main():\n"
        f"    async with HubService(load_config({str(config)!r})) as service:\n"
        "        async with aiohttp.ClientSession() as http:\n"
        "            while (await http.get(service.url + '/healthz')).status != 200:\n"
        "                await asyncio.sleep(0.2)\n"
        f"        print(json.dumps([[m for m in {list(CANDIDATES)!r} if m in sys.modules], rss()]))\n"
        "asyncio.run(main())\n"
    )
    names, kb = json.loads(_python(script))
    return names, kb / 1024


def _variants(text: str) -> list[tuple[str, str]]:
    """The bench's config with the LLM stage off, and with the LLM and the FAQ off."""
    no_llm = text.replace("[llm]\n", "[llm]\nenabled = false\n", 1)
    no_kb = no_llm.replace("[kb]\nenabled = true", "[kb]\nenabled = false", 1)
    assert no_llm != text and no_kb != no_llm
    return [("the LLM stage off", no_llm), ("the LLM stage and the FAQ off", no_kb)]


def import_costs(names: list[str]) -> list[tuple[str, float]]:
    """RSS (MB) each of ``names`` adds, imported one after another in a fresh interpreter."""
    script = (
        "import json, importlib\n" + _RSS + "out = [('python', rss())]\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name); out.append((name, rss()))\n"
        "print(json.dumps(out))\n"
    )
    steps = json.loads(_python(script))
    costs = [(steps[0][0], steps[0][1] / 1024)]
    costs += [(name, (kb - steps[i][1]) / 1024) for i, (name, kb) in enumerate(steps[1:])]
    return costs


def _line(name: str, pid: int) -> str:
    s = status_kb(pid)
    return (f"{name:<28} RSS {s['VmRSS'] / 1024:6.0f} MB (anonymous {s['RssAnon'] / 1024:.0f}, "
            f"files {s['RssFile'] / 1024:.0f}), peak {s['VmHWM'] / 1024:.0f} MB")


async def send_messages(hub: str, total: int, sessions: int, llm_share: float) -> tuple[int, float]:
    """``total`` messages from ``sessions`` webchat sessions, each session's in order;
    the answers received and the seconds taken."""
    per_session = max(1, total // sessions)
    every = max(1, round(1 / llm_share)) if llm_share > 0 else 0
    answered = 0
    started = time.monotonic()
    async with customers(f"{hub}/ws", sessions) as people:

        async def talk(i: int) -> int:
            got = 0
            for n in range(per_session):
                k = i * per_session + n
                if every and k % every == 0:
                    text = LLM_QUESTION.format(n=k)
                else:
                    text = FAQ_QUESTIONS[k % len(FAQ_QUESTIONS)] if k % 2 else RULE_QUESTION
                got += await people[i].ask(text, f"q{k}") is not None
            return got

        answered = sum(await asyncio.gather(*(talk(i) for i in range(sessions))))
    return answered, time.monotonic() - started


async def run(ns: argparse.Namespace) -> None:
    from tests.harness import start_redis

    redis = start_redis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            hub_port, llm_port = free_port(), free_port()
            config = Path(folder) / "config.toml"
            config.write_text(CONFIG.format(
                port=hub_port, llm_port=llm_port, store=redis.url, kb="true",
                kb_path=ROOT / "kb" / "faq.toml", max_concurrency=1000,
            ))
            hub, llm = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{llm_port}"
            # No --answer: the fake cites the FAQ candidates it is given, as a grounded model does.
            fake = ["-m", "tests.fakes.llm_api", "--port", str(llm_port)]
            hub_cmd = ["-m", "hub.cli", "run", "--config", str(config)]
            # quiet: the hub's hand-off warnings (no agents channel here) are not the point
            async with process(fake, quiet=True), process(hub_cmd, quiet=True) as proc:
                await wait_status(f"{llm}/fake/stats", 200)
                ready, _ = await wait_status(f"{hub}/healthz", 200)
                await asyncio.sleep(ns.settle)
                print(f"rss: hub ready (/healthz 200) {ready:.1f} s after start; Redis store, "
                      f"FAQ and LLM stage on", flush=True)
                print(_line("idle", proc.pid), flush=True)
                for round_ in range(1, ns.rounds + 1):
                    answered, took = await send_messages(hub, ns.messages, ns.clients,
                                                         ns.llm_share)
                    print(f"sent {ns.messages} messages from {ns.clients} sessions "
                          f"({ns.llm_share:.0%} for the LLM): {answered} answered in {took:.1f} s",
                          flush=True)
                    await asyncio.sleep(ns.settle)
                    print(_line(f"after {round_ * ns.messages} messages", proc.pid), flush=True)
                if ns.breakdown:
                    print("largest mappings (RSS):")
                    for path, kb in top_mappings(proc.pid):
                        print(f"  {kb / 1024:7.1f} MB  {_short_path(path)}")
            if ns.breakdown:
                names, ready_mb = loaded_by_a_hub(config)
                print(f"a hub in-process with the same config: {ready_mb:.0f} MB once ready;"
                      " RSS each of its heavy imports adds (fresh interpreter, in this order):")
                for name, mb in import_costs(names):
                    print(f"  {mb:7.1f} MB  {name}")
                for label, variant in _variants(config.read_text()):
                    config.write_text(variant)
                    print(f"the same hub with {label}: {loaded_by_a_hub(config)[1]:.0f} MB once ready")
    finally:
        redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=500, help="webchat sessions")
    parser.add_argument("--llm-share", type=float, default=0.5,
                        help="share of the messages only the LLM answers")
    parser.add_argument("--rounds", type=int, default=1,
                        help="send --messages this many times (growth or plateau)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of quiet before reading")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                        help="skip the smaps and per-import breakdown")
    asyncio.run(run(parser.parse_args()))
