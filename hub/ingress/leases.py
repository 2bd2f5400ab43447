"""Who owns which partition: leases that a live process renews.

:class:`LocalLeases` (one process, ``memory://``) owns every partition.
:class:`RedisLeases` shares the partitions among the live hub processes on one
Redis. Each partition's lease is a redis-py :class:`~redis.asyncio.lock.Lock`
(it checks its owner token on extend and release), whose token carries a
generation counted up at every acquisition: the fence a reply is committed
under. A process that dies stops renewing; its leases expire within
``lease_s`` and the others take the partitions over, fair shares each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol

from redis import asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from hub.ingress.work import Fence
from hub.store.keys import Keys
from hub.tasks import stop_tasks

__all__ = [
    "Leader",
    "Leases",
    "LocalLeader",
    "LocalLeases",
    "ProcessInfo",
    "RedisLeader",
    "RedisLeases",
    "new_process_id",
]

logger = logging.getLogger(__name__)

Acquired = Callable[[int, Fence], Awaitable[None]]
Lost = Callable[[int], Awaitable[None]]
Releasable = Callable[[int], bool]
RELEASE_TIMEOUT_S = 2.0


def new_process_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


@dataclass(slots=True)
class ProcessInfo:
    """What a hub process says about itself in the cluster's heartbeat hash."""

    id: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    url: str = ""
    started: float = field(default_factory=time.time)

    def beat(self, partitions: list[int]) -> str:
        return json.dumps({
            "id": self.id, "pid": self.pid, "host": self.host, "url": self.url,
            "started": self.started, "at": time.time(), "partitions": partitions,
        })


class Leases(Protocol):
    """The partitions this process may work on, and the fence for each."""

    partitions: int

    def fence(self, partition: int) -> Fence | None: ...

    def owned(self) -> frozenset[int]: ...

    def leader(self, role: str) -> Leader:
        """A cluster-wide role (``telegram-poll``) that one process plays at a time."""
        ...

    async def start(self, on_acquired: Acquired, on_lost: Lost, releasable: Releasable) -> None: ...

    async def stop(self) -> None:
        """Release every lease, so the other processes take over at once."""
        ...


class LocalLeases:
    """One process owns everything, for good (generation 1)."""

    def __init__(self, partitions: int = 64) -> None:
        self.partitions = partitions
        self._fences = {p: Fence(p, "local", 1) for p in range(partitions)}
        self._owned = frozenset(self._fences)

    def fence(self, partition: int) -> Fence | None:
        return self._fences.get(partition)

    def owned(self) -> frozenset[int]:
        return self._owned

    def leader(self, role: str) -> Leader:
        return LocalLeader()

    async def start(self, on_acquired: Acquired, on_lost: Lost, releasable: Releasable) -> None:
        for partition, fence in self._fences.items():
            await on_acquired(partition, fence)

    async def stop(self) -> None:
        return None


