"""What the bot says from an article: an extractive answer, or numbered grounding for an LLM.

Without an LLM the answer is the best passage trimmed to the sentences that
share the question's terms (in their order in the article), then
"Read more: <title> <link>". For an LLM tier the best passages become
numbered references (``[1]``, ``[2]``, ...) that the model must cite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hub.envelope import Source, with_sources
from hub.stages import Candidate
from kb.documents.chunks import Chunk
from kb.documents.index import analyse
from kb.documents.retrieval import DocumentHit
from kb.documents.sources import SEPARATOR

__all__ = ["MAX_ANSWER_CHARS", "extractive_answer", "grounding", "source_of"]

MAX_ANSWER_CHARS = 600
_MAX_SENTENCES = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def extractive_answer(question: str, hit: DocumentHit) -> tuple[str, Source]:
    """The sentences of the passage sharing most terms with ``question``, trimmed, with
    "Read more: <title> <link>"; and that passage's article as the answer's source."""
    wanted = set(analyse(question))
    passage = max(hit.passages, key=lambda p: len(wanted & set(analyse(_own_text(p)))))
    sentences = [s.strip() for s in _SENTENCE.split(passage.text) if s.strip()]
    scored = [(len(wanted & set(analyse(s))), i) for i, s in enumerate(sentences)]
    best = sorted((i for n, i in scored if n > 0), key=lambda i: (-scored[i][0], i))[:_MAX_SENTENCES]
    chosen = [sentences[i] for i in sorted(best)] or sentences[:2]
    source = source_of(passage)
    return with_sources(_trim(" ".join(chosen)), (source,)), source


def _own_text(passage: Chunk) -> str:
    """The passage with its own heading, without the article title every passage shares."""
    return f"{passage.heading.rsplit(SEPARATOR, 1)[-1]}\n{passage.text}"


def source_of(passage: Chunk, number: int | None = None) -> Source:
    """The passage's article as a source: its title, its link with the section's anchor."""
    return Source(passage.title, passage.link, number)


def grounding(hits: Sequence[DocumentHit], limit: int) -> list[Candidate]:
    """Numbered references for the LLM (ids "1", "2", ...), each with the source it stands for."""
    candidates: list[Candidate] = []
    for hit in hits[:limit]:
        passage = hit.passages[0]
        number = len(candidates) + 1
        candidates.append(Candidate(
            str(number), passage.heading, _trim(passage.text, 1200), hit.confidence,
            source=source_of(passage, number),
        ))
    return candidates


def _trim(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1] + "…"
