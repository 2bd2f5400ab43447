"""Logging setup: every record carries the conversation it belongs to."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable

__all__ = ["add_scrubber", "conversation_scope", "setup_logging"]

_conversation: contextvars.ContextVar[str] = contextvars.ContextVar("conversation", default="-")
_scrubbers: list[Callable[[str], str]] = []

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(conversation)s] %(message)s"


class conversation_scope:  # noqa: N801 - used like a function, as contextlib's are
    """Tag log records emitted inside the block with ``conversation_id``.

    A class rather than ``@contextmanager``: it runs once per message, and a
    generator-based context manager costs several times more.
    """

    __slots__ = ("_id", "_token")

    def __init__(self, conversation_id: str) -> None:
        self._id = conversation_id

    def __enter__(self) -> None:
        self._token = _conversation.set(self._id)

    def __exit__(self, *exc_info: object) -> None:
        _conversation.reset(self._token)


def add_scrubber(scrub: Callable[[str], str]) -> None:
    """Register a function that removes personal data from log messages."""
    if scrub not in _scrubbers:
        _scrubbers.append(scrub)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        if _scrubbers:
            message = record.getMessage()
            for scrub in _scrubbers:
                message = scrub(message)
            record.msg, record.args = message, None
        return True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger; called only by the CLI entry point."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "LiteLLM", "httpx", "litellm"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
