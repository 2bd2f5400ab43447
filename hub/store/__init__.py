"""Stores: the protocol, its memory and Redis backends, and ``open_store(url)``."""

from __future__ import annotations

from hub.store.base import Store
from hub.store.keys import Keys
from hub.store.memory import MemoryStore

__all__ = ["Keys", "MemoryStore", "Store", "open_store"]


def open_store(url: str) -> Store:
    """``memory://`` gives a MemoryStore; ``redis://...`` a RedisStore."""
    if url.startswith("memory://"):
        return MemoryStore()
    from hub.store.redis import RedisStore

    return RedisStore.from_url(url)
