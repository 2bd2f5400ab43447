"""Logging setup: every record carries the conversation it belongs to.

Two formats (``[log] format``): ``text``, one readable line, and ``json``, one
JSON object a line for a log shipper (time, level, logger, message, and when
known the conversation's hashed address, its channel, the stage and the
latency). Both see the same scrubbed message.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["LIBRARY_LOGGERS", "JsonFormatter", "add_scrubber", "conversation_scope",
           "log_address", "log_handler", "setup_logging", "stage_scope", "tame_library_loggers"]

_NOWHERE = ("-", "")
_conversation: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "conversation", default=_NOWHERE
)
_stage: contextvars.ContextVar[str] = contextvars.ContextVar("stage", default="")
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

    __slots__ = ("_where", "_token")

    def __init__(self, address: str) -> None:
        hashed = log_address(address)
        self._where = (hashed, hashed.partition(":")[0])

    def __enter__(self) -> None:
        self._token = _conversation.set(self._where)

    def __exit__(self, *exc_info: object) -> None:
        _conversation.reset(self._token)


class stage_scope:  # noqa: N801 - used like a function, as contextlib's are
    """Tag log records emitted inside the block with the stage that runs."""

    __slots__ = ("_name", "_token")

    def __init__(self, name: str) -> None:
        self._name = name

    def __enter__(self) -> None:
        self._token = _stage.set(self._name)

    def __exit__(self, *exc_info: object) -> None:
        _stage.reset(self._token)


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
    """Stamp the record with where it happened (a caller's ``extra`` wins), then scrub."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation, channel = _conversation.get()
        if channel and not hasattr(record, "channel"):
            record.channel = channel
        stage = _stage.get()
        if stage and not hasattr(record, "stage"):
            record.stage = stage
        _scrub_record(record)
        return True


# What a JSON line carries besides time, level, logger and message, when the record has it.
_CONTEXT_FIELDS = ("conversation", "channel", "stage", "latency_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601, ms), ``level``, ``logger``,
    ``message``, then whichever of ``conversation`` (hashed, as :func:`log_address`),
    ``channel``, ``stage``, ``latency_ms`` and ``exception`` are known."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value not in (None, "", "-"):
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def _iso_time(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


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


def log_handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``fmt`` ("text" or "json") lines, scrubbed and tagged with the
    conversation, to ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    handler.addFilter(_ContextFilter())
    return handler


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger (``fmt``: "text" or "json"); called only by the CLI."""
    handler = log_handler(fmt)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    tame_library_loggers()
