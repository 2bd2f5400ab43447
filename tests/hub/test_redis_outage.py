"""Redis going away mid-load: customers hear `unavailable`, nothing is lost, no restart."""

from __future__ import annotations

import asyncio

from tests.customers import Customer, outcome
from tests.harness import make_config, running_hub, start_redis


class InProcess:
    """The in-process hub, as a customer sees it: a URL that stays up."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.alive = True


RULES = [{"name": "n", "pattern": "^n\\d+", "action": "reply", "text": "got it"}]


async def test_redis_restarted_mid_load_loses_nothing_and_the_hub_recovers() -> None:
    redis = start_redis(persistent=True)  # AOF, as docs/scaling.md asks of production
    try:
        config = make_config(rules=RULES, store={"url": redis.url})
        async with running_hub(config) as hub:
            customers = [Customer(f"c{i}", [InProcess(hub.url)]) for i in range(20)]
            messages = [f"n{k}" for k in range(15)]
            chats = [asyncio.create_task(c.chat(messages, gap_s=0.05, timeout_s=60)) for c in customers]
            await asyncio.sleep(0.3)
            await asyncio.to_thread(redis.stop, True)
            await asyncio.sleep(2.0)  # an outage: every message sent now is refused
            await asyncio.to_thread(redis.restart)
            await asyncio.gather(*chats)
        result = outcome(customers)
        assert result.sent == 20 * 15
        assert (result.lost, result.twice) == ([], [])
        assert result.unavailable > 0  # refused out loud, never silence
    finally:
        redis.stop()
