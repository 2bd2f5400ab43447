"""Text normalisation for matching: rules, hand-off phrases, the turn's folded text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["fold", "phrase_regex"]


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse white space: "Crème  Brûlée" -> "creme brulee"."""
    if text.isascii():  # the common case, ten times cheaper
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@lru_cache(maxsize=1024)
def phrase_regex(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any phrase as whole words, on folded text."""
    parts = [r"\s+".join(map(re.escape, fold(p).split())) for p in phrases if fold(p)]
    if not parts:
        return None
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")
