"""Choosing the ingress for a store: in memory for ``memory://``, Redis Streams for Redis."""

from __future__ import annotations

from collections.abc import Callable

from hub.config import Config
from hub.ingress.leases import Leases, LocalLeases, ProcessInfo, RedisLeases
from hub.ingress.log import IngressLog
from hub.ingress.memory import MemoryLog
from hub.store import Store

__all__ = ["open_ingress"]


async def open_ingress(
    config: Config,
    store: Store,
    process: ProcessInfo,
    on_lease_change: Callable[[str, int], None] | None = None,
) -> tuple[IngressLog, Leases]:
    """The log and leases that go with ``store``: shared through Redis, or local."""
    cluster = config.cluster
    from hub.store.redis import RedisStore

    if not isinstance(store, RedisStore):
        return MemoryLog(cluster.partitions), LocalLeases(cluster.partitions)
    from hub.ingress.redis import RedisLog

    log = RedisLog(store.redis, process.id, partitions=cluster.partitions, keys=store.keys)
    await log.create_groups()
    leases = RedisLeases(
        store.redis,
        process,
        partitions=cluster.partitions,
        lease_s=cluster.lease_s,
        keys=store.keys,
        on_change=on_lease_change,
    )
    return log, leases
