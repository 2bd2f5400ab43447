"""The FAQ file: human-edited TOML, read and checked once into frozen entries.

Each ``[[entries]]`` table is one answer the bot may give::

    [[entries]]
    id = "shipping-times"
    question = "How long does shipping take?"
    answer = "Orders ship within one working day ..."
    examples = ["when will my parcel arrive", "delivery time?"]
    tags = ["shipping"]
    channels = ["webchat", "telegram"]        # optional; empty = every channel
    buttons = [{ label = "Track my order", value = "where is my order" }]
    flow = "order-status"                     # optional: start this flow instead of answering

A file may start with ``language = "zh"`` (an ISO 639-1 code, before the
first entry): the language its entries are written in, which decides how the
matcher reads them (:mod:`kb.segment`). Without it the FAQ is in the language
its file name says (``faq.zh.toml``) or in ``[languages] default``
(docs/languages.md).

``answer`` may also be a table ``{ text = "...", buttons = [...] }``. Every
fault becomes a :class:`~hub.errors.ConfigProblem` naming the file, the key
(``entries[3].answer``, with the entry id when known) and the line.
Duplicate ids and empty answers are errors. An answer that starts with
``TODO:`` (what ``hub kb import`` writes when it has no answer) is a
*placeholder*: the FAQ loads, ``hub check`` warns about each one
(:func:`placeholder_warnings`) and the ``kb`` stage never sends it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hub.envelope import Button
from hub.errors import ConfigError, ConfigProblem

__all__ = ["PLACEHOLDER", "Faq", "FaqEntry", "load_faq", "parse_faq", "placeholder_warnings"]

_ENTRY_KEYS = {"id", "question", "answer", "examples", "tags", "channels", "buttons", "flow"}
# How a placeholder answer starts (case-insensitive); the second is what
# `hub kb import` wrote before the marker existed.
PLACEHOLDER = "TODO:"
_OLD_PLACEHOLDER = "[placeholder answer for "


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question the knowledge base can answer."""

    id: str
    question: str
    answer: str
    buttons: tuple[Button, ...] = ()
    examples: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    flow: str = ""  # a [[flows.list]] name: matching this entry starts that flow

    @property
    def placeholder(self) -> bool:
        """True if the answer is still a placeholder (starts with ``TODO:``): never sent to a customer."""
        start = self.answer[: len(_OLD_PLACEHOLDER)].upper()
        return start.startswith(PLACEHOLDER) or start == _OLD_PLACEHOLDER.upper()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question and every example: what the matcher trains on."""
        return (self.question, *self.examples)

    def serves(self, channel: str | None) -> bool:
        """True if this entry may answer on ``channel`` (no list = everywhere)."""
        return not self.channels or channel is None or channel in self.channels


@dataclass(frozen=True, slots=True)
class Faq:
    """A validated FAQ: entries in file order, looked up by id."""

    entries: tuple[FaqEntry, ...]
    source: str = "<faq>"
    language: str = ""  # ISO 639-1, as the file declares it ("" = not declared)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[FaqEntry]:
        return iter(self.entries)

    def get(self, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


def load_faq(path: str | os.PathLike[str]) -> Faq:
    """Read and validate an FAQ file; raise ConfigError naming each fault."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(str(path), "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc}")]) from None
    return parse_faq(text, file=str(path))


