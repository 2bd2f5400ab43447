"""Two `hub run` processes on one redis-server under load, with no fault.

200 webchat customers, each on one of the two processes, send 20 numbered
messages at 4 a second (800 msg/s offered in all). Every message gets exactly
one answer, none an apology or an ``unavailable``; each customer's answers
arrive in the order sent, and each stored transcript holds every message
followed by its answer, in order, whichever process decided it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hub.envelope import Address
from hub.store.redis import RedisStore
from tests.cluster import RULES_TOML, hub_processes, start_hub, write_config
from tests.customers import Customer, outcome

pytestmark = pytest.mark.timeout(300)

CUSTOMERS = 200
MESSAGES = [f"n{k}" for k in range(20)]


async def test_two_processes_answer_every_message_once_and_in_order(
    redis_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, redis_url, RULES_TOML)
    with hub_processes() as hubs:
        hubs += [start_hub(config, tmp_path, n) for n in ("a", "b")]
        await asyncio.gather(*(hub.wait_healthy() for hub in hubs))
        customers = [Customer(f"c{i}", hubs, home=i % 2) for i in range(CUSTOMERS)]
        await asyncio.gather(*(c.chat(MESSAGES, gap_s=0.25, timeout_s=180) for c in customers))
        result = outcome(customers)
        assert result.sent == CUSTOMERS * len(MESSAGES)
        assert (result.lost, result.twice, result.unavailable) == ([], [], 0)
        assert {t for c in customers for texts in c.texts.values() for t in texts} == {"got it"}
        assert all(c.reconnects == 0 for c in customers)
        disordered = [c.name for c in customers if c.arrivals != MESSAGES]
        assert disordered == [], f"answers out of order for {len(disordered)} customers"
        await _transcripts_in_order(redis_url, customers)


async def _transcripts_in_order(redis_url: str, customers: list[Customer]) -> None:
    store = RedisStore.from_url(redis_url)
    try:
        wrong = []
        for customer in customers:
            assert customer.session is not None
            address = Address("webchat", customer.session.partition(".")[0])
            conversation = await store.conversation_at(str(address))
            assert conversation is not None, customer.name
            entries = await store.transcript(conversation.id)
            said = [e for e in entries if e.sender == "customer"]
            answers = [e for e in entries if e.sender == "bot"]
            alternating = all(
                entries[i].sender == "customer" and entries[i + 1].reply_to == entries[i].id
                for i in range(0, len(entries), 2)
            )
            if [e.text for e in said] != MESSAGES or len(answers) != len(MESSAGES) or not alternating:
                wrong.append(customer.name)
        assert wrong == [], f"transcripts out of order: {wrong[:5]}"
    finally:
        await store.close()
