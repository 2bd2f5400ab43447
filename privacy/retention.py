"""``[privacy] retention_days``: conversations idle that long are deleted entirely.

A transcript already expires ``retention_days`` after its newest line (its TTL);
:func:`sweep` also forgets the conversation itself, its index entry, ratings,
escalation and flow state (``Store.expire_conversations``: conversations whose
``last_at`` is older). :class:`RetentionSweeper` runs it at start and then every
``SWEEP_EVERY_S`` while the hub runs (each process; the deletes are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from hub.config import Config
from hub.errors import StoreError
from hub.store import Store

__all__ = ["SWEEP_EVERY_S", "RetentionSweeper", "sweep"]

logger = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600.0


async def sweep(store: Store, config: Config, now: float | None = None) -> list[str]:
    """Forget the conversations past retention; their ids (none without retention)."""
    retention = config.privacy.retention_s
    if retention is None:
        return []
    now = time.time() if now is None else now
    gone = await store.expire_conversations(older_than=now - retention)
    if gone:
        logger.info("retention: %d conversations older than %g days deleted",
                    len(gone), config.privacy.retention_days)
    return gone


class RetentionSweeper:
    """The background sweep, as an async context manager (stopped on exit)."""

    def __init__(self, store: Store, config: Callable[[], Config], every_s: float = SWEEP_EVERY_S) -> None:
        self.store = store
        self.config = config  # the hub's config as of now (hot reloads included)
        self.every_s = every_s
        self.swept = asyncio.Event()  # set after each sweep (tests, health)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._forever(), name="privacy-retention")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forever(self) -> None:
        while True:
            try:
                await sweep(self.store, self.config())
            except StoreError as exc:  # the store is down: try again next time
                logger.warning("retention sweep skipped: %s", exc)
            self.swept.set()
            await asyncio.sleep(self.every_s)
