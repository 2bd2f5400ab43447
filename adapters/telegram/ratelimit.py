"""Send pacing under Telegram's limits: about 1 message/s per chat, 30/s overall.

:class:`SendPacer` hands out send slots. ``delay(chat)`` reserves the next slot
for a chat and returns how long to wait for it; the reservation is made
synchronously, so callers that take slots in order are sent in order.
``sent(chat)`` spaces the chat's next slot from the moment a send finished (so
the spacing holds at Telegram's end even when a request was slow), and
``back_off(chat, seconds)`` honours a 429's ``retry_after``: Telegram does not
say which limit was hit, so the whole bot pauses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["SendPacer"]

Clock = Callable[[], float]
PRUNE_AT = 10_000


class SendPacer:
    """Per-chat and global minimum spacing between sends."""

    def __init__(self, per_chat_per_s: float, global_per_s: float, clock: Clock = time.monotonic) -> None:
        self.chat_gap = 1.0 / per_chat_per_s
        self.global_gap = 1.0 / global_per_s
        self._clock = clock
        self._global_next = 0.0
        self._chat_next: dict[str, float] = {}

    def delay(self, chat: str) -> float:
        """Reserve ``chat``'s next slot; seconds to wait before sending (>= 0)."""
        now = self._clock()
        slot = max(now, self._global_next, self._chat_next.get(chat, 0.0))
        self._global_next = slot + self.global_gap
        self._chat_next[chat] = slot + self.chat_gap
        self._prune(now)
        return slot - now

    async def wait(self, chat: str) -> None:
        delay = self.delay(chat)
        if delay > 0:
            await asyncio.sleep(delay)

    def sent(self, chat: str) -> None:
        """A send to ``chat`` just finished: its next one is a full gap from now."""
        after = self._clock() + self.chat_gap
        self._chat_next[chat] = max(self._chat_next.get(chat, 0.0), after)

    def back_off(self, chat: str, seconds: float) -> None:
        """Telegram said "retry after ``seconds``": hold every send until then."""
        until = self._clock() + seconds
        self._global_next = max(self._global_next, until)
        self._chat_next[chat] = max(self._chat_next.get(chat, 0.0), until)

    def _prune(self, now: float) -> None:
        if len(self._chat_next) > PRUNE_AT:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
