"""Watch a file and call back when its content changes (config, FAQ hot reload).

Polling the modification time and size once a second is portable, needs no
extra dependency and is plenty for files edited by hand. The content hash
guards against touch-without-change reloads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hub.tasks import stop_tasks

__all__ = ["FileWatcher"]

logger = logging.getLogger(__name__)

OnChange = Callable[[], Awaitable[Any]]


class FileWatcher:
    """Polls ``path`` every ``interval_s`` and awaits ``on_change()`` after an edit.

    Use as an async context manager. ``on_change`` must handle its own errors
    (an invalid edit is the caller's to report); an exception escaping it is
    logged and the watch goes on.
    """

    def __init__(self, path: str | os.PathLike[str], on_change: OnChange, interval_s: float = 1.0):
        self.path = Path(path)
        self.on_change = on_change
        self.interval_s = interval_s
        self._stamp = self._read_stamp()
        self._digest = self._read_digest()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FileWatcher:
        self._task = asyncio.create_task(self._run(), name=f"watch:{self.path.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await stop_tasks([self._task])
        self._task = None

    async def check(self) -> bool:
        """Look once; call back and return True if the content changed."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        digest = self._read_digest()
        if digest == self._digest:
            return False
        self._digest = digest
        try:
            await self.on_change()
        except Exception:
            logger.exception("reloading %s failed", self.path)
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.check()

    def _read_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _read_digest(self) -> str | None:
        try:
            return hashlib.blake2b(self.path.read_bytes(), digest_size=16).hexdigest()
        except OSError:
            return None
