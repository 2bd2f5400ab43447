"""A real ``hub run`` process on Redis with the LLM stage on the fake provider, for the
deploy tests: its /metrics, its log lines, its health."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.harness import free_port, start_redis

__all__ = ["ANSWER", "HubProcess", "hub_process", "wait_until"]

ROOT = Path(__file__).resolve().parents[2]
ANSWER = "Our stores open at nine in the morning."

CONFIG = """
[server]
port = {port}
[store]
url = "{store}"
[log]
level = "INFO"
format = "json"
[kb]
enabled = false
[llm]
timeout_s = 30
daily_budget_usd = 5
cache_ttl_s = 0
refuse_topics = []
[[llm.tiers]]
name = "cheap"
[[llm.tiers.models]]
model = "openai/gpt-4o-mini"
api_base = "http://127.0.0.1:{llm_port}/v1"
input_cost_per_token = 0.00000015
output_cost_per_token = 0.0000006
[[rules]]
name = "ping"
keywords = ["ping"]
action = "reply"
text = "pong"
"""


@dataclass
class HubProcess:
    url: str
    config: Path
    log: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()


def _spawn(args: list[str], stderr: int | object = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(ROOT),
           "OPENAI_API_KEY": "sk-fake-for-tests"}
    return subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=stderr)  # type: ignore[arg-type]


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_until(url: str, accept: object, timeout: float = 180.0) -> str:
    """Poll ``url`` until ``accept(status, body)`` holds; the body. Generous: a loaded
    machine can take a minute to import litellm."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as resp:
                    body = await resp.text()
                    if accept(resp.status, body):  # type: ignore[operator]
                        return body
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not reach the expected state within {timeout} s")


@contextmanager
def hub_process(folder: Path) -> Iterator[HubProcess]:
    """Redis, the fake OpenAI provider and ``hub run`` (JSON logs), each its own process."""
    redis = start_redis()
    llm_port, port = free_port(), free_port()
    config = folder / "config.toml"
    config.write_text(CONFIG.format(port=port, store=redis.url, llm_port=llm_port))
    log = folder / "hub.log"
    fake = _spawn(["-m", "tests.fakes.llm_api", "--port", str(llm_port), "--answer", ANSWER])
    with log.open("wb") as stderr:
        hub = _spawn(["-m", "hub.cli", "run", "--config", str(config)], stderr=stderr)
    try:
        yield HubProcess(f"http://127.0.0.1:{port}", config, log)
    finally:
        _stop(hub)
        _stop(fake)
        redis.stop()


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
