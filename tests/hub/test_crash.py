"""Crashes and deploys with real `hub run` processes on one real redis-server.

Nothing a customer sent is lost and nothing is answered twice when a process
is killed (SIGKILL) mid-load, and a SIGTERM drains within ``[cluster] drain_s``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster import RULES_TOML, hub_processes, start_hub, write_config
from tests.customers import Customer, outcome
from tests.fakes.llm_api import FakeLLM, Reply, answer_json

pytestmark = pytest.mark.timeout(240)


async def test_sigkill_one_of_two_mid_load_loses_nothing_and_answers_nothing_twice(
    redis_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, redis_url, RULES_TOML)
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, "a"), start_hub(config, tmp_path, "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=i % 2) for i in range(40)]
        messages = [f"n{k}" for k in range(12)]
        chats = [asyncio.create_task(c.chat(messages, gap_s=0.05, timeout_s=90)) for c in customers]
        await asyncio.sleep(0.25)  # mid-load: every customer has sent a few
        hubs[0].kill()
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert result.sent == 40 * 12
        assert result.lost == [], hubs[1].log()[-3000:]
        assert result.twice == []
        assert all(text == ["got it"] for c in customers for text in c.texts.values())
        health = await hubs[1].health()
        assert health["components"]["ingress"]["partitions"] == 64


def llm_toml(fake: FakeLLM) -> str:
    return f"""
[llm]
enabled = true
timeout_s = 30

[[llm.tiers]]
name = "cheap"

[[llm.tiers.models]]
model = "openai/gpt-4o-mini"
api_base = "{fake.openai_base}"
api_key_env = "SB_TEST_OPENAI_KEY"
"""


async def calls_in_flight(fake: FakeLLM, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while fake.in_flight < 5:  # noqa: ASYNC110 (the fake counts; nothing to wait on)
            await asyncio.sleep(0.02)


@pytest.fixture
async def slow_llm() -> AsyncIterator[FakeLLM]:
    """A provider that takes 1.5 s per answer, so a kill lands while calls are in flight."""
    async with FakeLLM(delay_s=1.5) as fake:
        fake.on("gpt-4o-mini", Reply(answer_json("Our stores open at nine.")))
        yield fake


async def test_slow_llm_answers_in_flight_survive_a_kill(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    config = write_config(tmp_path, redis_url, llm_toml(slow_llm))
    env = {"SB_TEST_OPENAI_KEY": "sk-test"}
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=i % 2) for i in range(20)]
        questions = ["when do your stores open?", "and on sundays, do your stores open?"]
        chats = [asyncio.create_task(c.chat(questions, gap_s=0.1, timeout_s=90)) for c in customers]
        await calls_in_flight(slow_llm)  # the kill lands while provider calls are running
        hubs[0].kill()
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert result.sent == 40
        assert result.lost == [], hubs[1].log()[-3000:]
        assert result.twice == []
        assert all(t == ["Our stores open at nine."] for c in customers for t in c.texts.values())


async def test_sigterm_drains_in_flight_work_within_drain_s(
    redis_url: str, tmp_path: Path, slow_llm: FakeLLM
) -> None:
    config = write_config(tmp_path, redis_url, llm_toml(slow_llm))
    env = {"SB_TEST_OPENAI_KEY": "sk-test"}
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=0) for i in range(10)]
        chats = [asyncio.create_task(c.chat(["when do your stores open?"], timeout_s=60))
                 for c in customers]
        await calls_in_flight(slow_llm)
        took = await asyncio.to_thread(hubs[0].terminate, 30)
        assert took < 5 + 3, f"SIGTERM took {took:.1f} s with drain_s = 5"
        assert hubs[0].process.returncode == 0
        assert "drained in" in hubs[0].log()
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert (result.lost, result.twice) == ([], [])
