"""The help center the hub holds: the current document index, rebuilt when a file changes.

``async with DocumentLibrary(sources):`` builds (or loads from the cache) the
index once, then polls the globs every ``watch_interval_s``: a new, changed or
deleted file triggers an incremental rebuild in a worker thread. Until the new
index is ready, and if building it fails, the last good one keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from pathlib import Path

from hub.config import Config
from hub.tasks import stop_tasks
from kb.documents.index import DocumentIndex
from kb.documents.ingest import Sources, build_index, find_files
from kb.documents.retrieval import Retrieval, Retriever

__all__ = ["CACHE_FOLDER", "DocumentLibrary", "sources_from_config"]

logger = logging.getLogger(__name__)

# Beside the FAQ file: <folder of [kb] path>/.cache/documents/
CACHE_FOLDER = Path(".cache") / "documents"


def sources_from_config(config: Config, *, cache: bool = True) -> Sources:
    """The document sources ``[kb] documents`` names, relative to the config file."""
    root = config.resolve(".")
    cache_dir = config.resolve(config.kb.path).parent / CACHE_FOLDER if cache else None
    return Sources(tuple(config.kb.documents), root, config.kb.documents_base_url, cache_dir)


class DocumentLibrary:
    """Holds a :class:`Retriever` over the current index; ``search`` is what the stage calls."""

    def __init__(self, sources: Sources, *, watch_interval_s: float = 2.0) -> None:
        self.sources = sources
        self.watch_interval_s = watch_interval_s
        self._retriever: Retriever | None = None
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.built_at = 0.0
        self.build_s = 0.0
        self.last_error: str | None = None

    @property
    def loaded(self) -> bool:
        return self._retriever is not None

    @property
    def index(self) -> DocumentIndex:
        if self._retriever is None:
            raise RuntimeError("the documents are not indexed yet: await load() first")
        return self._retriever.index

    def search(self, text: str, k: int = 5) -> Retrieval:
        if self._retriever is None:
            return Retrieval(())
        return self._retriever.search(text, k)

    async def load(self) -> bool:
        """Index what the globs match now; on an unexpected failure keep the last good index."""
        async with self._lock:
            signature = await asyncio.to_thread(self._scan)
            previous = self._retriever.index if self._retriever else None
            started = time.perf_counter()
            try:
                index = await asyncio.to_thread(build_index, self.sources, previous)
                retriever = Retriever(index)
            except Exception as exc:  # a bug or a full disk must not take the old index down
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("documents not re-indexed, keeping the last good index")
                return False
            self._retriever = retriever
            self._signature = signature
            self.build_s = time.perf_counter() - started
            self.built_at = time.time()
            self.last_error = None
        logger.info(
            "documents indexed: %d files, %d chunks, %d skipped, in %.2f s",
            len(index.files), len(index), len(index.skipped), self.build_s,
        )
        return True

    async def refresh(self) -> bool:
        """Re-index if any matched file was added, changed or deleted; True if it did."""
        signature = await asyncio.to_thread(self._scan)
        if signature == self._signature:
            return False
        return await self.load()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for path in find_files(self.sources.patterns, self.sources.root):
            with suppress(OSError):
                st = path.stat()
                out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    async def __aenter__(self) -> DocumentLibrary:
        if not self.loaded:
            await self.load()
        self._task = asyncio.create_task(self._watch(), name="watch:documents")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await stop_tasks([self._task])
        self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval_s)
            try:
                await self.refresh()
            except Exception:
                logger.exception("watching the documents failed; retrying")
