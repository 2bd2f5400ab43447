"""Which language a customer writes in, per message, restricted to what the shop supports.

Detection uses lingua (``lingua-language-detector``: offline, n-gram models in its
wheel, the most accurate detector on short texts we measured; see docs/languages.md).
It only chooses among ``[languages] supported``; with one supported language
nothing is loaded and every message is in it.

A conversation keeps its language unless the customer clearly switches: a message
too short to tell ("ok", "#123", an emoji) stays in the conversation's language, and
a switch needs a confident detection on a message of some length. The first
message of a conversation falls back to ``[languages] default`` when unsure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["SUPPORTED_CODES", "LanguageDetector", "language_name"]

logger = logging.getLogger(__name__)

# The ISO 639-1 codes lingua knows (lingua.Language.all()), so that the config can be
# checked without loading a single model.
SUPPORTED_CODES = frozenset(
    "af ar az be bg bn bs ca cs cy da de el en eo es et eu fa fi fr ga gu he hi hr hu hy"
    " id is it ja ka kk ko la lg lt lv mi mk mn mr ms nb nl nn pa pl pt ro ru sk sl sn"
    " so sq sr st sv sw ta te th tl tn tr ts uk ur vi xh yo zh zu".split()
)

FIRST_CONFIDENCE = 0.4  # a conversation's first message: below this, the default (bench/language_detection.py)
SWITCH_CONFIDENCE = 0.9  # a later message must be this sure to change the language
SWITCH_MIN_LETTERS = 12  # ...and this long (letters, for alphabetic scripts)
MIN_LETTERS = 3  # fewer letters than this says nothing about the language
CJK_WEIGHT = 4  # one Han/kana/hangul character counts as this many letters


def language_name(code: str) -> str:
    """The English name of a language code: "zh" -> "Chinese", "pt-BR" -> "Portuguese" (the code if unknown)."""
    from lingua import IsoCode639_1, Language

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code.split("-")[0].lower())).name.title()
    except ValueError:
        return code


class LanguageDetector:
    """``detect(text, current)``: the language of one message, as an ISO 639-1 code."""

    def __init__(self, supported: Sequence[str], default: str) -> None:
        self.supported = tuple(supported)
        self.default = default
        self._detector: Any = None
        self._lock = threading.Lock()

    @property
    def single(self) -> bool:
        return len(self.supported) == 1

    def warm_up(self) -> None:
        """Load the models now (at start-up, off the event loop) rather than on first use."""
        if not self.single:
            self._models()

    def detect(self, text: str, current: str | None = None) -> str:
        """The language of ``text``, given the conversation's ``current`` language."""
        if self.single:
            return self.supported[0]
        fallback = current if current in self.supported else self.default
        letters = _letters(text)
        if letters < MIN_LETTERS:
            return fallback
        best, confidence = self._best(text)
        if best is None:
            return fallback
        if current not in self.supported:  # the conversation's first word
            return best if confidence >= FIRST_CONFIDENCE else self.default
        if best != current and confidence >= SWITCH_CONFIDENCE and letters >= SWITCH_MIN_LETTERS:
            return best
        return current

    def _best(self, text: str) -> tuple[str | None, float]:
        values = self._models().compute_language_confidence_values(text)
        if not values:
            return None, 0.0
        top = values[0]
        return top.language.iso_code_639_1.name.lower(), float(top.value)

    def _models(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, LanguageDetectorBuilder

                codes = [IsoCode639_1.from_str(code) for code in self.supported]
                builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
                self._detector = builder.with_preloaded_language_models().build()
                logger.info("language detection ready for %s", ", ".join(self.supported))
            return self._detector


def _letters(text: str) -> int:
    count = 0
    for char in text:
        if char.isalpha():
            count += CJK_WEIGHT if _wide(char) else 1
    return count


def _wide(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
    )
