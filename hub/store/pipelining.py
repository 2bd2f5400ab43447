"""Automatic pipelining: the commands of concurrent tasks share one round trip.

A redis-py command costs about 100 us of CPU on its own (the pool, the retry
wrapper, the timeouts, packing and parsing), more than half the whole work of a
rule-answered message in memory mode. The hub issues its commands from many
tasks at once (one lane per conversation), so :class:`AutoPipelinedRedis` does
what ioredis's ``enableAutoPipelining`` does: every command issued in one turn of
the event loop is queued, and the queue goes out as one non-transactional batch
on the next turn: one write, packed by hiredis in C, then each reply parsed as
redis-py parses it, all replies under one deadline. ``python -m
bench.redis_pipelining``, 50 concurrent callers, one run: 45 us per command with
plain redis-py, 13 us batched through redis-py's ``Pipeline``, 5.7 us as here. A
command alone costs about what it costs without the queue (79 against 74 us).
Scripts registered on this client call ``EVALSHA`` straight away.

Order is kept: commands queued in one turn are sent in the order they were issued,
on one connection, and a task that awaits each command sees them run in order.
Commands that block the connection (``XREADGROUP ... BLOCK``, ``BLPOP``, ...) and
connection-scoped ones go straight to the pool, as before. Transactions
(``pipeline(transaction=True)``) are unchanged; the hub uses Lua scripts instead,
which are single commands and pipeline like any other.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
from collections.abc import Sequence
from typing import Any

import hiredis
from redis import asyncio as aioredis
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["AutoPipelinedRedis"]

logger = logging.getLogger(__name__)

# A queued command: its arguments, redis-py's options for its reply, and its caller's
# future (None for a blocking read, which waits for its own batch).
Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any] | None"]

_NOT_FOR_CALLBACKS = frozenset({NEVER_DECODE, EMPTY_RESPONSE, "keys"})  # as parse_response pops

MAX_BATCH = 512  # commands per pipeline; a longer queue goes out in several

_DIRECT = frozenset({
    "BLPOP", "BRPOP", "BLMOVE", "BLMPOP", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
    "WAIT", "WAITAOF", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "CLIENT",
    "SELECT", "AUTH", "HELLO", "RESET", "QUIT", "WATCH", "UNWATCH", "MULTI", "EXEC",
    "DISCARD",
})


@functools.lru_cache(maxsize=1024)
def _head(name: str | bytes) -> tuple[bytes, ...]:
    """A command name as separate words (``"XINFO GROUPS"`` is two), as redis-py sends it."""
    return tuple(name.encode().split() if isinstance(name, str) else name.split())


def _pack(args: tuple[Any, ...]) -> bytes:
    """One command in the Redis protocol, as redis-py's ``HiredisRespSerializer`` packs it.
    Arguments are str, bytes, int or float, as redis-py's encoder takes them (and
    memoryview or bytearray, copied); anything else is redis-py's ``DataError``."""
    try:
        return hiredis.pack_command(_head(args[0]) + args[1:])  # type: ignore[no-any-return]
    except TypeError as exc:
        rest = tuple(bytes(a) if isinstance(a, (bytearray, memoryview)) else a for a in args[1:])
        try:
            return hiredis.pack_command(_head(args[0]) + rest)  # type: ignore[no-any-return]
        except TypeError:
            raise DataError(str(exc)) from exc


@functools.lru_cache(maxsize=1024)
def _direct(name: str | bytes) -> bool:
    return str(name).upper() in _DIRECT


def _block_s(args: tuple[Any, ...]) -> float | None:
    """How long an ``XREAD``/``XREADGROUP ... BLOCK ms`` may wait, in seconds; else None."""
    if args[0] not in ("XREAD", "XREADGROUP"):
        return None
    for i, word in enumerate(args[1:-1], 1):
        if word in (b"BLOCK", "BLOCK", b"block", "block"):
            return int(args[i + 1]) / 1000
    return None


