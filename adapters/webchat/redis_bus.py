"""The session bus on Redis: a stream per session, pub/sub only as the wake-up.

``publish`` is one Lua script (atomic, and a single command that the store's
client pipelines with others): XADD to the session's outbox (exact MAXLEN),
PEXPIRE, and PUBLISH of a wake-up on the session's channel. The wake-up carries
the frame, its stream id and the id it follows (``+<after> <id> <frame JSON>``),
so a socket that has everything up to ``after`` sends it without reading the
stream. Each process holds one pub/sub connection (:mod:`hub.store.subscriber`),
subscribed to the channels of the sessions it has sockets for. A wake-up can be
lost (pub/sub keeps nothing), so the stream stays the record: when the
subscription is confirmed, and again
after every reconnection, each listener reads the stream from its own cursor and
so catches up on whatever was published while it was not subscribed; a socket
that gets a wake-up whose ``after`` is not its cursor reads the stream too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from adapters.webchat.bus import (
    FIND_WINDOW,
    OUTBOX_MAXLEN,
    OUTBOX_TTL_S,
    START,
    Frame,
    Listener,
    Published,
)
from hub import codec
from hub.store.keys import Keys
from hub.store.redis import redis_errors
from hub.store.steps import ScriptStep
from hub.store.subscriber import Subscriber
from hub.tasks import stop_tasks

__all__ = ["RedisSessionBus"]

logger = logging.getLogger(__name__)

WAKE = "+"  # starts a wake-up (alone: "read the outbox"); else an ephemeral frame (JSON)
MAX_BACKOFF_S = 5.0

# KEYS: outbox stream, wake channel.  ARGV: maxlen, ttl ms, frame id, frame JSON, wake,
# the position before every frame.  -> the frame's stream id
_PUBLISH = """
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local after = ARGV[6]
if newest[1] then after = newest[1][1] end
local position = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 'id', ARGV[3], 'frame', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[5] .. after .. ' ' .. position .. ' ' .. ARGV[4])
return position
"""


class RedisSessionBus:
    """The bus on a ``redis.asyncio.Redis`` client (``decode_responses=True``)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys | None = None,
        *,
        maxlen: int = OUTBOX_MAXLEN,
        ttl_s: float = OUTBOX_TTL_S,
    ) -> None:
        self.redis = redis
        self.keys = keys or Keys()
        self.maxlen = maxlen
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._publish = redis.register_script(_PUBLISH)
        self._listeners: dict[str, set[Listener]] = {}
        self._channels: dict[str, str] = {}  # channel -> session, for every listened session
        self._confirmed: set[str] = set()  # channels whose subscription Redis confirmed
        self._subscriber: Subscriber | None = None  # while connected
        self._wanted = asyncio.Event()  # set once there is something to listen to
        self._reader: asyncio.Task[None] | None = None
        self._down = False  # the subscription was lost and is not back yet

    # -- the outbox --------------------------------------------------------------
    async def publish(self, session: str, frame: Frame) -> str:
        step = self.publish_step(session, frame)
        async with redis_errors("webchat publish"):
            position = await step.apply()
        return str(position)

    def publish_step(self, session: str, frame: Frame) -> ScriptStep:
        keys = (self.keys.webchat_outbox(session), self.keys.webchat_wake(session))
        args = (self.maxlen, self.ttl_ms, str(frame.get("id") or ""), codec.dumps(frame), WAKE, START)
        return ScriptStep("webchat_publish", self._publish, keys, args)

    async def signal(self, session: str, frame: Frame) -> None:
        async with redis_errors("webchat signal"):
            await self.redis.publish(self.keys.webchat_wake(session), json.dumps(frame))

    async def position(self, session: str) -> str:
        async with redis_errors("webchat position"):
            newest = await self.redis.xrevrange(self.keys.webchat_outbox(session), count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def find(self, session: str, frame_id: str) -> str | None:
        key = self.keys.webchat_outbox(session)
        async with redis_errors("webchat find"):
            recent = await self.redis.xrevrange(key, count=FIND_WINDOW)
        return next((str(p) for p, fields in recent if fields.get("id") == frame_id), None)

    async def read(self, session: str, after: str, count: int = 100) -> list[tuple[str, Frame]]:
        key = self.keys.webchat_outbox(session)
        async with redis_errors("webchat read"):
            entries = await self.redis.xrange(key, min=f"({after}", count=count)
        return [(str(p), codec.loads(fields["frame"])) for p, fields in entries]

    # -- listening ---------------------------------------------------------------
    async def listen(self, session: str, listener: Listener) -> None:
        listeners = self._listeners.setdefault(session, set())
        listeners.add(listener)
        channel = self.keys.webchat_wake(session)
        if len(listeners) > 1:
            if channel in self._confirmed:
                listener.notify(None)  # else the confirmation will wake it
            return
        self._channels[channel] = session
        self._wanted.set()
        self._command("subscribe", channel)

    async def unlisten(self, session: str, listener: Listener) -> None:
        listeners = self._listeners.get(session)
        if listeners is None or listener not in listeners:
            return
        listeners.discard(listener)
        if listeners:
            return
        del self._listeners[session]
        channel = self.keys.webchat_wake(session)
        self._channels.pop(channel, None)
        self._confirmed.discard(channel)
        self._command("unsubscribe", channel)

    def _command(self, name: str, channel: str) -> None:
        """(Un)subscribe on the live connection; without one the reader does it on connecting."""
        subscriber = self._subscriber
        if subscriber is None:
            return
        try:
            getattr(subscriber, name)(channel)
        except (RedisError, OSError) as exc:
            logger.info("webchat: %s deferred until Redis is back: %s", name, exc)

    # -- the reader --------------------------------------------------------------
    async def start(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="webchat-bus")

    async def close(self) -> None:
        await stop_tasks([self._reader])
        self._reader = None
        await self._disconnect()
        self._listeners.clear()
        self._channels.clear()

    async def _read_forever(self) -> None:
        backoff = 0.1
        while True:
            try:
                if not self._connected():
                    if not self._channels:
                        self._wanted.clear()
                        await self._wanted.wait()
                        continue
                    await self._connect()
                    continue
                # Waits for what comes next, with no timer. A dropped connection
                # (Redis restarted) raises.
                assert self._subscriber is not None
                messages = await self._subscriber.read()
            except (RedisError, OSError) as exc:
                self._lost(exc, backoff)
                await self._disconnect()
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = 0.1
            for message in messages:
                self._dispatch(message)

    def _connected(self) -> bool:
        return self._subscriber is not None and self._subscriber.connected

    def _lost(self, exc: BaseException, backoff: float) -> None:
        log = logger.warning if not self._down else logger.debug
        log("webchat: lost the Redis subscription (%s); resubscribing in %.1f s", exc, backoff)
        self._down = True

    async def _connect(self) -> None:
        """A fresh pub/sub connection, subscribed to every listened channel."""
        await self._disconnect()
        subscriber = Subscriber(self.redis.connection_pool)
        await subscriber.connect()
        channels = list(self._channels)  # from here on, listen() subscribes on it itself
        try:
            subscriber.subscribe(*channels)
        except RedisError:  # closed already: its connection goes back, the reader retries
            await subscriber.close()
            raise
        self._subscriber = subscriber
        if self._down:
            logger.info("webchat: resubscribed to %d session channel(s); catching up", len(channels))
        self._down = False

    async def _disconnect(self) -> None:
        subscriber, self._subscriber = self._subscriber, None
        self._confirmed.clear()
        if subscriber is not None:
            await subscriber.close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        session = self._channels.get(str(channel))
        if session is None:
            return
        kind = message.get("type")
        if kind == "subscribe":
            self._confirmed.add(str(channel))
            self._notify(session, None)  # from now on no wake-up is missed: catch up
        elif kind == "message":
            self._notify(session, _wake_up(str(message.get("data"))))

    def _notify(self, session: str, item: Frame | Published | None) -> None:
        for listener in list(self._listeners.get(session, ())):
            listener.notify(item)


def _wake_up(data: str) -> Frame | Published | None:
    """What a message on a session's channel says; one that cannot be read says "read
    the outbox" (the stream has whatever was published)."""
    try:
        if not data.startswith(WAKE):
            return dict(codec.loads(data))
        if data == WAKE:  # what processes before the frame-carrying wake-up publish
            return None
        after, position, frame = data[len(WAKE):].split(" ", 2)
        return Published(after, position, dict(codec.loads(frame)))
    except (ValueError, TypeError) as exc:
        logger.warning("webchat: unreadable message on a session channel (%s); reading the outbox",
                       exc)
        return None
