"""Needs attention: the week's failures, grouped and counted (the weekly top-10 review).

Read from the recent conversations' transcripts (each reply records its stage,
reason and evidence) and from the ratings: questions no stage answered, KB
answers given with low confidence, answers rated thumbs-down, and hand-offs
grouped by reason. Each question can become an example phrasing of an FAQ
entry (:mod:`console.faq_edit`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from console.security import account_of
from console.stats import no_answer
from hub.conversation import TranscriptEntry
from hub.errors import ConfigError
from hub.text import fold
from kb.faq import load_faq
from kb.knowledge import KnowledgeBase

if TYPE_CHECKING:
    from console.app import Console

__all__ = ["Failure", "Review", "routes"]

WINDOW_S = 7 * 86_400
SCAN = 200  # conversations read per review
TOP = 10
LOW_MARGIN = 0.1  # a KB answer within this of [kb] threshold is "low confidence"


@dataclass
class Failure:
    """One question (folded), how often it failed, and where to read it."""

    question: str
    language: str | None = None  # the customer's: the FAQ file of that language learns it
    count: int = 0
    conversations: list[str] = field(default_factory=list)
    faq_hint: str | None = None  # the FAQ entry the matcher thought of, if any

    def add(self, conversation_id: str, hint: str | None) -> None:
        self.count += 1
        if conversation_id not in self.conversations:
            self.conversations.append(conversation_id)
        self.faq_hint = self.faq_hint or hint


@dataclass
class Review:
    unanswered: dict[str, Failure] = field(default_factory=dict)
    low_confidence: dict[str, Failure] = field(default_factory=dict)
    thumbs_down: dict[str, Failure] = field(default_factory=dict)
    handoffs: Counter[str] = field(default_factory=Counter)

    @staticmethod
    def top(group: dict[str, Failure]) -> list[Failure]:
        return sorted(group.values(), key=lambda f: (-f.count, f.question))[:TOP]


def note(
    group: dict[str, Failure], question: TranscriptEntry | str, conversation_id: str,
    hint: str | None,
) -> None:
    text = question if isinstance(question, str) else question.text
    language = None if isinstance(question, str) else question.language
    key = fold(text)
    if key:
        group.setdefault(key, Failure(text, language)).add(conversation_id, hint)


def review_transcript(
    review: Review, conversation_id: str, entries: Sequence[TranscriptEntry], threshold: float
) -> None:
    """Add one transcript's failures to the review."""
    asked = {e.id: e for e in entries if e.sender == "customer"}
    for entry in entries:
        if entry.stage is None:
            continue
        question = asked.get(entry.reply_to or "") or ""
        details = entry.details or {}
        hint = _hint(details)
        if no_answer(entry.stage, entry.reason):
            note(review.unanswered, question, conversation_id, hint)
        elif entry.stage == "kb" and isinstance(details.get("score"), int | float) \
                and details["score"] < threshold + LOW_MARGIN:
            note(review.low_confidence, question, conversation_id, hint)
        if details.get("handoff") or entry.stage == "handoff":
            review.handoffs[str(details.get("handoff") or entry.reason or "hand-off")] += 1


def _hint(details: dict[str, Any]) -> str | None:
    """The FAQ entry the matcher thought of: the one it answered with, else its best candidate."""
    for key in ("faq_id", "runner_up"):
        if isinstance(details.get(key), str):
            return details[key]
    candidates = details.get("kb_candidates")
    return str(candidates[0]) if isinstance(candidates, list) and candidates else None


def question_rated(
    entries: Sequence[TranscriptEntry], decision_index: int
) -> tuple[TranscriptEntry | None, str | None]:
    """The customer's question behind the bot reply at transcript index ``decision_index``."""
    if not 0 <= decision_index < len(entries):
        return None, None
    entry = entries[decision_index]
    asked = {e.id: e for e in entries if e.sender == "customer"}
    return asked.get(entry.reply_to or ""), _hint(entry.details or {})


async def build_review(console: Console) -> Review:
    store = console.hub.store
    since = time.time() - WINDOW_S
    summaries = await store.list_conversations(since=since, limit=SCAN)
    transcripts = await asyncio.gather(*(store.transcript(s.id) for s in summaries))
    review = Review()
    threshold = console.hub.config.kb.threshold
    by_id = {}
    for summary, entries in zip(summaries, transcripts, strict=True):
        review_transcript(review, summary.id, entries, threshold)
        by_id[summary.id] = entries
    await _thumbs_down(console, review, by_id)
    return review


async def _thumbs_down(console: Console, review: Review, known: dict[str, list[TranscriptEntry]]) -> None:
    store = console.hub.store
    for rating in await store.recent_ratings(kind="thumbs", value=-1, limit=SCAN):
        entries = known.get(rating.conversation_id)
        if entries is None:
            entries = known[rating.conversation_id] = await store.transcript(rating.conversation_id)
        question, hint = question_rated(entries, rating.decision_index)
        note(review.thumbs_down, question or "(question no longer in the transcript)",
             rating.conversation_id, hint)


def faq_files(console: Console) -> dict[str, Path]:
    """The FAQ file of each language that has one (``[kb] path`` for the default language)."""
    config = console.hub.config
    if not config.kb.enabled:
        return {}
    return {lang: path for lang, path in KnowledgeBase.from_config(config).paths.items() if path.exists()}


def faq_ids(console: Console) -> dict[str, list[str]]:
    """Each language's FAQ entry ids, read from its file (what an example can be added to)."""
    ids = {}
    for language, path in faq_files(console).items():
        try:
            ids[language] = [entry.id for entry in load_faq(path)]
        except ConfigError:
            continue  # a broken file: the KB reports it; nothing to add to meanwhile
    return ids


def routes(console: Console, router: web.UrlDispatcher) -> None:
    async def attention(request: web.Request) -> web.Response:
        review = await build_review(console)
        groups: Iterable[tuple[str, str, list[Failure]]] = (
            ("unanswered", "Questions no stage answered", Review.top(review.unanswered)),
            ("low", "Low-confidence KB answers", Review.top(review.low_confidence)),
            ("down", "Answers rated thumbs-down", Review.top(review.thumbs_down)),
        )
        ids = await asyncio.to_thread(faq_ids, console)
        return console.render(
            request, "attention.html", groups=list(groups), handoffs=review.handoffs.most_common(TOP),
            faq_ids=ids, default_language=console.hub.config.languages.default,
            can_write=account_of(request).can_write,
        )

    router.add_get("/attention", attention)
