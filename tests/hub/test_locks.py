"""Per-key locks: one holder per key at a time, forgotten when idle."""

from __future__ import annotations

import asyncio

from hub.locks import KeyedLocks


async def test_one_holder_per_key_even_when_a_newcomer_arrives_at_hand_over() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    async def work(name: str, hold_s: float) -> None:
        async with locks.hold("c1"):
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
            await asyncio.sleep(hold_s)
            inside.remove(name)

    first = asyncio.create_task(work("a", 0.02))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(work("b", 0.02))
    await asyncio.sleep(0.021)  # a is leaving: b is woken but has not run yet
    newcomer = asyncio.create_task(work("c", 0.02))
    await asyncio.gather(first, waiter, newcomer)
    assert overlaps == []
    assert len(locks) == 0


async def test_different_keys_do_not_wait_for_each_other() -> None:
    locks = KeyedLocks()
    async with locks.hold("a"):
        async with asyncio.timeout(1):
            async with locks.hold("b"):
                assert len(locks) == 2
    assert len(locks) == 0
