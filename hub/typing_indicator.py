"""The typing indicator, shown only when an answer takes a noticeable time."""

from __future__ import annotations

import asyncio
import logging

from hub.adapter import Adapter
from hub.envelope import InboundMessage

__all__ = ["TypingIndicator"]

logger = logging.getLogger(__name__)


class TypingIndicator:
    """Shows "typing" after ``delay_s`` unless the work is done first.

    Instant answers (rules, the FAQ) then cost no extra platform call and the
    page does not flicker; slow ones (the LLM) show the typing state.
    """

    def __init__(self, adapter: Adapter | None, message: InboundMessage, delay_s: float) -> None:
        self.adapter = adapter
        self.message = message
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if adapter is None:
            return
        if delay_s <= 0:
            self._show()
        else:
            self._timer = asyncio.get_running_loop().call_later(delay_s, self._show)

    def _show(self) -> None:
        self._task = asyncio.create_task(self._typing(True))

    async def _typing(self, on: bool) -> None:
        assert self.adapter is not None
        try:
            await self.adapter.typing(self.message, on)
        except Exception as exc:  # a typing hint must never cost the customer's message
            logger.info("typing indicator failed on %s: %s", self.message.channel, exc)

    async def stop(self, replied: bool) -> None:
        """Cancel or finish the indicator; clear it when no reply will replace it."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is None:
            return
        await self._task
        if not replied:
            await self._typing(False)
