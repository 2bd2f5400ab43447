"""Chains of steps (hub/store/steps.py) on a real redis-server: one command, guarded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.store.pipelining import AutoPipelinedRedis
from hub.store.steps import CallStep, Chains, ScriptStep

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
GUARD = "if redis.call('GET', KEYS[1]) then return 1 end return 0"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[AutoPipelinedRedis]:
    client = AutoPipelinedRedis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def _evalshas(redis: AutoPipelinedRedis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_script_steps_run_as_one_command_and_the_first_one_guards(
    redis: AutoPipelinedRedis,
) -> None:
    chains, guard, incr = Chains(redis), redis.register_script(GUARD), redis.register_script(INCR)
    steps = [ScriptStep("guard", guard, ("open",), ()), ScriptStep("incr", incr, ("n",), (2,)),
             ScriptStep("incr", incr, ("m",), (5,))]
    assert await chains.run(steps) == (False, None)  # "open" is not set: nothing ran
    assert await redis.mget("n", "m") == [None, None]
    await redis.set("open", "1")
    await chains.run(steps)  # the chained script is loaded on first use
    before = await _evalshas(redis)
    assert await chains.run(steps) == (True, 10)
    assert await _evalshas(redis) - before == 1
    assert await redis.mget("n", "m") == ["4", "10"]


async def test_two_different_scripts_with_one_name_are_refused(redis: AutoPipelinedRedis) -> None:
    chains, incr = Chains(redis), redis.register_script(INCR)
    await chains.run([ScriptStep("incr", incr, ("n",), (1,))])
    other = redis.register_script("return 0")
    with pytest.raises(ValueError, match="incr"):
        await chains.run([ScriptStep("incr", incr, ("n",), (1,)), ScriptStep("incr", other, (), ())])


async def test_steps_it_cannot_chain_run_in_turn_with_the_same_guard(
    redis: AutoPipelinedRedis,
) -> None:
    chains, incr, made = Chains(redis), redis.register_script(INCR), []

    async def refuse() -> int:
        made.append("guard")
        return 0

    async def note() -> str:
        made.append("note")
        return "noted"

    assert await chains.run([CallStep(refuse), ScriptStep("incr", incr, ("n",), (1,))]) == (False, None)
    assert await redis.get("n") is None
    assert await chains.run([ScriptStep("incr", incr, ("n",), (1,)), CallStep(note)]) == (True, "noted")
    assert made == ["guard", "note"] and await redis.get("n") == "1"


async def test_one_script_under_two_names_runs_under_each(redis: AutoPipelinedRedis) -> None:
    chains, incr = Chains(redis), redis.register_script(INCR)
    assert await chains.run([ScriptStep("incr", incr, ("n",), (1,))]) == (True, 1)
    assert await chains.run([ScriptStep("add", incr, ("n",), (2,))]) == (True, 3)
