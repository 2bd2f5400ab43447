"""Customer sentiment for the hand-off policy, scored by VADER.

VADER (the ``vaderSentiment`` package) is a lexicon- and rule-based scorer
for short social-media-style text: no model download, no network. Its
``compound`` score runs from -1 (very negative) to +1 (very positive).
"""

from __future__ import annotations

from functools import cached_property

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["SentimentScorer"]


class SentimentScorer:
    """Scores text; the lexicon is loaded on first use, once per scorer."""

    @cached_property
    def _analyzer(self) -> SentimentIntensityAnalyzer:
        return SentimentIntensityAnalyzer()

    def score(self, text: str) -> float:
        """VADER's compound score in [-1, 1]; below 0 is negative."""
        return float(self._analyzer.polarity_scores(text)["compound"])