def parse_faq(text: str, *, file: str = "<faq>") -> Faq:
    """Validate FAQ TOML source; the loader takes text so tests can build FAQs in memory."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError([ConfigProblem(file, "", f"not valid TOML: {exc}", line)]) from None
    problems: list[ConfigProblem] = []
    entries = _entries(data, _Locator(file, text), problems)
    language = _language(data, file, problems)
    if problems:
        raise ConfigError(problems)
    return Faq(tuple(entries), source=file, language=language)


def placeholder_warnings(faq: Faq) -> list[ConfigProblem]:
    """A warning for each entry whose answer is a placeholder, naming file, line, key and id."""
    entries = [(i, e) for i, e in enumerate(faq.entries) if e.placeholder]
    if not entries:
        return []
    try:
        where = _Locator(faq.source, Path(faq.source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        where = _Locator(faq.source, "")
    message = f"placeholder answer (starts with {PLACEHOLDER!r}): the hub never sends it; write the answer"
    return [replace(where.problem(i, "answer", message, e.id), level="warning") for i, e in entries]


class _Locator:
    """Turns ``(entry index, key)`` into a ConfigProblem with the line in the source."""

    _HEADER = re.compile(r"^\s*\[\[\s*entries\s*\]\]")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def problem(self, index: int | None, key: str, message: str, entry_id: str = "") -> ConfigProblem:
        where = "entries" if index is None else f"entries[{index}]"
        dotted = f"{where}.{key}" if key else where
        if entry_id:
            dotted += f" (id {entry_id!r})"
        return ConfigProblem(self.file, dotted, message, self.line(index, key))

    def line(self, index: int | None, key: str) -> int | None:
        key = re.split(r"[.\[]", key, maxsplit=1)[0]
        seen = -1
        header_line = None
        for number, line in enumerate(self.lines, start=1):
            if self._HEADER.match(line):
                seen += 1
                if seen == index:
                    header_line = number
                elif header_line is not None:
                    break
                continue
            found = self._KEY.match(line)
            if header_line is not None and found and found.group(1) == key:
                return number
        return header_line


_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def _language(data: Mapping[str, Any], file: str, problems: list[ConfigProblem]) -> str:
    value = data.get("language", "")
    if not isinstance(value, str) or (value and not _LANGUAGE.fullmatch(value)):
        problems.append(ConfigProblem(file, "language", f'expected a language code like "zh", got {value!r}'))
        return ""
    return value


def _entries(data: Mapping[str, Any], where: _Locator, problems: list[ConfigProblem]) -> list[FaqEntry]:
    unknown = sorted(set(data) - {"entries", "language"})
    for key in unknown:
        problems.append(ConfigProblem(where.file, key, "unknown key (expected language and [[entries]] tables)"))
    raw = data.get("entries", [])
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        problems.append(where.problem(None, "", "expected [[entries]] tables"))
        return []
    entries: list[FaqEntry] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw):
        entry = _entry(index, item, where, problems)
        if entry is None:
            continue
        if entry.id in first_index:
            msg = f"duplicate id {entry.id!r} (first used by entries[{first_index[entry.id]}])"
            problems.append(where.problem(index, "id", msg))
            continue
        first_index[entry.id] = index
        entries.append(entry)
    return entries


def _entry(
    index: int, item: Mapping[str, Any], where: _Locator, problems: list[ConfigProblem]
) -> FaqEntry | None:
    before = len(problems)
    entry_id = item.get("id") if isinstance(item.get("id"), str) else ""
    entry_id = entry_id.strip()

    def fail(key: str, message: str) -> None:
        problems.append(where.problem(index, key, message, entry_id))

    for key in sorted(set(item) - _ENTRY_KEYS):
        fail(key, "unknown key")
    if not entry_id:
        fail("id", "missing or empty id")
    question = _text(item, "question", fail, required=True)
    flow = _text(item, "flow", fail, required=False)
    if flow and item.get("answer") is None:  # the flow answers
        answer, buttons = "", ()
    else:
        answer, buttons = _answer(item.get("answer"), fail)
    buttons += _buttons(item.get("buttons", []), "buttons", fail)
    examples = _strings(item, "examples", fail)
    tags = _strings(item, "tags", fail)
    channels = _strings(item, "channels", fail)
    if len(problems) > before:
        return None
    return FaqEntry(entry_id, question, answer, buttons, examples, tags, channels, flow)


Fail = Any  # Callable[[str, str], None]; kept loose to avoid a Protocol for one helper


def _text(item: Mapping[str, Any], key: str, fail: Fail, *, required: bool) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        fail(key, "missing or empty" if value in (None, "") else "expected non-empty text")
        return ""
    return value.strip()


def _answer(value: Any, fail: Fail) -> tuple[str, tuple[Button, ...]]:
    if isinstance(value, dict):
        for key in sorted(set(value) - {"text", "buttons"}):
            fail(f"answer.{key}", "unknown key")
        text = value.get("text")
        buttons = _buttons(value.get("buttons", []), "answer.buttons", fail)
        if not isinstance(text, str) or not text.strip():
            fail("answer.text", "empty answer")
            return "", buttons
        return text.strip(), buttons
    if not isinstance(value, str) or not value.strip():
        fail("answer", "empty answer" if value in (None, "") or isinstance(value, str) else "expected text")
        return "", ()
    return value.strip(), ()


def _buttons(value: Any, key: str, fail: Fail) -> tuple[Button, ...]:
    if not isinstance(value, list):
        fail(key, "expected a list of { label, value } tables")
        return ()
    buttons = []
    for i, raw in enumerate(value):
        if not isinstance(raw, dict) or set(raw) != {"label", "value"}:
            fail(f"{key}[{i}]", "expected { label = \"...\", value = \"...\" }")
            continue
        label, val = raw["label"], raw["value"]
        if not (isinstance(label, str) and label.strip() and isinstance(val, str) and val.strip()):
            fail(f"{key}[{i}]", "label and value must be non-empty text")
            continue
        buttons.append(Button(label.strip(), val.strip()))
    return tuple(buttons)


def _strings(item: Mapping[str, Any], key: str, fail: Fail) -> tuple[str, ...]:
    value: Sequence[Any] = item.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fail(key, "expected a list of text")
        return ()
    return tuple(v.strip() for v in value if v.strip())
