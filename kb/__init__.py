"""The knowledge base: an FAQ file, a calibrated matcher and the ``kb`` stage.

Wiring (the hub)::

    knowledge = KnowledgeBase.from_config(config)
    async with knowledge:                 # loads, trains once, watches the file
        chain = StageChain([..., KnowledgeStage(knowledge), ...])
"""

from kb.faq import Faq, FaqEntry, load_faq, parse_faq
from kb.knowledge import KnowledgeBase
from kb.matcher import Match, Matcher, ScoredEntry, train_matcher
from kb.stage import KnowledgeStage

__all__ = [
    "Faq",
    "FaqEntry",
    "KnowledgeBase",
    "KnowledgeStage",
    "Match",
    "Matcher",
    "ScoredEntry",
    "load_faq",
    "parse_faq",
    "train_matcher",
]