class _Script(AsyncScript):
    """redis-py's script object, minus the per-call import, type check and argument
    copies when it runs on the client it was registered on. Called with ``client=``
    (redis-py's ``Lock`` does, and a pipeline), it is redis-py's own call."""

    async def __call__(
        self, keys: Any = None, args: Any = None, client: Any = None
    ) -> Any:
        if client is not None:
            return await super().__call__(keys, args, client)
        keys = keys or ()
        try:
            return await self.registered_client.execute_command(
                "EVALSHA", self.sha, len(keys), *keys, *(args or ())
            )
        except NoScriptError:  # not loaded yet (or Redis restarted): redis-py loads it
            return await super().__call__(keys, args)


class AutoPipelinedRedis(aioredis.Redis):
    """A ``redis.asyncio.Redis`` whose commands are pipelined across tasks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: list[Queued] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if _direct(args[0]):
            return await super().execute_command(*args, **options)
        block_s = _block_s(args)
        if block_s is not None:  # a batch of its own: it holds its connection while it waits
            (reply,) = await self._run([(args, options, None)], wait_s=block_s)
            if isinstance(reply, Exception):
                raise reply
            return reply
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush_soon)
        self._queue.append((args, options, future))
        return await future

    def register_script(self, script: Any) -> AsyncScript:
        return _Script(self, script)

    def _flush_soon(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            task = asyncio.create_task(self._send(batch), name="redis-autopipeline")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _send(self, batch: list[Queued]) -> None:
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

    async def _run(self, live: Sequence[Queued], wait_s: float = 0.0) -> list[Any]:
        """Each command's reply, or the error it got, in order; the replies may take
        ``wait_s`` (a blocking read's wait) beyond the connection's ``socket_timeout``."""
        pool = self.connection_pool
        connection = await pool.get_connection()
        try:
            return await connection.retry.call_with_retry(  # type: ignore[no-any-return]
                lambda: self._exchange(connection, live, wait_s),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)

    async def _exchange(self, connection: Any, live: Sequence[Queued], wait_s: float) -> list[Any]:
        """One write of every command (packed by hiredis, in C), then each reply read
        and parsed as ``Redis.parse_response`` parses it: what redis-py's pipeline does,
        without its command stack, its per-command Python packing and its bookkeeping.

        The write and the replies share one deadline, the connection's
        ``socket_timeout`` (plus ``wait_s``), where redis-py arms a timer for every
        reply and a task for the write (a tenth of a batch's CPU)."""
        packed: list[bytes | DataError] = []
        for args, _, _ in live:
            try:
                packed.append(_pack(args))
            except DataError as exc:  # that caller's mistake; the others go out
                packed.append(exc)
        replies: list[Any] = []
        try:
            timeout = connection.socket_timeout
            async with asyncio.timeout(None if timeout is None else timeout + wait_s):
                await self._write(connection, b"".join(p for p in packed if isinstance(p, bytes)))
                for (args, options, _), command in zip(live, packed, strict=True):
                    if isinstance(command, DataError):
                        replies.append(command)
                        continue
                    try:
                        replies.append(await self._reply(connection, args[0], options))
                    except ResponseError as exc:  # the reply was read: the connection stays in step
                        replies.append(exc)
        except TimeoutError as exc:  # the read was cancelled midway: the connection is out of step
            await connection.disconnect(nowait=True)
            raise RedisTimeoutError(f"Timeout reading from {connection.host}:{connection.port}") from exc
        return replies

    @staticmethod
    async def _write(connection: Any, data: bytes) -> None:
        """``send_packed_command`` under the batch's deadline: redis-py wraps the write in
        ``asyncio.wait_for``, which on Python 3.11 makes a task per call."""
        if not connection.is_connected:
            await connection.connect()
        try:
            await connection._send_packed_command([data])
        except OSError as exc:
            await connection.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:  # cancelled or timed out midway: the connection is out of step
            await connection.disconnect(nowait=True)
            raise

    async def _reply(self, connection: Any, command: str | bytes, options: dict[str, Any]) -> Any:
        """``Redis.parse_response`` for a read under the batch's deadline (no timer of its own)."""
        try:
            response = await connection.read_response(
                disable_decoding=NEVER_DECODE in options, timeout=math.inf
            )
        except ResponseError:
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise
        callback = self.response_callbacks.get(command)
        if callback is None:
            return response
        extra = {k: v for k, v in options.items() if k not in _NOT_FOR_CALLBACKS}
        result = callback(response, **extra)
        return await result if inspect.isawaitable(result) else result

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
        await super().aclose(close_connection_pool)
