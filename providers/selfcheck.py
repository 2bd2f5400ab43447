"""Reading a tier's reply and deciding whether it is good enough to send.

Models are asked for ``{"answer", "confident", "sources"}``; :func:`parse`
reads that leniently (code fences, text around the object, or plain text with
``confident`` unknown). :func:`check` fails a reply that declines, says it is
unsure, cites none of the grounding it was given, or repeats the instructions.
:func:`unsupported` fails a reply grounded on articles whose claims are not in
them: each sentence must find most of its words (stems, no stop words), and
every number it states, in the grounding it was given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from kb.documents.index import analyse  # the articles' own analyser: the same stems

__all__ = ["NOT_IN_PASSAGES", "SUPPORT_SHARE", "Answer", "AnswerStream", "check", "parse", "unsupported"]

_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_DECLINE = re.compile(
    r"\b(?:I(?:'m| am) (?:not sure|unsure|unable|not able)|I (?:can(?:no|')t|do not|don't) "
    r"(?:help|answer|know|find)|no information|not covered|as an AI)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[a-z0-9']+")
_CITED = re.compile(r"\[(\d{1,3})\]")
_CITED_MARK = re.compile(r"\[\d{1,3}\]")
_LEAK_WINDOW = 7
# A sentence is supported when this share of its distinct stems occurs in the grounding
# (tuned on half of StackFAQ's threads, measured on the other half: bench/support_check.py).
SUPPORT_SHARE = 0.65
NOT_IN_PASSAGES = "not in the passages"  # how a support failure ends
_MIN_CLAIM_STEMS = 4  # shorter sentences ("Yes, you can.", "Here is how to do it.") claim nothing
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_COURTESY = re.compile(  # lines that claim nothing about the shop
    r"^\W*(?:let (?:me|us) know|hope (?:this|that|it) helps|feel free|happy to help|"
    r"(?:is there )?anything else|if you (?:have|need) (?:any|more|anything)|thanks|thank you|"
    r"you(?:'|’)re welcome|have a (?:nice|good|great))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed reply; ``confident`` is None when the model did not say."""

    text: str
    confident: bool | None
    sources: tuple[str, ...]

    @property
    def cited(self) -> set[str]:
        """The references it names: its ``sources``, and the ``[n]`` its text cites."""
        return {*self.sources, *_CITED.findall(self.text)}


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
    if ids and answer.confident is not None and not ids & answer.cited:
        return "cited no reference answer"
    return None


def unsupported(
    text: str, grounding: Iterable[str], share: float = SUPPORT_SHARE
) -> str | None:
    """Why the claims of ``text`` are not in ``grounding`` (the passages' and reference
    answers' texts), or None when every sentence that claims something is there."""
    pool = list(grounding)
    stems = set(analyse(" ".join(pool)))
    numbers = set(_NUMBER.findall(" ".join(pool)))
    claims = [
        c for c in _SENTENCES.split(_CITED_MARK.sub(" ", text)) if c.strip() and not _COURTESY.match(c)
    ]
    missing = 0
    for claim in claims:
        own = set(analyse(claim))
        if not set(_NUMBER.findall(claim)) <= numbers:
            missing += 1
        elif len(own) >= _MIN_CLAIM_STEMS and len(own & stems) < share * len(own):
            missing += 1
    if missing:
        return f"{missing} of {len(claims)} sentences {NOT_IN_PASSAGES}"
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
