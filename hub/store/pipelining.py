"""Automatic pipelining: the commands of concurrent tasks share one round trip.

A redis-py command costs about 150-230 us of CPU on its own (the pool, the retry
wrapper, the timeouts, packing and parsing), several times the whole work of a
rule-answered message in memory mode. The hub issues its commands from many
tasks at once (one lane per conversation), so :class:`AutoPipelinedRedis` does
what ioredis's ``enableAutoPipelining`` does: every command issued in one turn of
the event loop is queued, and the queue goes out as one non-transactional pipeline
on the next turn. A command then costs about 35-45 us at 50 concurrent callers,
and the same as before when it is alone (measured in bench/redis_pipelining.py).

Order is kept: commands queued in one turn are sent in the order they were issued,
on one connection, and a task that awaits each command sees them run in order.
Commands that block the connection (``XREADGROUP ... BLOCK``, ``BLPOP``, ...) and
connection-scoped ones go straight to the pool, as before. Transactions
(``pipeline(transaction=True)``) are unchanged; the hub uses Lua scripts instead,
which are single commands and pipeline like any other.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis import asyncio as aioredis

__all__ = ["AutoPipelinedRedis"]

logger = logging.getLogger(__name__)

MAX_BATCH = 512  # commands per pipeline; a longer queue goes out in several

_DIRECT = frozenset({
    "BLPOP", "BRPOP", "BLMOVE", "BLMPOP", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
    "WAIT", "WAITAOF", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "CLIENT",
    "SELECT", "AUTH", "HELLO", "RESET", "QUIT", "WATCH", "UNWATCH", "MULTI", "EXEC",
    "DISCARD",
})


def _blocks(args: tuple[Any, ...]) -> bool:
    name = str(args[0]).upper()
    if name in _DIRECT:
        return True
    if name in ("XREAD", "XREADGROUP"):
        return any(a in (b"BLOCK", "BLOCK", b"block", "block") for a in args[1:])
    return False


class AutoPipelinedRedis(aioredis.Redis):
    """A ``redis.asyncio.Redis`` whose commands are pipelined across tasks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if _blocks(args):
            return await super().execute_command(*args, **options)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush_soon)
        self._queue.append((args, options, future))
        return await future

    def _flush_soon(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            task = asyncio.create_task(self._send(batch), name="redis-autopipeline")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _send(
        self, batch: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]]
    ) -> None:
        live = [item for item in batch if not item[2].done()]  # callers that gave up
        if not live:
            return
        try:
            results = await self._run(live)
        except Exception as exc:  # the connection failed: every caller hears it
            results = [exc] * len(live)
        except BaseException:  # cancelled (shutdown): so are the callers
            for _, _, future in live:
                future.cancel()
            raise
        for (_, _, future), result in zip(live, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(
        self, live: list[tuple[tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]]
    ) -> list[Any]:
        """Each command's reply, or the error it got, in order."""
        if len(live) == 1:  # alone: a plain command is cheaper than a pipeline of one
            args, options, _ = live[0]
            try:
                return [await super().execute_command(*args, **options)]
            except Exception as exc:
                return [exc]
        async with self.pipeline(transaction=False) as pipe:
            for args, options, _ in live:
                pipe.execute_command(*args, **options)
            return list(await pipe.execute(raise_on_error=False))

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await super().aclose(close_connection_pool)
