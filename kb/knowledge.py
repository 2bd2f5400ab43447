"""The knowledge base the hub holds: the FAQ and its trained matcher, hot-reloaded.

Training happens once per load, in a worker thread so the event loop keeps
serving; every message reuses the same :class:`~kb.matcher.Matcher`. An
invalid edit keeps the last good knowledge base and logs each entry and key at
fault.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from contextlib import AsyncExitStack
from pathlib import Path

from hub.config import Config
from hub.errors import ConfigError
from hub.watch import FileWatcher
from kb.faq import Faq, load_faq
from kb.matcher import Matcher, train_matcher

__all__ = ["KnowledgeBase"]

logger = logging.getLogger(__name__)


class KnowledgeBase:
    """Holds the current FAQ and matcher; ``async with`` also watches the file.

    ``await kb.load()`` (or entering the context) raises ConfigError if the
    first load fails; later ``reload()`` calls keep the last good one instead.
    """

    def __init__(self, path: str | os.PathLike[str], *, watch_interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.watch_interval_s = watch_interval_s
        self._matcher: Matcher | None = None
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self.last_error: ConfigError | None = None

    @classmethod
    def from_config(cls, config: Config) -> KnowledgeBase:
        """The knowledge base at ``[kb] path``, relative to the config file."""
        return cls(config.resolve(config.kb.path))

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            raise RuntimeError("the knowledge base is not loaded yet: await load() first")
        return self._matcher

    @property
    def loaded(self) -> bool:
        return self._matcher is not None

    @property
    def faq(self) -> Faq:
        return self.matcher.faq

    async def load(self) -> Matcher:
        """Load and train; raise ConfigError (and keep any previous matcher) if invalid."""
        async with self._lock:
            matcher = await asyncio.to_thread(_build, self.path)
            self._matcher = matcher
            self.last_error = None
        if gc.get_freeze_count():
            # `hub run` froze everything loaded at startup out of the collector's
            # full passes; a matcher trained later (an FAQ edit, a new [kb] path)
            # gets the same treatment (~100k objects).
            gc.freeze()
        return matcher

    async def reload(self) -> bool:
        """Load again after an edit; on error log the faults and keep the last good KB."""
        try:
            await self.load()
        except ConfigError as exc:
            self.last_error = exc
            for problem in exc.problems:
                logger.error("FAQ not reloaded, keeping the last good one: %s", problem)
            return False
        logger.info("FAQ reloaded from %s: %d entries", self.path, len(self.faq))
        return True

    async def __aenter__(self) -> KnowledgeBase:
        if not self.loaded:
            await self.load()
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(FileWatcher(self.path, self.reload, self.watch_interval_s))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None


def _build(path: Path) -> Matcher:
    return train_matcher(load_faq(path))
