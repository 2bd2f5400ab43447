"""What ``hub status`` shows: the processes on one Redis, their partitions, lag, dead letters."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from hub.config import Config
from hub.ingress.redis import RedisLog

__all__ = ["ClusterStatus", "ProcessStatus", "cluster_status", "needs_redis"]


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    id: str
    pid: int
    host: str
    url: str
    partitions: int
    heartbeat_age_s: float
    alive: bool


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    processes: list[ProcessStatus]
    partitions: int
    unowned: list[int]
    lag: int
    pending: int
    dead_letters: int
    recent_dead_letters: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def cluster_status(config: Config) -> ClusterStatus:
    """Read the cluster's state from the Redis in ``[store] url`` (raises StoreUnavailable)."""
    from hub.store.redis import RedisStore, redis_errors

    store = RedisStore.from_url(config.store.url, pool_size=4)
    keys, partitions = store.keys, config.cluster.partitions
    try:
        async with redis_errors("status"):
            beats = await store.redis.hgetall(keys.processes())
            holders = await store.redis.mget([keys.lease(p) for p in range(partitions)])
        log = RedisLog(store.redis, "status", partitions=partitions, keys=keys)
        stats = await log.stats()
        letters = await log.dead_letters(limit=5)
    finally:
        await store.close()
    return ClusterStatus(
        processes=_processes(beats, holders, config.cluster.lease_s),
        partitions=partitions,
        unowned=[p for p, holder in enumerate(holders) if not holder],
        lag=stats.lag,
        pending=stats.pending,
        dead_letters=stats.dead_letters,
        recent_dead_letters=[
            {"address": d.address, "reason": d.reason, "at": d.at} for d in letters
        ],
    )


def _processes(
    beats: dict[str, str], holders: list[str | None], lease_s: float
) -> list[ProcessStatus]:
    owned: dict[str, int] = {}
    for holder in holders:
        if holder:
            owner = holder.rsplit(":", 1)[0]
            owned[owner] = owned.get(owner, 0) + 1
    now = time.time()
    found = []
    for process_id, raw in sorted(beats.items()):
        beat = json.loads(raw)
        age = now - float(beat.get("at", 0))
        found.append(ProcessStatus(
            id=process_id,
            pid=int(beat.get("pid", 0)),
            host=str(beat.get("host", "")),
            url=str(beat.get("url", "")),
            partitions=owned.get(process_id, 0),
            heartbeat_age_s=round(age, 1),
            alive=age <= lease_s,
        ))
    return found


def needs_redis(config: Config) -> str | None:
    """Why ``config`` cannot be a cluster (a message naming the key), or None."""
    if config.store.url.startswith("memory://"):
        return (
            f"{config.source or 'config'}: store.url: a cluster needs a shared Redis "
            '(store.url = "redis://host:6379/0"); memory:// is one process'
        )
    return None
