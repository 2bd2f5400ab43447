"""How much model a question deserves: a fast, explainable score in [0, 1].

The score adds up named signals from the message and the conversation, so a
decision can say *why* it went to a tier ("2 questions, order number, KB
unsure"). Tiers take questions up to their ``max_score``, cheapest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hub.config import LLMTierConfig
from hub.stages import Turn

__all__ = ["Complexity", "pick_tier", "score_turn"]

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"(?:#|\bno\.?\s?|\bnumber\s?)?\b[A-Z]{0,3}-?\d{5,}\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:order|account|invoice|reference|ticket|case)\s*(?:#|no\.?|number)?\s*[A-Z]*-?\d{3,}", re.IGNORECASE)
_COMPLAINT = re.compile(
    r"\b(?:complain\w*|unacceptable|terrible|awful|disgusting|ridiculous|furious|angry|"
    r"worst|useless|scam|fraud\w*|still (?:not|no|waiting|haven't)|again and again|"
    r"third time|fed up|disappointed|refund me|cancel everything)\b",
    re.IGNORECASE,
)
_LEGAL = re.compile(
    r"\b(?:legal\w*|lawyer|attorney|solicitor|sue|suing|lawsuit|court|regulator|ombudsman|"
    r"gdpr|data protection|liable|liability|compensation|contract|terms and conditions)\b",
    re.IGNORECASE,
)
_HIGH_TAGS = frozenset({"urgent", "vip", "complaint"})


@dataclass(frozen=True, slots=True)
class Complexity:
    """A score and the signals that made it, for the decision's reason."""

    score: float
    signals: tuple[str, ...]

    def explain(self) -> str:
        return ", ".join(self.signals) or "plain question"


def _text_signals(text: str) -> list[tuple[str, float]]:
    signals: list[tuple[str, float]] = []
    words = len(_WORD.findall(text))
    if words > 60:
        signals.append((f"long ({words} words)", 0.2))
    elif words > 25:
        signals.append((f"longish ({words} words)", 0.1))
    questions = text.count("?")
    if questions >= 2:
        signals.append((f"{questions} questions", 0.15))
    if _ACCOUNT.search(text) or _NUMBER.search(text):
        signals.append(("account or order number", 0.15))
    if _COMPLAINT.search(text):
        signals.append(("complaint words", 0.25))
    if _LEGAL.search(text):
        signals.append(("legal words", 0.3))
    return signals


def _context_signals(turn: Turn) -> list[tuple[str, float]]:
    signals: list[tuple[str, float]] = []
    if turn.kb_score is None:
        signals.append(("no KB match", 0.1))
    else:
        unsure = 0.25 * (1.0 - max(0.0, min(1.0, turn.kb_score)))
        if unsure >= 0.05:
            signals.append((f"KB best {turn.kb_score:.2f}", unsure))
        if turn.kb_margin is not None and turn.kb_margin < 0.05 and len(turn.candidates) > 1:
            signals.append(("KB candidates close", 0.05))
    failures = turn.conversation.failures
    if failures:
        signals.append((f"{failures} earlier failure(s)", min(0.3, 0.15 * failures)))
    tags = sorted(_HIGH_TAGS & turn.tags)
    if tags:
        signals.append((f"tagged {', '.join(tags)}", 0.1))
    return signals


def score_turn(turn: Turn) -> Complexity:
    """The complexity of ``turn``'s message in its conversation."""
    signals = _text_signals(turn.message.text) + _context_signals(turn)
    score = min(1.0, sum(weight for _, weight in signals))
    return Complexity(round(score, 3), tuple(name for name, _ in signals))


def pick_tier(tiers: Sequence[LLMTierConfig], score: float) -> int:
    """Index of the cheapest tier whose ``max_score`` admits ``score`` (else the last)."""
    for index, tier in enumerate(tiers):
        if score <= tier.max_score:
            return index
    return len(tiers) - 1