class RedisLeases:
    """Partition leases among the live processes; renewed every ``lease_s / 3``."""

    def __init__(
        self,
        redis: aioredis.Redis,
        process: ProcessInfo,
        *,
        partitions: int = 64,
        lease_s: float = 10.0,
        keys: Keys | None = None,
        on_change: Callable[[str, int], None] | None = None,
    ) -> None:
        self.redis = redis
        self.process = process
        self.partitions = partitions
        self.lease_s = lease_s
        self.keys = keys or Keys()
        self._on_change = on_change or (lambda kind, partition: None)
        self._locks: dict[int, tuple[Lock, Fence]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._callbacks: tuple[Acquired, Lost, Releasable] | None = None
        self.renew_every_s = max(lease_s / 3, 0.05)
        self.look_every_s = min(1.0, self.renew_every_s)

    def fence(self, partition: int) -> Fence | None:
        held = self._locks.get(partition)
        return held[1] if held is not None else None

    def owned(self) -> frozenset[int]:
        return frozenset(self._locks)

    def leader(self, role: str) -> Leader:
        return RedisLeader(self.redis, self.keys.leader(role), self.process.id, self.lease_s)

    async def start(self, on_acquired: Acquired, on_lost: Lost, releasable: Releasable) -> None:
        self._callbacks = (on_acquired, on_lost, releasable)
        with suppress(RedisError, OSError):
            await self._balance()
        self._tasks = [
            asyncio.create_task(self._renew_forever(), name="partition-leases-renew"),
            asyncio.create_task(self._balance_forever(), name="partition-leases-balance"),
        ]

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []
        try:  # bounded: with Redis gone, the leases simply expire instead
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                await asyncio.gather(*(self._release(p) for p in list(self._locks)))
                await self.redis.hdel(self.keys.processes(), self.process.id)
        except (TimeoutError, RedisError, OSError) as exc:
            logger.warning("leases not released (%s); they expire within %.0f s",
                           type(exc).__name__, self.lease_s)
            self._locks.clear()

    # -- the loops -----------------------------------------------------------------
    async def _renew_forever(self) -> None:
        """Renewals run on their own, so a slow takeover never lets a lease lapse."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                await self._renew()
                renewed = time.monotonic()
            except (RedisError, OSError) as exc:
                logger.warning("partition leases: redis unavailable (%s)", type(exc).__name__)
                if time.monotonic() - renewed >= self.lease_s:  # they have lapsed by now
                    await self._lose_all("redis unavailable for a whole lease")
            except Exception:
                logger.exception("partition lease renewal failed")

    async def _balance_forever(self) -> None:
        while True:
            await asyncio.sleep(self.look_every_s)
            try:
                await self._balance()
            except (RedisError, OSError) as exc:
                logger.debug("partition balance skipped: redis unavailable (%s)", exc)
            except Exception:
                logger.exception("partition balance round failed")

    async def _balance(self) -> None:
        """Heartbeat, then move towards a fair share of the partitions."""
        alive = await self._heartbeat()
        target = math.ceil(self.partitions / max(alive, 1))
        if len(self._locks) < target:
            await self._acquire(target - len(self._locks))
        elif len(self._locks) > target:
            await self._shed(len(self._locks) - target)

    async def _heartbeat(self) -> int:
        """Say this process is alive; count the live ones (forgetting the long dead)."""
        key = self.keys.processes()
        await self.redis.hset(key, self.process.id, self.process.beat(sorted(self._locks)))
        now = time.time()
        alive = 0
        for pid, raw in (await self.redis.hgetall(key)).items():
            age = now - float(json.loads(raw).get("at", 0))
            if age <= self.lease_s:
                alive += 1
            elif age > 3 * self.lease_s:
                await self.redis.hdel(key, pid)
        return alive

    async def _renew(self) -> None:
        held = list(self._locks.items())
        results = await asyncio.gather(
            *(lock.reacquire() for _, (lock, _) in held), return_exceptions=True
        )
        for (partition, _), result in zip(held, results, strict=True):
            if isinstance(result, LockError):
                await self._lose(partition, "its lease expired")
            elif isinstance(result, BaseException):
                raise result

    async def _acquire(self, wanted: int) -> None:
        assert self._callbacks is not None
        on_acquired = self._callbacks[0]
        free = await self._free_partitions()
        random.shuffle(free)
        deadline = time.monotonic() + self.renew_every_s  # leave time for the next look
        for partition in free[:wanted]:
            if time.monotonic() > deadline:
                break
            generation = int(await self.redis.incr(self.keys.lease_generation(partition)))
            token = f"{self.process.id}:{generation}"
            lock = Lock(
                self.redis, self.keys.lease(partition), timeout=self.lease_s,
                blocking=False, thread_local=False,
            )
            if not await lock.acquire(token=token):
                continue
            fence = Fence(partition, token, generation)
            started = time.monotonic()
            await on_acquired(partition, fence)  # takes back the old owner's pending work
            self._locks[partition] = (lock, fence)
            self._on_change("acquired", partition)
            logger.info(
                "partition %d acquired (generation %d) in %.0f ms",
                partition, generation, (time.monotonic() - started) * 1000,
            )

    async def _free_partitions(self) -> list[int]:
        candidates = [p for p in range(self.partitions) if p not in self._locks]
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in candidates:
                pipe.exists(self.keys.lease(partition))
            taken = await pipe.execute()
        return [p for p, exists in zip(candidates, taken, strict=True) if not exists]

    async def _shed(self, surplus: int) -> None:
        """Give partitions beyond the fair share back, idle ones only."""
        assert self._callbacks is not None
        releasable = self._callbacks[2]
        for partition in sorted(self._locks, reverse=True):
            if surplus <= 0:
                break
            if releasable(partition):
                await self._release(partition)
                surplus -= 1

    async def _release(self, partition: int) -> None:
        held = self._locks.pop(partition, None)
        if held is None:
            return
        with suppress(LockError, RedisError, OSError):
            await held[0].release()
        self._on_change("released", partition)
        logger.info("partition %d released", partition)

    async def _lose(self, partition: int, why: str) -> None:
        assert self._callbacks is not None
        if self._locks.pop(partition, None) is None:
            return
        self._on_change("lost", partition)
        logger.warning("partition %d lost: %s", partition, why)
        await self._callbacks[1](partition)

    async def _lose_all(self, why: str) -> None:
        for partition in list(self._locks):
            await self._lose(partition, why)


# -- one holder for the whole cluster ------------------------------------------------
class Leader(Protocol):
    """A role only one process plays at a time (Telegram polling)."""

    @property
    def leading(self) -> bool: ...

    async def wait_elected(self) -> None: ...

    async def wait_deposed(self) -> None:
        """Returns the moment this process stops leading (a renewal failed)."""
        ...

    async def stop(self) -> None: ...


class LocalLeader:
    """With one process, it is always the leader."""

    leading = True

    async def wait_elected(self) -> None:
        return None

    async def wait_deposed(self) -> None:
        await asyncio.Event().wait()  # never

    async def stop(self) -> None:
        return None


class RedisLeader:
    """A single-holder lease (a redis-py Lock), renewed every ``lease_s / 3``.

    ``leading`` turns False the moment a renewal fails, so the holder stops
    doing the role's work before anyone else can start it.
    """

    def __init__(self, redis: aioredis.Redis, key: str, holder: str, lease_s: float = 10.0) -> None:
        self.lock = Lock(redis, key, timeout=lease_s, blocking=False, thread_local=False)
        self.holder = holder
        self.lease_s = lease_s
        self._leading = asyncio.Event()
        self._deposed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    async def wait_elected(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._campaign(), name=f"leader:{self.lock.name}")
        await self._leading.wait()

    async def _campaign(self) -> None:
        while True:
            try:
                if self.leading:
                    await self.lock.reacquire()
                elif await self.lock.acquire(token=self.holder):
                    logger.info("%s: this process leads", self.lock.name)
                    self._deposed.clear()
                    self._leading.set()
            except (LockError, RedisError, OSError) as exc:
                if self.leading:
                    logger.warning("%s: lease lost (%s)", self.lock.name, type(exc).__name__)
                    self._deposed.set()
                self._leading.clear()
            await asyncio.sleep(self.lease_s / 3 if self.leading else min(1.0, self.lease_s / 3))

    async def wait_deposed(self) -> None:
        await self._deposed.wait()

    async def stop(self) -> None:
        await stop_tasks([self._task])
        if self.leading:
            self._leading.clear()
            self._deposed.set()
            with suppress(LockError, RedisError, OSError):
                await self.lock.release()
