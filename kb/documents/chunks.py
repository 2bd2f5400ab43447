"""Articles into chunks: along headings, at most ``MAX_CHARS`` each, with a small overlap.

A section short enough stays one chunk. A longer one is cut between
paragraphs, then sentences, then words, and each piece after the first
starts with the last ``OVERLAP_CHARS`` or so of the one before, so a fact on
the cut is whole in at least one chunk. Every chunk keeps its article, heading
path and anchor: what a citation links to.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kb.documents.sources import Article, Section

__all__ = ["MAX_CHARS", "OVERLAP_CHARS", "Chunk", "chunk_article"]

MAX_CHARS = 1200
OVERLAP_CHARS = 150
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable passage of one article."""

    doc_id: str
    title: str
    url: str
    heading: str
    anchor: str
    text: str

    @property
    def link(self) -> str:
        """The article's URL with the section's anchor, or "" without a URL."""
        if not self.url:
            return ""
        return f"{self.url}#{self.anchor}" if self.anchor and "#" not in self.url else self.url

    @property
    def indexed_text(self) -> str:
        """What retrieval sees: the heading path, then the passage."""
        return f"{self.heading}\n{self.text}"

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.indexed_text.encode(), digest_size=12).hexdigest()


def chunk_article(article: Article) -> list[Chunk]:
    """The article's chunks, in reading order; identical passages once."""
    seen: set[str] = set()
    chunks = []
    for section in article.sections:
        for piece in _pieces(section):
            chunk = Chunk(article.doc_id, article.title, article.url, section.heading, section.anchor, piece)
            if chunk.digest not in seen:
                seen.add(chunk.digest)
                chunks.append(chunk)
    return chunks


def _pieces(section: Section) -> Iterator[str]:
    text = section.text.strip()
    if len(text) <= MAX_CHARS:
        yield text
        return
    current = ""
    for unit in _units(text):
        if current and len(current) + 1 + len(unit) > MAX_CHARS:
            yield current
            current = _tail(current)
        current = f"{current} {unit}".strip() if current else unit
    if current:
        yield current


def _units(text: str) -> Iterator[str]:
    """Paragraphs, or sentences of long paragraphs, or word runs of long sentences."""
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if len(paragraph) <= MAX_CHARS:
            if paragraph:
                yield paragraph
            continue
        for sentence in _SENTENCE.split(paragraph):
            if len(sentence) <= MAX_CHARS:
                yield sentence
                continue
            words = sentence.split()
            run: list[str] = []
            size = 0
            for word in words:
                word = word[: MAX_CHARS // 2]
                if run and size + len(word) + 1 > MAX_CHARS // 2:
                    yield " ".join(run)
                    run, size = [], 0
                run.append(word)
                size += len(word) + 1
            if run:
                yield " ".join(run)


def _tail(text: str) -> str:
    """The overlap carried into the next chunk: whole words from the last OVERLAP_CHARS."""
    tail = text[-OVERLAP_CHARS:]
    cut = tail.find(" ")
    return tail[cut + 1 :] if 0 <= cut < len(tail) - 1 else ""
