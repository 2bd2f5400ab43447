"""Build an FAQ file from labelled customer phrasings (``hub kb import``).

A CSV with a ``text`` column and a label column named ``label``, ``category``
(BANKING77's header) or ``intent`` (:data:`LABEL_COLUMNS`): one row per
phrasing; each label becomes an entry whose id is the label, whose question is
its first phrasing and whose examples are the rest. An optional
``label,answer`` CSV supplies the answers; without it each answer is a
placeholder naming the label, marked ``TODO:`` (:attr:`kb.faq.FaqEntry.placeholder`:
``hub check`` warns about it and the hub never sends it). Faults raise :class:`~hub.errors.ConfigError`
naming the file, the column and the line.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from hub.errors import ConfigError, ConfigProblem
from kb.faq import PLACEHOLDER, Faq, FaqEntry

__all__ = ["LABEL_COLUMNS", "faq_to_toml", "import_csv", "read_csv_columns", "read_labelled", "read_texts"]

# Header names accepted for the label column, in order of preference.
LABEL_COLUMNS = ("label", "category", "intent")
_ALIASES = {"label": LABEL_COLUMNS}


def read_csv_columns(path: str | os.PathLike[str], columns: Sequence[str]) -> list[tuple[int, list[str]]]:
    """Rows of ``columns`` as ``(line, values)``; errors name the file and line."""
    path = Path(path)
    text = _decode(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise _error(path, "", "empty file: expected a header row", 1) from None
    except csv.Error as exc:
        raise _error(path, "", f"not valid CSV: {exc}", 1) from None
    positions = _positions(path, [h.strip().lstrip("\ufeff").lower() for h in header], columns)
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            rows.append((reader.line_num, _values(path, reader.line_num, record, positions, columns)))
    except csv.Error as exc:
        raise _error(path, "", f"not valid CSV: {exc}", reader.line_num) from None
    return rows


def read_labelled(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """``(text, label)`` pairs of a ``text,label`` CSV."""
    return [(values[0], values[1]) for _, values in read_csv_columns(path, ("text", "label"))]


def read_texts(path: str | os.PathLike[str]) -> list[str]:
    """The ``text`` column of a CSV."""
    return [values[0] for _, values in read_csv_columns(path, ("text",))]


def import_csv(
    path: str | os.PathLike[str], answers_path: str | os.PathLike[str] | None = None, language: str = ""
) -> Faq:
    """Group phrasings by label into FAQ entries, in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for text, label in read_labelled(path):
        groups.setdefault(label, []).append(text)
    answers = _answers(answers_path) if answers_path else {}
    entries = []
    for label, texts in groups.items():
        unique = list(dict.fromkeys(texts))
        answer = answers.get(label) or f"{PLACEHOLDER} write the answer for {label} (the hub never sends this)"
        entries.append(FaqEntry(label, unique[0], answer, examples=tuple(unique[1:])))
    return Faq(tuple(entries), source=str(path), language=language)


def faq_to_toml(faq: Faq, header: str = "") -> str:
    """The FAQ as a TOML document that :func:`kb.faq.load_faq` reads back."""
    out = [f"# {line}\n" for line in header.splitlines()]
    if faq.language:  # read back by kb.faq: the matcher reads the entries as this language
        out.append(f"\nlanguage = {_toml_str(faq.language)}\n")
    for entry in faq:
        out.append("\n[[entries]]\n")
        out.append(f"id = {_toml_str(entry.id)}\n")
        out.append(f"question = {_toml_str(entry.question)}\n")
        out.append(f"answer = {_toml_str(entry.answer)}\n")
        if entry.buttons:
            items = ", ".join(
                f"{{ label = {_toml_str(b.label)}, value = {_toml_str(b.value)} }}" for b in entry.buttons
            )
            out.append(f"buttons = [{items}]\n")
        for key in ("examples", "tags", "channels"):
            values: tuple[str, ...] = getattr(entry, key)
            if values:
                out.append(f"{key} = [\n{_toml_list(values)}]\n")
    return "".join(out)


def _toml_list(values: Iterable[str]) -> str:
    return "".join(f"    {_toml_str(v)},\n" for v in values)


def _toml_str(value: str) -> str:
    escaped = []
    for ch in value:
        if ch in ('"', "\\"):
            escaped.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _answers(path: str | os.PathLike[str]) -> dict[str, str]:
    return {values[0]: values[1] for _, values in read_csv_columns(path, ("label", "answer"))}


def _decode(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _error(path, "", f"cannot read: {exc.strerror or exc}", None) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        msg = f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8"
        raise _error(path, "", msg, line) from None


def _positions(path: Path, header: list[str], columns: Sequence[str]) -> list[int]:
    positions = []
    for column in columns:
        names = _ALIASES.get(column, (column,))
        found = next((header.index(n) for n in names if n in header), None)
        if found is None:
            got = ", ".join(h for h in header if h) or "nothing"
            raise _error(path, column, f"missing column {column!r} in the header (found: {got})", 1)
        positions.append(found)
    return positions


def _values(path: Path, line: int, record: list[str], positions: list[int], columns: Sequence[str]) -> list[str]:
    values = []
    for position, column in zip(positions, columns, strict=True):
        if position >= len(record):
            raise _error(path, column, f"row has {len(record)} fields, no {column!r} value", line)
        value = record[position].strip()
        if not value:
            raise _error(path, column, f"empty {column!r}", line)
        values.append(value)
    return values


def _error(path: Path, column: str, message: str, line: int | None) -> ConfigError:
    return ConfigError([ConfigProblem(str(path), column, message, line)])
