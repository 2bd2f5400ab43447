"""Automatic pipelining: the commands of concurrent tasks share one connection.

A redis-py command costs about 100 us of CPU on its own (the pool, the retry
wrapper, the timeouts, packing and parsing), more than half the whole work of a
rule-answered message in memory mode. The hub issues its commands from many
tasks at once (one lane per conversation), so :class:`AutoPipelinedRedis` does
what ioredis does with ``enableAutoPipelining``: every command issued in one turn
of the event loop is queued, and on the next turn the queue is written, packed by
hiredis in C, to the one connection all pipelined commands share. A reader task
that lives as long as the connection parses whatever arrives and answers the
callers in order, each reply as redis-py's ``parse_response`` makes it. No task,
pool checkout, retry wrapper or timer per batch: one timer watches the oldest
unanswered command. ``python -m bench.redis_pipelining``, one run: 37 us per
command for a caller alone (107 us with a batch per turn on a pooled connection,
149 us with plain redis-py), and 10 us with 50 concurrent callers.
Scripts registered on this client call ``EVALSHA`` straight away.

Order is kept: the connection answers in the order it was written to, and batches
go out in the order they were queued, also while it (re)connects. Commands that
block a connection (``XREADGROUP ... BLOCK``, ``BLPOP``, ...) and connection-scoped
ones go to the pool, each on a connection of its own. Transactions
(``pipeline(transaction=True)``) are unchanged; the hub uses Lua scripts instead,
which are single commands and pipeline like any other.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Coroutine, Sequence
from contextlib import suppress
from typing import Any

import hiredis
from redis import asyncio as aioredis
from redis._parsers.base import BaseParser
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, InvalidResponse, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["NOT_ENOUGH_DATA", "AutoPipelinedRedis", "hand_back", "hiredis_reader", "pack"]

logger = logging.getLogger(__name__)

# A queued command: its arguments, redis-py's options for its reply, and its caller's future.
Queued = tuple[tuple[Any, ...], dict[str, Any], "asyncio.Future[Any]"]
# A command written and not yet answered: its caller, its name, its options, when it went out.
_Sent = tuple["asyncio.Future[Any]", "str | bytes", dict[str, Any], float]

_NOT_FOR_CALLBACKS = frozenset({NEVER_DECODE, EMPTY_RESPONSE, "keys"})  # as parse_response pops

NOT_ENOUGH_DATA = object()  # what the hiredis reader returns when no whole reply has come
_PUSH = getattr(hiredis, "PushNotification", None)  # a RESP3 push (hiredis 3.2 and later)

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


def pack(args: tuple[Any, ...]) -> bytes:
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


def hiredis_reader(connection: Any) -> Any:
    """A hiredis reader for replies on ``connection``, as redis-py's own parser makes it
    (its errors, its decoding); incomplete input gives :data:`NOT_ENOUGH_DATA`."""
    kwargs: dict[str, Any] = {
        "protocolError": InvalidResponse, "replyError": BaseParser.parse_error,
        "notEnoughData": NOT_ENOUGH_DATA,
    }
    encoder = connection.encoder
    if encoder.decode_responses:
        kwargs.update(encoding=encoder.encoding, errors=encoder.encoding_errors)
    return hiredis.Reader(**kwargs)


async def hand_back(pool: Any, connection: Any) -> None:
    """A connection taken out of ``pool`` for good (the pipe's, a subscription's),
    disconnected and returned, so the pool can make another."""
    with suppress(Exception):
        await connection.disconnect(nowait=True)
    await pool.release(connection)


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
        command = ("EVALSHA", self.sha, len(keys), *keys, *(args or ()))
        try:
            return await self.registered_client._pipelined(command, {})
        except NoScriptError:  # not loaded yet (or Redis restarted): redis-py loads it
            return await super().__call__(keys, args)


class _Pipe:
    """The one connection every pipelined command shares, as ioredis has it.

    A batch is written the moment it is flushed (no task, no pool round trip, no
    retry wrapper), and one reader task, alive as long as the connection, feeds
    whatever arrives to a hiredis reader and answers the callers first in, first
    out: Redis answers a connection's commands in the order it got them. One timer
    watches the oldest unanswered command: past ``socket_timeout``, the connection
    is dropped and every caller still waiting hears redis-py's ``TimeoutError``.
    A lost connection fails its waiting callers with ``ConnectionError`` (a command
    may or may not have run, as with any client); the next batch connects again.
    """

    def __init__(self, redis: AutoPipelinedRedis) -> None:
        self._redis = redis
        self._connection: Any = None  # taken from the pool while connected
        self._parser: Any = None  # the hiredis reader of this connection
        self._writer: Any = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: deque[_Sent] = deque()
        self._watchdog: asyncio.TimerHandle | None = None
        self._timeout: float | None = None
        self._connecting = asyncio.Lock()
        self._queued = 0  # batches waiting for a connection: later ones queue behind them
        self._drained: asyncio.Future[None] | None = None  # set when closing: nothing waits

    @property
    def ready(self) -> bool:
        """Can a batch be written now, in its turn?"""
        return self._writer is not None and not self._queued

    def send(self, batch: Sequence[Queued]) -> None:
        """Write ``batch`` (the pipe is ready); its callers are answered as replies come."""
        packed: list[bytes] = []
        now = time.monotonic()
        for args, options, future in batch:
            if future.done():  # the caller gave up before it went out
                continue
            try:
                packed.append(pack(args))
            except DataError as exc:  # that caller's mistake; the others go out
                future.set_exception(exc)
                continue
            self._waiting.append((future, args[0], options, now))
        if not packed:
            return
        try:
            self._writer.write(b"".join(packed))
        except (OSError, RuntimeError) as exc:  # closed under us (uvloop raises): all hear it
            self._lost(RedisConnectionError(f"Error while writing to the pipelined connection: {exc}"))
            return
        if self._watchdog is None and self._timeout is not None:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout, self._watch)

    async def connect_and_send(self, batch: Sequence[Queued]) -> None:
        """Connect (once for all the batches that wait), then write ``batch`` in its turn."""
        self._queued += 1
        try:
            async with self._connecting:
                if self._writer is None:
                    await self._connect()
                self.send(batch)
        except Exception as exc:  # could not connect: every caller of the batch hears it
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._queued -= 1

    async def _connect(self) -> None:
        connection = await self._redis.connection_pool.get_connection()
        self._connection, self._parser = connection, hiredis_reader(connection)
        self._writer, self._timeout = connection._writer, connection.socket_timeout
        self._reading = asyncio.create_task(
            self._read_forever(connection._reader), name="redis-pipe-reader"
        )

    async def _read_forever(self, stream: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await stream.read(65536)
                if not data:
                    raise RedisConnectionError("Connection closed by server.")
                self._parser.feed(data)
                self._answer()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lost = exc if isinstance(exc, RedisConnectionError) else RedisConnectionError(
                f"Error while reading from the pipelined connection: {exc}"
            )
            self._lost(lost, from_reader=True)

    def _answer(self) -> None:
        """Every complete reply, to its caller, in order."""
        parser, waiting = self._parser, self._waiting
        while waiting:
            future, command, options, _ = waiting[0]
            reply = parser.gets(NEVER_DECODE not in options)
            if reply is NOT_ENOUGH_DATA:
                return
            if _PUSH is not None and isinstance(reply, _PUSH):  # RESP3 push: no one's reply
                logger.debug("push message on the pipelined connection: %r", reply)
                continue
            waiting.popleft()
            if not future.done():
                self._redis._resolve(future, command, options, reply)
        self._nothing_waits()

    def _nothing_waits(self) -> None:
        """No reply is due: no timer to keep, and a close may go on."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _watch(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        late = time.monotonic() - self._waiting[0][3]
        assert self._timeout is not None
        if late < self._timeout:  # the oldest came later than the one this timer was for
            loop = asyncio.get_running_loop()
            self._watchdog = loop.call_later(self._timeout - late, self._watch)
            return
        connection = self._connection
        self._lost(RedisTimeoutError(f"Timeout reading from {connection.host}:{connection.port}"))

    def _lost(self, exc: Exception, *, from_reader: bool = False) -> None:
        """The connection is done for: its waiting callers hear ``exc``; it goes back
        to the pool, disconnected."""
        waiting, self._waiting = self._waiting, deque()
        for future, *_ in waiting:
            if not future.done():
                future.set_exception(exc)
        self._nothing_waits()
        connection, reading = self._connection, self._reading
        self._connection = self._parser = self._writer = self._reading = None
        if reading is not None and not from_reader:
            reading.cancel()
        if connection is not None:
            self._redis._track(hand_back(self._redis.connection_pool, connection))

    async def close(self) -> None:
        """Let the replies still due arrive (up to the timeout), then hand the connection back."""
        if self._waiting:
            self._drained = asyncio.get_running_loop().create_future()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._drained, self._timeout or 5.0)
        if self._connection is not None:
            self._lost(RedisConnectionError("The client was closed."))


