"""Client frames at the boundary: parsed with a depth limit, text made valid Unicode."""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import accumulate
from typing import Any

__all__ = ["MAX_DEPTH", "FrameError", "clean_text", "client_id", "error_frame", "parse_frame"]

MAX_DEPTH = 16  # nesting a client frame may have; real frames have 1 or 2

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = str.maketrans("", "", "".join(chr(c) for c in range(128) if chr(c) not in "[]{}"))
_SURROGATE = re.compile("[\ud800-\udfff]")


class FrameError(Exception):
    """A client frame the protocol rejects; becomes an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _depth(data: str) -> int:
    """How deep the brackets of a JSON text nest, not counting those inside strings."""
    brackets = _STRING.sub("", data).translate(_NOT_BRACKETS)
    steps = (1 if c in "[{" else -1 for c in brackets if c in "[]{}")
    return max(accumulate(steps, initial=0))


def parse_frame(data: str) -> dict[str, Any]:
    """A text frame as a JSON object; ``invalid_json`` for anything else or nested too deep.

    The depth is checked before parsing, so a frame of nested brackets costs a
    regular-expression pass and never reaches the recursive parser.
    """
    if data.count("[") + data.count("{") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise FrameError("invalid_json", f"frames may nest at most {MAX_DEPTH} levels")
    try:
        frame = json.loads(data)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", "frames must be JSON objects") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_json", "frames must be JSON objects")
    return frame


def clean_text(text: str) -> str:
    """NFC, with lone surrogates (valid in JSON escapes, not in Unicode) replaced by U+FFFD."""
    return unicodedata.normalize("NFC", _SURROGATE.sub("\ufffd", text))


def client_id(frame: dict[str, Any]) -> str | None:
    """The client's id of a message frame, if it has a usable one."""
    value = frame.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = clean_text(str(value))
    return text if text.strip() else None


def error_frame(code: str, message: str, reply_to: str | None = None) -> dict[str, Any]:
    """An error frame; ``reply_to`` is the client id of the message it is about."""
    return {"type": "error", "code": code, "message": message, "reply_to": reply_to}
