"""Reading a tier's reply and deciding whether it is good enough to send.

Models are asked for ``{"answer", "confident", "sources"}``; :func:`parse`
reads that leniently (code fences, text around the object, or plain text with
``confident`` unknown). :func:`check` fails a reply that declines, says it is
unsure, cites none of the grounding it was given, or repeats the instructions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Answer", "AnswerStream", "check", "parse"]

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_DECLINE = re.compile(
    r"\b(?:I(?:'m| am) (?:not sure|unsure|unable|not able)|I (?:can(?:no|')t|do not|don't) "
    r"(?:help|answer|know|find)|no information|not covered|as an AI)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[a-z0-9']+")
_LEAK_WINDOW = 7


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed reply; ``confident`` is None when the model did not say."""

    text: str
    confident: bool | None
    sources: tuple[str, ...]


def parse(raw: str) -> Answer:
    """The model's reply as an :class:`Answer`, tolerating sloppy JSON."""
    match = _OBJECT.search(raw)
    if match:
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("answer"), str):
            confident = data.get("confident")
            sources = data.get("sources") or []
            return Answer(
                text=data["answer"].strip(),
                confident=confident if isinstance(confident, bool) else None,
                sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
            )
    return Answer(text=raw.strip(), confident=None, sources=())


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@lru_cache(maxsize=64)
def _secret_ngrams(secret: str) -> frozenset[tuple[str, ...]]:
    """A secret's word runs, computed once: the prompt is checked on every streamed chunk."""
    return frozenset(_ngrams(secret, _LEAK_WINDOW))


def leaks(answer: str, secrets: Iterable[str]) -> bool:
    """True if ``answer`` repeats a run of words from any of ``secrets``."""
    said = _ngrams(answer, _LEAK_WINDOW)
    return any(not said.isdisjoint(_secret_ngrams(secret)) for secret in secrets)


def check(answer: Answer, grounding_ids: Iterable[str], secrets: Iterable[str]) -> str | None:
    """Why ``answer`` must not be sent as it is, or None if it is fine."""
    if not answer.text:
        return "empty answer"
    if leaks(answer.text, secrets):
        return "repeated its instructions"
    if answer.confident is False:
        return "not confident"
    if _DECLINE.search(answer.text):
        return "declined"
    ids = set(grounding_ids)
    if ids and answer.confident is not None and not ids & set(answer.sources):
        return "cited no reference answer"
    return None


class AnswerStream:
    """Pull the ``answer`` string out of a JSON reply while it streams in.

    ``feed(chunk)`` returns the newly readable part of the answer. A reply that
    does not start with ``{`` is plain text and is passed through as it comes.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._start: int | None = None
        self._pos = 0
        self._done = False
        self._plain: bool | None = None

    def feed(self, chunk: str) -> str:
        self._buffer += chunk
        if self._plain is None and self._buffer.strip():
            self._plain = not self._buffer.lstrip().startswith(("{", "`"))
        if self._plain:
            return chunk
        if self._done:
            return ""
        if self._start is None:
            found = re.search(r'"answer"\s*:\s*"', self._buffer)
            if not found:
                return ""
            self._start = self._pos = found.end()
        return self._read()

    def _read(self) -> str:
        out: list[str] = []
        buf = self._buffer
        while self._pos < len(buf):
            char = buf[self._pos]
            if char == '"':
                self._done = True
                break
            if char != "\\":
                out.append(char)
                self._pos += 1
                continue
            end = self._pos + (6 if buf[self._pos + 1 : self._pos + 2] == "u" else 2)
            if end > len(buf):
                break  # wait for the rest of the escape
            out.append(json.loads(f'"{buf[self._pos:end]}"'))
            self._pos = end
        return "".join(out)
