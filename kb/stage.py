"""The ``kb`` stage: answer from the FAQ when the matcher is confident enough.

Above ``[kb] threshold`` the stage answers with the entry's text and buttons.
Below it the stage passes ("not mine"), but first attaches the best
``[kb] candidates`` entries to the turn as grounding for the LLM stage, with
the confidence and margin, so later stages (tier routing) can use them.
"""

from __future__ import annotations

import logging

from hub.config import Config
from hub.errors import ConfigError
from hub.stages import Candidate, Decision, Turn
from kb.knowledge import KnowledgeBase
from kb.matcher import Match

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

    def __init__(self, knowledge: KnowledgeBase, *, enabled: bool = True) -> None:
        self.knowledge = knowledge
        self.enabled = enabled

    @classmethod
    def from_config(cls, config: Config) -> KnowledgeStage:
        return cls(KnowledgeBase.from_config(config), enabled=config.kb.enabled)

    async def __aenter__(self) -> KnowledgeStage:
        if self.enabled:
            await self.knowledge.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.knowledge.__aexit__(*exc_info)

    async def reconfigure(self, old: Config, new: Config) -> None:
        self.enabled = new.kb.enabled
        path = new.resolve(new.kb.path)
        if not self.enabled or (path == self.knowledge.path and self.knowledge.loaded):
            return
        fresh = KnowledgeBase(path)
        try:
            await fresh.__aenter__()
        except ConfigError as exc:
            logger.error("knowledge base at %s not loaded, keeping the current one:\n%s", path, exc)
            return
        await self.knowledge.__aexit__(None, None, None)
        self.knowledge = fresh

    def health(self) -> dict[str, object]:
        if not self.enabled:
            return {"status": "ok", "enabled": False}
        if not self.knowledge.loaded:
            return {"status": "down", "error": "not loaded"}
        error = self.knowledge.last_error
        return {
            "status": "ok",
            "entries": len(self.knowledge.faq),
            "last_reload_error": str(error) if error else None,
        }

    async def __call__(self, turn: Turn) -> Decision | None:
        settings = turn.config.kb
        if not settings.enabled or not self.knowledge.loaded:
            return None
        found = self.knowledge.matcher.match(
            turn.message.text, channel=turn.message.channel, candidates=settings.candidates
        )
        _ground(turn, found)
        if turn.forced_tier:
            turn.note(f"kb: not answering, a rule routed this to tier {turn.forced_tier!r}")
            return None
        if found.best is None or found.confidence < settings.threshold:
            turn.note(_below(found, settings.threshold))
            return None
        if found.best.entry.flow:
            return _start_flow(turn, found)
        return _answer(found)


def _start_flow(turn: Turn, found: Match) -> None:
    """An entry with ``flow = "NAME"``: the flows stage after this one starts that flow."""
    assert found.best is not None
    entry = found.best.entry
    turn.flow = entry.flow
    turn.note(f"kb: FAQ {entry.id} matched with confidence {found.confidence:.2f}; starts flow {entry.flow!r}")
    return None


def _ground(turn: Turn, found: Match) -> None:
    turn.candidates = [
        Candidate(s.entry.id, s.entry.question, s.entry.answer, s.score) for s in found.candidates
    ]
    turn.kb_score = found.confidence
    turn.kb_margin = found.margin


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
