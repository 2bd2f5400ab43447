"""Stores: the protocol, its memory and Redis backends, and ``open_store(config)``."""

from __future__ import annotations

from hub.config import StoreConfig
from hub.store.base import RateLimit, Store
from hub.store.keys import Keys
from hub.store.memory import MemoryStore

__all__ = ["Keys", "MemoryStore", "RateLimit", "Store", "open_store"]


def open_store(config: StoreConfig) -> Store:
    """``memory://`` gives a MemoryStore; ``redis://...`` a RedisStore on a blocking pool."""
    if config.url.startswith("memory://"):
        return MemoryStore()
    from hub.store.redis import RedisStore

    return RedisStore.from_url(
        config.url, pool_size=config.pool_size, pool_timeout_s=config.pool_timeout_s
    )
