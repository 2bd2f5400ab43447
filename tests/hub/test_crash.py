"""Crashes and deploys with real `hub run` processes on one real redis-server.

Nothing a customer sent is lost and nothing is answered twice when a process
is killed (SIGKILL) mid-load, and a SIGTERM drains within ``[cluster] drain_s``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster import RULES_TOML, HubProcess, hub_processes, start_hub, write_config
from tests.customers import Customer, outcome
from tests.fakes.llm_api import FakeLLM, Reply, answer_json
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_api import message as telegram_message

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


async def until_idle(hub: HubProcess, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while (await hub.health())["components"]["ingress"]["pending"]:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


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
        took = await asyncio.to_thread(hubs[0].terminate, 60)
        assert hubs[0].process.returncode == 0
        drained = re.search(r"drained in ([0-9.]+) s \(all done\)", hubs[0].log())
        assert drained is not None, hubs[0].log()[-2000:]
        assert float(drained.group(1)) <= 5, f"drain took {drained.group(1)} s, drain_s = 5"
        assert took < 5 + 15, f"exit took {took:.1f} s"  # interpreter teardown on a busy box
        await asyncio.gather(*chats)
        result = outcome(customers)
        assert (result.lost, result.twice) == ([], [])


TELEGRAM_TOML = """
[channels.webchat]
enabled = true

[channels.telegram]
enabled = true
api_base = "{base}"
poll_timeout_s = 1
per_chat_per_s = 50.0
global_per_s = 1000.0
"""


async def test_one_process_polls_telegram_and_the_role_moves_when_it_dies(
    redis_url: str, tmp_path: Path
) -> None:
    async with FakeTelegram.running() as telegram:
        extra = RULES_TOML + TELEGRAM_TOML.replace("{base}", telegram.base_url)
        config = write_config(tmp_path, redis_url, extra)
        env = {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN}
        with hub_processes() as hubs:
            hubs += [start_hub(config, tmp_path, n, env) for n in ("a", "b")]
            await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
            telegram.queue(telegram_message(501, "n1"))
            await telegram.wait_sent(1, timeout=20)
            for hub in hubs:  # acked everywhere: the at-least-once last hop is closed
                await until_idle(hub)
            leaders = [h for h in hubs if "telegram-poll: this process leads" in h.log()]
            assert len(leaders) == 1
            leaders[0].kill()
            telegram.queue(telegram_message(502, "n2"))
            await telegram.wait_sent(2, timeout=20)  # lease_s = 2: the other takes over
            assert telegram.texts(501) == ["got it"] and telegram.texts(502) == ["got it"]
            assert telegram.conflicts == 0  # never two getUpdates at once
