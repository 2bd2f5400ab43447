"""Writes that ride along with an ingress commit, so a reply costs one round trip.

When an entry's replies are committed, the same atomic step can also write their
transcript lines, publish a webchat frame and ack the entry. Each of those is a
:class:`Step` that its owner builds (the store, the webchat bus, the log):

- :class:`ScriptStep` is one Lua function on the store's Redis. The Redis log
  chains the commit and every step after it into one script (:class:`Chains`), so
  they happen together or not at all, in one command that pipelines like any other.
- :class:`CallStep` is a coroutine call, for the in-memory implementations: the
  memory log awaits each in turn.

Either kind can also be applied on its own (``apply``): :meth:`Chains.run` applies
the steps in turn when they cannot be chained, with the same guard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis.commands.core import AsyncScript

__all__ = ["CallStep", "Chains", "ScriptStep", "Step"]


class Step(Protocol):
    async def apply(self) -> Any:
        """Make this write on its own (outside any commit); what it returns."""
        ...


@dataclass(frozen=True, slots=True)
class CallStep:
    """A write as a coroutine function and its arguments."""

    function: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()

    async def apply(self) -> Any:
        return await self.function(*self.args)


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """A registered Lua script, named, with the keys and arguments of one call.

    :class:`Chains` makes the script's text a function whose parameters shadow the
    ``KEYS`` and ``ARGV`` globals, so the same text runs alone or chained.
    """

    name: str
    script: AsyncScript
    keys: tuple[str, ...]
    args: tuple[str | int | float, ...]

    @property
    def lua(self) -> str:
        return str(self.script.script)

    @property
    def redis(self) -> aioredis.Redis:
        """The client the script was registered on: a chain runs on that one only."""
        return self.script.registered_client  # type: ignore[return-value]

    async def apply(self) -> Any:
        return await self.script(keys=self.keys, args=self.args)


# ARGV[1]: each step's name, key count and argument count, space-separated ("commit 3
# 4 ack 1 2": one argument, not three per step); then every step's arguments in turn
# (KEYS likewise). The first step guards: when it returns 0, the chain stops there
# and returns {0}. Otherwise it returns {1, what the last step returned}.
_RUN = """
local function part(t, first, n)
  local s = {}
  for i = 1, n do s[i] = t[first + i - 1] end
  return s
end
local k, a, i, result = 1, 2, 0, nil
for name, nk, na in string.gmatch(ARGV[1], '(%S+) (%d+) (%d+)') do
  nk, na, i = tonumber(nk), tonumber(na), i + 1
  result = steps[name](part(KEYS, k, nk), part(ARGV, a, na))
  k, a = k + nk, a + na
  if i == 1 and result == 0 then return {0} end
end
return {1, result}
"""


def chain_script(bodies: dict[str, str]) -> str:
    """One script that runs any sequence of these named bodies (see :class:`Chains`)."""
    functions = "".join(
        f"steps[{name!r}] = function(KEYS, ARGV)\n{body.strip()}\nend\n"
        for name, body in sorted(bodies.items())
    )
    return "local steps = {}\n" + functions + _RUN


MAX_SEQUENCES = 256  # sequences of step scripts remembered (a handful in practice)


class Chains:
    """Runs a sequence of script steps as one command, on the client they belong to.

    One script is registered per set of step names it has seen (a handful: the
    commit, transcript lines, a webchat frame, the ack), so calls with any number
    of steps in any order reuse it.
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._scripts: dict[tuple[str, ...], AsyncScript] = {}
        self._chained: dict[tuple[Any, ...], AsyncScript] = {}  # by the steps' names and scripts

    async def run(self, steps: Sequence[Step]) -> tuple[bool, Any]:
        """Run ``steps`` in order. The first one guards: if it returns 0 (or false),
        none of the others run and ``(False, None)`` comes back; else ``(True, what the
        last step returned)``.

        When every step is a script on this client, that is one atomic command.
        Otherwise (an in-memory step, or one on another client) each is applied in
        turn, which keeps the order and the guard but not the atomicity."""
        script = self._chain_of(steps)
        if script is None:
            return await _in_turn(steps)
        header: list[str] = []
        keys: list[str] = []
        args: list[str | int | float] = [""]
        for step in steps:
            assert isinstance(step, ScriptStep)
            header.append(f"{step.name} {len(step.keys)} {len(step.args)}")
            keys += step.keys
            args += step.args
        args[0] = " ".join(header)
        reply = await script(keys=keys, args=args)
        return bool(reply[0]), (reply[1] if len(reply) > 1 else None)

    def _chain_of(self, steps: Sequence[Step]) -> AsyncScript | None:
        """The chained script for these steps, found once per sequence of their names and
        scripts; None when they cannot be chained."""
        sequence = tuple((getattr(step, "name", None), getattr(step, "script", None)) for step in steps)
        script = self._chained.get(sequence)
        if script is not None:
            return script
        if not all(isinstance(s, ScriptStep) and s.redis is self.redis for s in steps):
            return None
        bodies: dict[str, str] = {}
        for step in steps:
            assert isinstance(step, ScriptStep)
            if not step.name.isidentifier():
                raise ValueError(f"a step's name is a word: {step.name!r}")
            if bodies.setdefault(step.name, step.lua) != step.lua:
                raise ValueError(f"two different scripts are both named {step.name!r}")
        if len(self._chained) >= MAX_SEQUENCES:
            self._chained.clear()
        script = self._chained[sequence] = self._script(bodies)
        return script

    def _script(self, bodies: dict[str, str]) -> AsyncScript:
        signature = tuple(sorted(bodies))
        script = self._scripts.get(signature)
        if script is None:
            script = self._scripts[signature] = self.redis.register_script(chain_script(bodies))
        return script


async def _in_turn(steps: Sequence[Step]) -> tuple[bool, Any]:
    result: Any = None
    for i, step in enumerate(steps):
        result = await step.apply()
        if i == 0 and not result:
            return False, None
    return True, result
