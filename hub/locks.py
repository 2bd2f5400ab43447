"""One asyncio lock per key (a conversation, a chat), forgotten when nobody needs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["KeyedLocks"]


class KeyedLocks:
    """``async with locks.hold(key)`` serialises work per key.

    A lock is dropped when its last holder or waiter leaves, so memory follows
    the number of busy keys, not every key ever seen. The count of users (not
    ``Lock.locked()``) decides: a woken waiter has not re-locked yet when the
    holder leaves, and dropping the lock then would let a newcomer run beside it.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
