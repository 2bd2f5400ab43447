"""The ``kb`` stage: answer from the FAQ, or from a help-center article, when confident enough.

Above ``[kb] threshold`` the stage answers with the FAQ entry's text and
buttons. Otherwise it asks the documents (``[kb] documents``,
:mod:`kb.documents`): above ``[kb] documents_threshold`` it answers with the
best passage's matching sentences and "Read more: <title> <link>". Below both
the stage passes ("not mine"), but first attaches the best ``[kb]
candidates`` FAQ entries and article passages (numbered ``1``, ``2``, ... for
citation) to the turn as grounding for the LLM stage, with the confidence
and margin, so later stages (tier routing) can use them.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from hub.config import Config
from hub.errors import ConfigError
from hub.stages import Candidate, Decision, Turn
from kb.documents.answer import extractive_answer, grounding
from kb.documents.library import DocumentLibrary, sources_from_config
from kb.documents.retrieval import Retrieval
from kb.knowledge import KnowledgeBase
from kb.matcher import Match
from kb.multilingual import find

__all__ = ["KnowledgeStage"]

logger = logging.getLogger(__name__)


class KnowledgeStage:
    """Stage ``kb``; reads threshold and candidate count from the turn's config.

    As an async context manager it loads the FAQ (training the matcher once)
    and watches the file; ``reconfigure`` follows ``[kb] path`` and
    ``enabled`` across config reloads, keeping the current KB if the new one
    is invalid.
    """

    name = "kb"

    def __init__(
        self, knowledge: KnowledgeBase, *, enabled: bool = True, documents: DocumentLibrary | None = None
    ) -> None:
        self.knowledge = knowledge
        self.enabled = enabled
        self.documents = documents

    @classmethod
    def from_config(cls, config: Config) -> KnowledgeStage:
        return cls(KnowledgeBase.from_config(config), enabled=config.kb.enabled, documents=_library(config))

    async def __aenter__(self) -> KnowledgeStage:
        if self.enabled:
            await self.knowledge.__aenter__()
            if self.documents is not None:
                await self.documents.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.knowledge.__aexit__(*exc_info)
        if self.documents is not None:
            await self.documents.__aexit__(*exc_info)

    async def reconfigure(self, old: Config, new: Config) -> None:
        self.enabled = new.kb.enabled
        if self.enabled:
            await self._follow_documents(new)
        path = new.resolve(new.kb.path)
        fresh = KnowledgeBase.from_config(new)
        # each language's file; a new default language moves [kb] path to it and retrains
        same = fresh.paths == self.knowledge.paths
        if not self.enabled or (same and self.knowledge.loaded):
            return
        try:
            await fresh.__aenter__()
        except ConfigError as exc:
            logger.error("knowledge base at %s not loaded, keeping the current one:\n%s", path, exc)
            return
        await self.knowledge.__aexit__(None, None, None)
        self.knowledge = fresh

    async def _follow_documents(self, new: Config) -> None:
        """A new ``[kb] documents`` list (or base URL) builds a new library, then swaps it in."""
        sources = sources_from_config(new) if new.kb.documents else None
        current = self.documents.sources if self.documents is not None else None
        if sources == current and (self.documents is None or self.documents.loaded):
            return
        fresh = DocumentLibrary(sources) if sources is not None else None
        if fresh is not None:
            await fresh.__aenter__()
        if self.documents is not None:
            await self.documents.__aexit__(None, None, None)
        self.documents = fresh

    def health(self) -> dict[str, object]:
        if not self.enabled:
            return {"status": "ok", "enabled": False}
        if not self.knowledge.loaded:
            return {"status": "down", "error": "not loaded"}
        error = self.knowledge.last_error
        health: dict[str, object] = {
            "status": "ok",
            "entries": len(self.knowledge.faq),
            "last_reload_error": str(error) if error else None,
        }
        if self.documents is not None and self.documents.loaded:
            index = self.documents.index
            health["documents"] = {
                "files": len(index.files), "chunks": len(index), "skipped": len(index.skipped),
                "last_error": self.documents.last_error,
            }
        return health

    async def __call__(self, turn: Turn) -> Decision | None:
        settings = turn.config.kb
        if not settings.enabled or not self.knowledge.loaded:
            return None
        located = find(
            self.knowledge, turn.message.text, turn.language, channel=turn.message.channel,
            candidates=settings.candidates, threshold=settings.threshold, missing=turn.config.languages.missing,
        )
        found = located.match
        if located.note:
            turn.note(located.note)
        _ground(turn, found)
        if turn.forced_tier:
            turn.note(f"kb: not answering, a rule routed this to tier {turn.forced_tier!r}")
            return None
        if found.best is not None and found.confidence >= settings.threshold and located.answerable:
            if found.best.entry.placeholder:
                _hold_placeholder(turn, found)
                return self._from_documents(turn)
            if found.best.entry.flow:
                return _start_flow(turn, found)
            return _in_language(_answer(found), turn, located.language)
        turn.note(_below(found, settings.threshold))
        return self._from_documents(turn)

    def _from_documents(self, turn: Turn) -> Decision | None:
        settings = turn.config.kb
        if self.documents is None or not self.documents.loaded:
            return None
        retrieval = self.documents.search(turn.message.text, k=max(settings.candidates, 3))
        best = retrieval.best
        if best is None:
            turn.note("kb: no article resembles the message")
            return None
        if retrieval.confidence >= settings.documents_threshold:
            return _article_answer(turn.message.text, retrieval)
        passages = grounding(retrieval.hits, settings.candidates)
        turn.candidates = [*turn.candidates, *passages]
        turn.note(
            f"kb: best article {best.doc_id} at confidence {best.confidence:.2f} "
            f"(documents_threshold {settings.documents_threshold:.2f}); {len(passages)} passages passed on"
        )
        return None


def _start_flow(turn: Turn, found: Match) -> None:
    """An entry with ``flow = "NAME"``: the flows stage after this one starts that flow."""
    assert found.best is not None
    entry = found.best.entry
    turn.flow = entry.flow
    turn.note(f"kb: FAQ {entry.id} matched with confidence {found.confidence:.2f}; starts flow {entry.flow!r}")
    return None


def _ground(turn: Turn, found: Match) -> None:
    turn.candidates = [  # a placeholder answer is no grounding: the LLM would repeat it
        Candidate(s.entry.id, s.entry.question, s.entry.answer, s.score)
        for s in found.candidates
        if not s.entry.placeholder
    ]
    turn.kb_score = found.confidence
    turn.kb_margin = found.margin


def _hold_placeholder(turn: Turn, found: Match) -> None:
    """Note (and log) that the best entry's answer is a placeholder, never sent: the turn goes on."""
    assert found.best is not None
    entry_id = found.best.entry.id
    logger.warning("kb: FAQ %s matched (confidence %.2f) but its answer is a placeholder, not sent: "
                   "write it in the FAQ file", entry_id, found.confidence)
    turn.note(f"kb: best FAQ {entry_id} at confidence {found.confidence:.2f} has a placeholder answer, not sent")


