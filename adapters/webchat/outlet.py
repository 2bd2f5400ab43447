"""One socket's feed from the session bus: its outbox from a cursor, in order.

The bus notifies an outlet; the outlet's own task does the sending, so frames
reach the socket in the order the bus saw them: ephemeral ones (typing, delta)
as they come, durable ones as published when they follow the last position this
socket was sent, else by reading the session's outbox after that position.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Iterable

from aiohttp import web

from adapters.webchat.bus import Frame, Published, SessionBus, position_order
from hub.errors import StoreError
from hub.tasks import stop_tasks

__all__ = ["Outlet"]

logger = logging.getLogger(__name__)

READ_BATCH = 100
RETRY_S = 1.0  # a failed outbox read is tried again after this
MAX_QUEUED = 500  # items queued for a slow socket; then typing/delta frames are dropped
REMEMBER_SENT = 200  # frame ids a socket remembers sending, to skip a repeated one


class Outlet:
    """Sends a session's frames to one socket, from ``cursor`` on."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        bus: SessionBus,
        session: str,
        cursor: str,
        shown: Iterable[str] = (),
    ) -> None:
        self.ws = ws
        self.bus = bus
        self.session = session
        self.cursor = cursor
        self._shown = set(shown)  # frame ids the socket has (its welcome's history, sent ones)
        self._sent: deque[str] = deque()
        self._items: deque[Frame | Published | None] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webchat-outlet")
        await self.bus.listen(self.session, self)

    async def close(self) -> None:
        await stop_tasks([self._task])
        self._task = None
        try:
            await self.bus.unlisten(self.session, self)
        except StoreError as exc:
            logger.info("webchat: could not unlisten a closed socket: %s", exc)

    def notify(self, item: Frame | Published | None) -> None:
        if len(self._items) >= MAX_QUEUED:  # a slow socket
            if isinstance(item, dict):
                return  # ephemeral: dropped
            item = None  # durable: read from the outbox when the socket catches up
        if item is None and self._items and self._items[-1] is None:
            return  # a read is already due; it will see this frame too
        self._items.append(item)
        self._ready.set()

    async def _run(self) -> None:
        while not self.ws.closed:
            await self._ready.wait()
            while self._items:
                item = self._items.popleft()
                if item is None:
                    await self._catch_up()
                elif isinstance(item, Published):
                    await self._take(item)
                else:
                    await self._send(item)
            self._ready.clear()

    async def _take(self, published: Published) -> None:
        """A durable frame: sent as it is if it follows the cursor, skipped if a read
        already sent it, else the outbox is read (this socket missed something)."""
        if position_order(published.position) <= position_order(self.cursor):
            return
        if published.after != self.cursor:
            await self._catch_up()
            return
        if self._first_time(str(published.frame.get("id"))):
            await self._send(published.frame)
        self.cursor = published.position

    async def _catch_up(self) -> None:
        while True:
            try:
                frames = await self.bus.read(self.session, self.cursor, READ_BATCH)
            except StoreError as exc:
                logger.warning("webchat: could not read a session's outbox, retrying: %s", exc)
                asyncio.get_running_loop().call_later(RETRY_S, self.notify, None)
                return
            for position, frame in frames:
                if self._first_time(str(frame.get("id"))):
                    await self._send(frame)
                self.cursor = position
            if len(frames) < READ_BATCH:
                return

    def _first_time(self, frame_id: str) -> bool:
        """False for a frame this socket has already (a resend after a crash repeats one)."""
        if frame_id in self._shown:
            return False
        self._shown.add(frame_id)
        self._sent.append(frame_id)
        if len(self._sent) > REMEMBER_SENT:
            self._shown.discard(self._sent.popleft())
        return True

    async def _send(self, frame: Frame) -> None:
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(json.dumps(frame))
        except (ConnectionError, RuntimeError) as exc:
            logger.info("webchat socket closed while sending: %s", exc)
