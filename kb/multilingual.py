"""Which FAQ answers a question: the one in the customer's language, else the default's.

Each language has its own FAQ file and matcher (:mod:`kb.knowledge`). A question is
matched against the FAQ in its language (``turn.language``). Where that FAQ has no
confident answer, or there is no FAQ in that language at all,
``[languages] missing`` decides:

* ``"default"``: the default language's FAQ is asked too; a confident match is
  answered from the customer's FAQ when it has the same entry (same id: a question
  in mixed or misdetected language still gets the customer's language), else in the
  default language, after ``[messages] other_language_note`` in the customer's
  language.
* ``"llm"``: nothing is answered from another language; the default language's best
  entries still go to the LLM stage as grounding when the customer's language has
  no FAQ, and the LLM answers in the customer's language (providers/prompt.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.knowledge import KnowledgeBase
from kb.matcher import Match, ScoredEntry

__all__ = ["Found", "find"]


@dataclass(frozen=True, slots=True)
class Found:
    """The match to act on; ``language`` is the FAQ's it came from; ``answerable``:
    may the stage answer with it (False: grounding only)."""

    match: Match
    language: str
    answerable: bool = True
    note: str = ""


def find(
    knowledge: KnowledgeBase, text: str, language: str, *, channel: str | None, candidates: int,
    threshold: float, missing: str,
) -> Found:
    """The best match for ``text`` written in ``language`` (see the module docstring)."""
    default = knowledge.default
    own = knowledge.matcher_for(language)
    if own is not None:
        found = own.match(text, channel=channel, candidates=candidates)
        if found.confidence >= threshold or own.language == default or missing != "default":
            return Found(found, own.language)
        fallback = knowledge.matcher.match(text, channel=channel, candidates=candidates)
        if fallback.best is None or fallback.confidence < threshold:
            return Found(found, own.language)
        translated = own.faq.get(fallback.best.entry.id)
        if translated is not None:  # matched in the default language, answered in the customer's
            best = ScoredEntry(translated, fallback.best.score)
            note = f"kb: matched in the {default} FAQ; answered from the {language} entry"
            return Found(Match(best, fallback.runner_up, (best, *fallback.candidates[1:])), own.language, note=note)
        return Found(fallback, default, note=f"kb: no FAQ {language} entry; answered from the {default} FAQ")
    found = knowledge.matcher.match(text, channel=channel, candidates=candidates)
    if missing == "llm":
        note = f"kb: no FAQ in {language}; {default} entries passed on to the LLM as grounding only"
        return Found(found, default, answerable=False, note=note)
    return Found(found, default, note=f"kb: no FAQ in {language}; matched against the {default} FAQ")
