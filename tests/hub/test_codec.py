"""hub/codec.py writes what json.loads reads back the same, and reads what json writes."""

from __future__ import annotations

import json
import math

import pytest

from hub import codec

VALUES = [
    {"text": "é 漢 🙂", "n": 1, "x": 0.1, "big": 1796230247.6528265, "none": None, "ok": True},
    {"nested": [{"a": [1, 2, {"b": "c"}]}], "empty": {}, "list": []},
    {1: "an int key", "deep": 2**70},  # what orjson refuses: the standard library writes it
    ("a", "tuple"),
    "\u2028 line separator and \"quotes\" and \\ backslash",
]


@pytest.mark.parametrize("value", VALUES)
def test_dumps_reads_back_as_json_writes_it(value: object) -> None:
    assert json.loads(codec.dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize("value", VALUES)
def test_loads_reads_what_json_writes(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert codec.loads(text) == json.loads(text)
    assert codec.loads(text.encode()) == json.loads(text)


def test_nan_written_by_json_still_reads() -> None:
    assert math.isnan(codec.loads(json.dumps({"x": float("nan")}))["x"])


@pytest.mark.parametrize("raw", ["{bad", "", "[1,", '{"a": 1} trailing', "\ud800"])
def test_what_is_not_json_is_a_value_error(raw: str) -> None:
    with pytest.raises(ValueError):
        codec.loads(raw)