def _below(found: Match, threshold: float) -> str:
    if found.best is None:
        return "kb: no FAQ entry resembles the message"
    return (
        f"kb: best FAQ {found.best.entry.id} at confidence {found.confidence:.2f} "
        f"(threshold {threshold:.2f}); {len(found.candidates)} candidates passed on"
    )


def _answer(found: Match) -> Decision:
    assert found.best is not None
    entry = found.best.entry
    runner = found.runner_up
    return Decision(
        stage="kb",
        reason=f"FAQ {entry.id} matched with confidence {found.confidence:.2f}",
        text=entry.answer,
        buttons=entry.buttons,
        details={
            "faq_id": entry.id,
            "score": found.confidence,
            "runner_up": runner.entry.id if runner else None,
            "runner_up_score": runner.score if runner else None,
            "margin": round(found.margin, 4),
        },
    )


def _in_language(decision: Decision, turn: Turn, faq_language: str) -> Decision:
    """An answer from another language's FAQ says so first, in the customer's language."""
    if faq_language == turn.language:
        return decision
    note = turn.config.messages.for_language(turn.language).other_language_note
    text = f"{note}\n{decision.text}" if note else decision.text
    return replace(decision, text=text, details={**decision.details, "faq_language": faq_language})


def _library(config: Config) -> DocumentLibrary | None:
    return DocumentLibrary(sources_from_config(config)) if config.kb.documents else None


def _article_answer(question: str, retrieval: Retrieval) -> Decision:
    best = retrieval.best
    assert best is not None
    runner = retrieval.hits[1] if len(retrieval.hits) > 1 else None
    text, source = extractive_answer(question, best)
    return Decision(
        stage="kb",
        reason=f"article {best.doc_id} matched with confidence {best.confidence:.2f}",
        text=text,
        sources=(source,),
        details={
            "doc_id": best.doc_id,
            "score": best.confidence,
            "section": best.passages[0].heading,
            "sources": [{"title": source.title, "url": source.url, "doc_id": best.doc_id}],
            "bm25": best.bm25,
            "dense": best.dense,
            "runner_up": runner.doc_id if runner else None,
            "runner_up_score": runner.confidence if runner else None,
        },
    )