class AutoPipelinedRedis(aioredis.Redis):
    """A ``redis.asyncio.Redis`` whose commands are pipelined across tasks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: list[Queued] = []
        self._pipe = _Pipe(self)
        self._background: set[asyncio.Task[None]] = set()

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if _direct(args[0]):
            return await super().execute_command(*args, **options)
        block_s = _block_s(args)
        if block_s is not None:  # on a connection of its own: it holds it while it waits
            return await self._blocking(args, options, block_s)
        return await self._pipelined(args, options)

    def _pipelined(self, args: tuple[Any, ...], options: dict[str, Any]) -> asyncio.Future[Any]:
        """Queue a command for this turn's batch; its reply comes in the future."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((args, options, future))
        return future

    def register_script(self, script: Any) -> AsyncScript:
        return _Script(self, script)

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if self._pipe.ready:
            self._pipe.send(batch)
        else:
            self._track(self._pipe.connect_and_send(batch))

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="redis-pipe")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _resolve(self, future: asyncio.Future[Any], command: str | bytes,
                 options: dict[str, Any], reply: Any) -> None:
        """A caller's reply as ``Redis.parse_response`` makes it (errors raised)."""
        try:
            result = self._parsed(command, options, reply)
        except Exception as exc:
            future.set_exception(exc)
            return
        if inspect.isawaitable(result):  # an async callback: rare, awaited aside
            self._track(_settle(future, result))
        else:
            future.set_result(result)

    def _parsed(self, command: str | bytes, options: dict[str, Any], reply: Any) -> Any:
        if isinstance(reply, ResponseError):
            if EMPTY_RESPONSE in options:
                return options[EMPTY_RESPONSE]
            raise reply
        if isinstance(reply, RedisConnectionError):
            raise reply
        callback = self.response_callbacks.get(command)
        if callback is None:
            return reply
        return callback(reply, **{k: v for k, v in options.items() if k not in _NOT_FOR_CALLBACKS})

    async def _blocking(self, args: tuple[Any, ...], options: dict[str, Any], wait_s: float) -> Any:
        """A blocking read, on a pooled connection of its own while it waits."""
        pool = self.connection_pool
        connection = await pool.get_connection()
        try:
            return await connection.retry.call_with_retry(
                lambda: self._exchange(connection, args, options, wait_s),
                lambda _error: connection.disconnect(),
            )
        finally:
            await pool.release(connection)

    async def _exchange(
        self, connection: Any, args: tuple[Any, ...], options: dict[str, Any], wait_s: float
    ) -> Any:
        """The command packed by hiredis, then its reply parsed as ``Redis.parse_response``
        parses it, the write and the read under one deadline: the connection's
        ``socket_timeout`` plus the read's block (redis-py arms a timer for the read
        and makes a task for the write)."""
        command = pack(args)
        timeout = connection.socket_timeout
        try:
            async with asyncio.timeout(None if timeout is None else timeout + wait_s):
                await self._write(connection, command)
                try:
                    reply = await connection.read_response(
                        disable_decoding=NEVER_DECODE in options, timeout=math.inf
                    )
                except ResponseError as exc:  # read whole: the connection stays in step
                    reply = exc
        except TimeoutError as exc:  # the read was cancelled midway: the connection is out of step
            await connection.disconnect(nowait=True)
            raise RedisTimeoutError(f"Timeout reading from {connection.host}:{connection.port}") from exc
        result = self._parsed(args[0], options, reply)
        return await result if inspect.isawaitable(result) else result

    @staticmethod
    async def _write(connection: Any, data: bytes) -> None:
        """``send_packed_command`` under the read's deadline: redis-py wraps the write in
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

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await asyncio.sleep(0)  # commands queued in this turn go out
        await self._pipe.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await super().aclose(close_connection_pool)


async def _settle(future: asyncio.Future[Any], result: Awaitable[Any]) -> None:
    try:
        value = await result
    except Exception as exc:
        if not future.done():
            future.set_exception(exc)
        return
    if not future.done():
        future.set_result(value)
