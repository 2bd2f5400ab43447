"""A pub/sub connection read as it comes: what the webchat bus listens with.

redis-py's ``PubSub`` reads one message per call, through its retry wrapper, the
connection's reply machinery and, on RESP3, a push handler that formats every
message for a debug log: about 30 us of CPU per message under load, for a reader
that only wants ``(kind, channel, data)``. :class:`Subscriber` takes one
connection from the pool (redis-py does the handshake), writes ``SUBSCRIBE`` and
``UNSUBSCRIBE`` as they are asked for, and parses whatever arrives with one
hiredis reader. Confirmations come back as messages of kind ``subscribe`` and
``unsubscribe``, in order with the others, as with ``PubSub``. A lost connection
raises redis-py's ``ConnectionError`` from :meth:`read`; the caller connects a
new subscriber and subscribes again.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from hub.store.pipelining import NOT_ENOUGH_DATA, hand_back, hiredis_reader, pack

__all__ = ["Message", "Subscriber"]

logger = logging.getLogger(__name__)

Message = dict[str, Any]  # {"type": "message" | "subscribe" | ..., "channel": ..., "data": ...}
_KINDS = frozenset({"message", "subscribe", "unsubscribe", b"message", b"subscribe", b"unsubscribe"})
READ_SIZE = 65536


class Subscriber:
    """Channels subscribed on one connection of ``pool``; :meth:`read` gives what came."""

    def __init__(self, pool: aioredis.ConnectionPool) -> None:
        self._pool = pool
        self._connection: Any = None
        self._parser: Any = None

    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def connect(self) -> None:
        connection = await self._pool.get_connection()
        self._connection, self._parser = connection, hiredis_reader(connection)

    def subscribe(self, *channels: str) -> None:
        self._command("SUBSCRIBE", channels)

    def unsubscribe(self, *channels: str) -> None:
        self._command("UNSUBSCRIBE", channels)

    def _command(self, name: str, channels: tuple[str, ...]) -> None:
        writer = self._connection._writer if self._connection is not None else None
        if writer is None or writer.is_closing():
            raise RedisConnectionError(f"{name}: the subscription is not connected")
        if channels:
            writer.write(pack((name, *channels)))

    async def read(self) -> list[Message]:
        """The messages that have come (at least one), in order."""
        stream = self._connection._reader if self._connection is not None else None
        if stream is None:
            raise RedisConnectionError("the subscription is not connected")
        messages: list[Message] = []
        while not messages:
            data = await stream.read(READ_SIZE)
            if not data:
                raise RedisConnectionError("Connection closed by server.")
            self._parser.feed(data)
            while (reply := self._parser.gets()) is not NOT_ENOUGH_DATA:
                if isinstance(reply, list) and len(reply) == 3 and reply[0] in _KINDS:
                    kind = reply[0]
                    messages.append({
                        "type": kind.decode() if isinstance(kind, bytes) else kind,
                        "channel": reply[1],
                        "data": reply[2],
                    })
                else:  # an error reply, or something no subscriber asked for
                    logger.debug("subscription: ignored %r", reply)
        return messages

    async def close(self) -> None:
        connection, self._connection, self._parser = self._connection, None, None
        if connection is not None:
            await hand_back(self._pool, connection)
