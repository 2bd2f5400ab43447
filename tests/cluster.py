"""Real ``hub run`` processes on one Redis, for crash and cluster tests.

Each hub is a subprocess started from a config file; tests kill them with
SIGKILL (a crash, an OOM kill) or SIGTERM (a deploy) and check what the
customers saw.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.harness import free_port

__all__ = ["HubProcess", "hub_processes", "start_hub", "write_config"]

RULES_TOML = """
[[rules]]
name = "echo-number"
pattern = "^n(\\\\d+)"
action = "reply"
text = "got it"
"""


def write_config(folder: Path, redis_url: str, extra: str = "", *, lease_s: float = 2.0) -> Path:
    """A config for a cluster test: Redis store, short leases, KB and LLM off unless ``extra``."""
    path = folder / "config.toml"
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

[store]
url = "{redis_url}"

[cluster]
lease_s = {lease_s}
drain_s = 5

[log]
level = "INFO"

[kb]
enabled = false

{extra}
""",
        encoding="utf-8",
    )
    return path


@dataclass
class HubProcess:
    """One ``hub run`` subprocess, its port and its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no drain, no lease release, nothing flushed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> float:
        """SIGTERM and wait; returns how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(5)) as resp:
                return dict(await resp.json())

    async def wait_healthy(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(f"hub exited with {self.process.returncode}:\n{self.log()}")
            try:
                if (await self.health())["status"] == "ok":  # every component, LLM tiers too
                    return
            except (aiohttp.ClientError, OSError, TimeoutError, KeyError):
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"hub not healthy after {timeout} s:\n{self.log()}")


def start_hub(config: Path, folder: Path, name: str, env: dict[str, str] | None = None) -> HubProcess:
    port = free_port()
    log_path = folder / f"{name}.log"
    environment = {
        **os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1", **(env or {})
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "run", "--config", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    return HubProcess(process, port, log_path)


@contextmanager
def hub_processes() -> Iterator[list[HubProcess]]:
    """Collects hubs started in a test and kills whatever is left at the end."""
    started: list[HubProcess] = []
    try:
        yield started
    finally:
        for hub in started:
            if hub.alive:
                hub.process.kill()
                hub.process.wait(timeout=10)
