"""Logging setup: every record carries the conversation it belongs to."""

from __future__ import annotations

import contextvars
import hashlib
import logging
from collections.abc import Callable

__all__ = ["LIBRARY_LOGGERS", "add_scrubber", "conversation_scope", "log_address",
           "setup_logging", "tame_library_loggers"]

_conversation: contextvars.ContextVar[str] = contextvars.ContextVar("conversation", default="-")
_scrubbers: list[Callable[[str], str]] = []

FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(conversation)s] %(message)s"


def log_address(address: str) -> str:
    """What logs show of a channel address: the channel and 8 hex digits of the SHA-256
    of the conversation id (``webchat:3f9a0c1d``), never the id itself. A webchat id
    is its session, a bearer secret; a Telegram chat id is a person."""
    channel, colon, conversation_id = address.partition(":")
    if not colon:
        channel, conversation_id = "?", address
    return f"{channel}:{hashlib.sha256(conversation_id.encode()).hexdigest()[:8]}"


class conversation_scope:  # noqa: N801 - used like a function, as contextlib's are
    """Tag log records emitted inside the block with the conversation's address, in the
    short hashed form of :func:`log_address`.

    A class rather than ``@contextmanager``: it runs once per message, and a
    generator-based context manager costs several times more.
    """

    __slots__ = ("_id", "_token")

    def __init__(self, address: str) -> None:
        self._id = log_address(address)

    def __enter__(self) -> None:
        self._token = _conversation.set(self._id)

    def __exit__(self, *exc_info: object) -> None:
        _conversation.reset(self._token)


def add_scrubber(scrub: Callable[[str], str]) -> None:
    """Register a function that removes personal data from log messages."""
    if scrub not in _scrubbers:
        _scrubbers.append(scrub)


def _scrub_record(record: logging.LogRecord) -> None:
    """Scrub the message and any traceback text (an exception's text may carry a body)."""
    if not _scrubbers or getattr(record, "scrubbed", False):
        return
    message = record.getMessage()
    for scrub in _scrubbers:
        message = scrub(message)
    record.msg, record.args = message, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        text = record.exc_text
        for scrub in _scrubbers:
            text = scrub(text)
        record.exc_text = text
    record.scrubbed = True


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation = _conversation.get()
        _scrub_record(record)
        return True


class _ScrubFilter(logging.Filter):
    """On a library's own logger: runs before any handler sees the record, caplog's,
    the hub's or one the library attached itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub_record(record)
        return True


# The loggers litellm writes on (and the HTTP clients under it). A provider's error
# body, a prompt, a request dump can reach any of them.
LIBRARY_LOGGERS = (
    "LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "openai", "httpx", "httpcore",
)
_SCRUB_FILTER = _ScrubFilter()


def tame_library_loggers() -> None:
    """litellm's loggers: WARNING and up only, scrubbed, and written by the hub's handler.

    litellm attaches a stream handler of its own to its loggers when it is
    imported, so each of its lines was written twice (once unscrubbed) and its
    INFO/DEBUG lines dump prompts and request bodies. Below WARNING they are
    dropped; what remains goes through :func:`add_scrubber`'s functions on the
    logger itself, before any handler, and then only to the hub's handlers.
    Idempotent; called again once litellm is imported (its handlers come then).
    """
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.setLevel(logging.WARNING)
        if _SCRUB_FILTER not in library.filters:
            library.addFilter(_SCRUB_FILTER)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        library.propagate = True


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger; called only by the CLI entry point."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    tame_library_loggers()
