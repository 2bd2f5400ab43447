"""JSON for what the hub writes to Redis and reads back on every message.

Stream entries, outboxes, transcript lines, conversations and webchat frames are
encoded and decoded several times per message in Redis mode (memory mode keeps
them as objects). The standard library's encoder costs about 6 us for an outbox;
orjson (in C) costs 0.3 us, so these go through orjson. Its output is plain JSON
that ``json.loads`` reads back the same. Where it refuses what ``json`` takes
(keys that are not strings, integers past 64 bits), the standard library encodes
it, so nothing a stage puts in a decision's details fails here that did not before.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import orjson

__all__ = ["dumps", "field_names", "loads"]


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with compact separators."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(raw: str | bytes) -> Any:
    """``json.loads``: a ValueError (``json.JSONDecodeError``) for anything not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # NaN and Infinity, which json writes and orjson refuses


@functools.cache
def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, found once: ``dataclasses.fields`` builds them anew on
    every call, and the envelope, transcript and summary encoders ask per object."""
    return tuple(f.name for f in dataclasses.fields(cls))
