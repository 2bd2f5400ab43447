"""Stopping background tasks, bounded, even when a library swallows the cancellation.

A background loop (a lease renewer, a stream reader) is stopped by cancelling it.
The cancellation can be lost: a library that waits under its own timeout (redis-py's
``BlockingConnectionPool`` is one) may turn the ``CancelledError`` into its own error
when both fire at once, and the loop's ``except RedisError: continue`` carries on. A
plain ``task.cancel(); await task`` then waits forever, and so does shutdown.

:func:`stop_tasks` cancels again until the tasks end, and gives up after
``timeout_s`` with a log line naming them, so shutdown always finishes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

logger = logging.getLogger(__name__)

RECANCEL_EVERY_S = 0.1


async def stop_tasks(tasks: Iterable[asyncio.Task[object] | None], timeout_s: float = 2.0) -> bool:
    """Cancel ``tasks`` until they end, for at most ``timeout_s``; True if all ended."""
    loop = asyncio.get_running_loop()
    pending = {task for task in tasks if task is not None and not task.done()}
    deadline = loop.time() + timeout_s
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            names = ", ".join(sorted(task.get_name() for task in pending))
            logger.warning("%d task(s) did not stop within %.1f s: %s",
                           len(pending), timeout_s, names)
            return False
        for task in pending:
            task.cancel()  # again, if an earlier cancellation was swallowed
        done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, left))
        for task in done:
            _log_failure(task)
    return True


def _log_failure(task: asyncio.Task[object]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("task %s failed while stopping", task.get_name(), exc_info=exc)
