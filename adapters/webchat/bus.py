"""The session bus: how a webchat reply reaches the session's sockets, on any process.

Every outbound ``message`` frame of a session goes into the session's **outbox**,
a bounded stream with a TTL, and every socket of the session reads that stream
from its own cursor. So a reply decided by one process reaches a socket held by
another, and a socket that reconnects replays what it missed. A wake-up tells
the sockets that the outbox grew: it carries the new frame as :class:`Published`,
with the position it follows, so a socket whose cursor is that position sends it
without reading the outbox. A socket that is behind (it missed a wake-up) reads
the outbox instead; nothing that would be lost with a wake-up lives only in it.
``typing`` and ``delta`` frames are ephemeral: they go to the listeners now or
not at all.

Two implementations pass one contract suite (``tests/adapters/test_webchat_bus.py``):
:class:`MemorySessionBus` (``memory://``, one process) and
:class:`~adapters.webchat.redis_bus.RedisSessionBus` (a Redis stream per session,
pub/sub as the wake-up).
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hub.store import Store
from hub.store.steps import CallStep, Step

__all__ = [
    "OUTBOX_MAXLEN",
    "OUTBOX_TTL_S",
    "START",
    "Frame",
    "Listener",
    "MemorySessionBus",
    "Published",
    "SessionBus",
    "open_bus",
    "position_order",
]

Frame = dict[str, Any]

OUTBOX_MAXLEN = 100  # frames kept per session; older ones are in the transcript's history
OUTBOX_TTL_S = 6 * 3600.0  # an idle session's outbox is forgotten after this
FIND_WINDOW = 100  # how far back a client's ``last_id`` is looked for
START = "0"  # the position before every frame, on every bus


@dataclass(frozen=True, slots=True)
class Published:
    """A durable frame just published: at ``position``, right after ``after``."""

    after: str
    position: str
    frame: Frame


def position_order(position: str) -> tuple[int, ...]:
    """A position as something to compare: ``"17"`` (memory) or ``"1700000000000-3"``
    (a Redis stream id); :data:`START` comes before both."""
    return tuple(int(part) for part in position.split("-"))


class Listener(Protocol):
    """One socket's side of the bus (an :class:`~adapters.webchat.outlet.Outlet`)."""

    def notify(self, item: Frame | Published | None) -> None:
        """``None``: read the outbox now (it grew, or reading is safe from now on);
        :class:`Published`: a durable frame, to send if the socket is at its ``after``
        (else read the outbox); a frame: an ephemeral one to send as it is. Must not block."""
        ...


@runtime_checkable
class SessionBus(Protocol):
    """Outbound frames of webchat sessions, shared by every process on the store."""

    async def publish(self, session: str, frame: Frame) -> str:
        """Append a durable frame to the session's outbox, wake its listeners; its position."""
        ...

    def publish_step(self, session: str, frame: Frame) -> Step:
        """The same :meth:`publish`, as a step an ingress commit makes with its own
        write (see :mod:`hub.store.steps`): the frame goes out exactly once."""
        ...

    async def signal(self, session: str, frame: Frame) -> None:
        """An ephemeral frame (typing, delta) to the listeners there are right now."""
        ...

    async def position(self, session: str) -> str:
        """The position of the newest frame in the outbox (``read`` after it gives none)."""
        ...

    async def find(self, session: str, frame_id: str) -> str | None:
        """The position of the recent outbox frame whose ``id`` is ``frame_id``, if kept."""
        ...

    async def read(self, session: str, after: str, count: int = 100) -> list[tuple[str, Frame]]:
        """Up to ``count`` frames after position ``after``, oldest first."""
        ...

    async def listen(self, session: str, listener: Listener) -> None:
        """Notify ``listener`` of the session's frames; it gets ``None`` once reading
        the outbox can miss nothing that is published later."""
        ...

    async def unlisten(self, session: str, listener: Listener) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemorySessionBus:
    """The bus in one process: a bounded deque per session, listeners called directly."""

    def __init__(
        self,
        maxlen: int = OUTBOX_MAXLEN,
        ttl_s: float = OUTBOX_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maxlen = maxlen
        self.ttl_s = ttl_s
        self._clock = clock
        self._outboxes: OrderedDict[str, tuple[float, deque[tuple[int, Frame]]]] = OrderedDict()
        self._listeners: dict[str, set[Listener]] = {}
        self._positions = itertools.count(1)

    def _expire(self) -> None:
        """Forget outboxes idle past the TTL (the least recently written come first)."""
        now = self._clock()
        while self._outboxes:
            session, (at, _) = next(iter(self._outboxes.items()))
            if now - at < self.ttl_s:
                return
            del self._outboxes[session]

    def _outbox(self, session: str) -> deque[tuple[int, Frame]]:
        self._expire()
        entry = self._outboxes.get(session)
        return entry[1] if entry else deque()

    async def publish(self, session: str, frame: Frame) -> str:
        frames = self._outbox(session)
        frames = frames if frames.maxlen == self.maxlen else deque(frames, maxlen=self.maxlen)
        after = str(frames[-1][0]) if frames else START
        position, kept = next(self._positions), dict(frame)
        frames.append((position, kept))
        self._outboxes.pop(session, None)
        self._outboxes[session] = (self._clock(), frames)  # now the most recently written
        self._notify(session, Published(after, str(position), kept))
        return str(position)

    def publish_step(self, session: str, frame: Frame) -> CallStep:
        return CallStep(self.publish, (session, frame))

    async def signal(self, session: str, frame: Frame) -> None:
        self._notify(session, dict(frame))

    def _notify(self, session: str, item: Frame | Published | None) -> None:
        for listener in list(self._listeners.get(session, ())):
            listener.notify(item)

    async def position(self, session: str) -> str:
        frames = self._outbox(session)
        return str(frames[-1][0]) if frames else START

    async def find(self, session: str, frame_id: str) -> str | None:
        recent = list(self._outbox(session))[-FIND_WINDOW:]
        for position, frame in reversed(recent):
            if frame.get("id") == frame_id:
                return str(position)
        return None

    async def read(self, session: str, after: str, count: int = 100) -> list[tuple[str, Frame]]:
        start = int(after)
        newer: list[tuple[str, Frame]] = []
        for position, frame in reversed(self._outbox(session)):  # newest first: stop early
            if position <= start:
                break
            newer.append((str(position), frame))  # frames are copied once, on publish
        newer.reverse()
        return newer[:count]

    async def listen(self, session: str, listener: Listener) -> None:
        self._listeners.setdefault(session, set()).add(listener)
        listener.notify(None)

    async def unlisten(self, session: str, listener: Listener) -> None:
        listeners = self._listeners.get(session)
        if listeners is None:
            return
        listeners.discard(listener)
        if not listeners:
            del self._listeners[session]

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._listeners.clear()


def open_bus(store: Store) -> SessionBus:
    """The bus that matches the store: Redis streams on a RedisStore, else in memory."""
    from hub.store.redis import RedisStore

    if isinstance(store, RedisStore):
        from adapters.webchat.redis_bus import RedisSessionBus

        return RedisSessionBus(store.redis, store.keys)
    return MemorySessionBus()
