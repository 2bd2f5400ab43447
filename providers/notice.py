"""The "still working on it" notice: at most one per turn, whatever prompted it.

Two things can prompt it: the question waited ``[llm] queue_notice_s`` in a
tier's queue (:mod:`providers.gate`), or its answer has been pending
``[llm] still_working_s`` (queue, call, escalation together). Whichever comes
first sends ``[messages] still_working``; the other finds it sent. Once the
answer has started to stream to the customer, no notice is sent at all: they
can see the answer coming.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["StillWorking"]


class StillWorking:
    """One turn's notice; ``send`` is None when nothing may be sent (dry runs)."""

    def __init__(self, send: Callable[[], Awaitable[None]] | None) -> None:
        self._send = send
        self.sent = False
        self.answering = False  # the answer has started to stream

    async def tell(self) -> None:
        if self._send is None or self.sent or self.answering:
            return
        self.sent = True
        await self._send()

    @contextlib.asynccontextmanager
    async def after(self, seconds: float) -> AsyncIterator[None]:
        """Send the notice if the body is still running after ``seconds``."""
        if self._send is None:
            yield
            return
        timer = asyncio.create_task(self._later(seconds), name="llm-still-working")
        try:
            yield
        finally:
            if not self.sent:
                timer.cancel()
            await asyncio.gather(timer, return_exceptions=True)  # a notice being sent finishes

    async def _later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.tell()
