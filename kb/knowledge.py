"""The knowledge base the hub holds: the FAQ and its trained matcher, hot-reloaded.

One FAQ file per language: ``[kb] path`` (``kb/faq.toml``) holds the entries in
``[languages] default``, and ``faq.<lang>.toml`` beside it those in another
supported language (``kb/faq.zh.toml``); each gets its own matcher, trained the
way its language is read (:mod:`kb.segment`). A language file may appear, change
or go away while the hub runs: every candidate path is watched.

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

__all__ = ["KnowledgeBase", "language_path"]

logger = logging.getLogger(__name__)


class KnowledgeBase:
    """Holds the current FAQ and matcher; ``async with`` also watches the file.

    ``await kb.load()`` (or entering the context) raises ConfigError if the
    first load fails; later ``reload()`` calls keep the last good one instead.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, watch_interval_s: float = 1.0,
        languages: tuple[str, ...] = (), default: str = "en",
    ) -> None:
        self.path = Path(path)
        self.watch_interval_s = watch_interval_s
        self.default = default
        self.languages = tuple(lang for lang in languages if lang != default)
        self._matcher: Matcher | None = None
        self._by_language: dict[str, Matcher] = {}
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self.last_error: ConfigError | None = None

    @classmethod
    def from_config(cls, config: Config) -> KnowledgeBase:
        """The knowledge base at ``[kb] path``, relative to the config file, and its language files."""
        languages = config.languages
        return cls(config.resolve(config.kb.path), languages=languages.supported, default=languages.default)

    @property
    def paths(self) -> dict[str, Path]:
        """The file each language's entries are read from (it may not exist)."""
        return {self.default: self.path, **{lang: language_path(self.path, lang) for lang in self.languages}}

    def matcher_for(self, language: str) -> Matcher | None:
        """The matcher of the FAQ written in ``language``, or None if there is no such FAQ."""
        if self._matcher is None:
            return None
        return self._by_language.get(language) or self._by_language.get(language.split("-")[0])

    @property
    def matchers(self) -> dict[str, Matcher]:
        """Every loaded language's matcher, the default language first."""
        return dict(self._by_language)

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
            matchers = await asyncio.to_thread(_build, self.paths, self.default)
            self._by_language = matchers
            self._matcher = matcher = matchers[self.default]
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
        for lang, matcher in self._by_language.items():
            logger.info("FAQ (%s) reloaded from %s: %d entries", lang, matcher.faq.source, len(matcher.faq))
        return True

    async def __aenter__(self) -> KnowledgeBase:
        if not self.loaded:
            await self.load()
        async with AsyncExitStack() as stack:
            for path in self.paths.values():
                await stack.enter_async_context(FileWatcher(path, self.reload, self.watch_interval_s))
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None


def language_path(path: Path, language: str) -> Path:
    """Where the entries in ``language`` live next to the default FAQ: ``faq.toml`` -> ``faq.zh.toml``."""
    return path.with_name(f"{path.stem}.{language}{path.suffix}")


def _build(paths: dict[str, Path], default: str) -> dict[str, Matcher]:
    """One matcher per language file that exists (the default language's must)."""
    matchers: dict[str, Matcher] = {}
    for lang, path in paths.items():
        if lang != default and not path.is_file():
            continue
        faq = load_faq(path)
        # A file says its language (`language = "zh"`), or its name does.
        language = faq.language or lang
        matchers[language] = train_matcher(faq, language=language)
    if default not in matchers:  # the default file declared another language
        matchers[default] = next(iter(matchers.values()))
    return matchers
