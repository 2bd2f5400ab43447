"""Crashes and deploys with real `hub run` processes on one real redis-server.

Nothing a customer sent is lost and nothing is answered twice when a process
is killed (SIGKILL) mid-load, and a SIGTERM drains within ``[cluster] drain_s``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.cluster import RULES_TOML, hub_processes, start_hub, write_config
from tests.customers import Customer, outcome

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
