"""A recording channel adapter: what the hub sent, in order (no network)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from hub.envelope import InboundMessage, OutboundMessage
from hub.errors import DeliveryError

__all__ = ["RecordingChannel"]


class RecordingChannel:
    """Implements the Adapter protocol by remembering every call."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.sent: list[OutboundMessage] = []
        self.typing_calls: list[tuple[str, bool]] = []
        self.fail_with: DeliveryError | None = None
        self._arrived = asyncio.Condition()

    def routes(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, message: OutboundMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        async with self._arrived:
            self.sent.append(message)
            self._arrived.notify_all()

    async def typing(self, message: InboundMessage, on: bool) -> None:
        self.typing_calls.append((message.message_id, on))

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.sent]
