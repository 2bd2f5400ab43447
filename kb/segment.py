"""How the matcher reads the text of one language: words, character n-grams, spelling.

* **Spaced scripts** (English, French, German, ...): words are ``\\w+`` runs, lower
  case; character 2-5-grams are taken within words (scikit-learn's ``char_wb``).
  Only English questions are spelling-corrected (:mod:`kb.spelling` knows English
  words; for another language it would "correct" real words it does not know).
* **Chinese** (``zh``): text is folded first (NFKC, so full-width ``ＡＢＣ１２３``
  reads ``abc123``; lower case; traditional characters to simplified with OpenCC's
  ``t2s`` table, so ``訂單`` is ``订单``), then segmented into words by jieba
  (its dictionary ships in the package; loaded once per process, ~1 s), with
  punctuation dropped. Character n-grams are 1-3 characters within each run of
  text between spaces and punctuation: a Chinese word is often one or two
  characters, and a segmenter's mistake on a rare word is caught by its characters.

``analysis_for(language)`` gives the :class:`Analysis` the matcher uses for an FAQ
of that language; English's is exactly what the matcher did before languages.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.text import simplified
from kb.spelling import WORD

__all__ = ["Analysis", "analysis_for", "zh_words"]

logger = logging.getLogger(__name__)

# A run of text between spaces and punctuation (word characters only).
_RUN = re.compile(r"\w+")
_JIEBA_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Analysis:
    """The text model of one language, as the matcher's vectorisers need it.

    ``normalise`` runs on every phrasing and question before anything else;
    ``words`` gives the word tokens (word TF-IDF, vocabulary evidence);
    ``char`` is a scikit-learn analyzer name (``char_wb``) or a callable, with
    ``char_range``; ``spelling``: whether questions are spelling-corrected.
    """

    language: str
    normalise: Callable[[str], str]
    words: Callable[[str], list[str]]
    char: str | Callable[[str], list[str]]
    char_range: tuple[int, int]
    spelling: bool

    @property
    def spaced(self) -> bool:
        return self.char == "char_wb"


def analysis_for(language: str) -> Analysis:
    """The text model for an FAQ in ``language`` (ISO 639-1; "zh-TW" reads as "zh")."""
    base = (language or "en").lower().split("-")[0]
    if base == "zh":
        return Analysis("zh", _fold_zh, zh_words, _zh_char_ngrams, (1, 3), spelling=False)
    return Analysis(base, _same, _spaced_words, "char_wb", (2, 5), spelling=base == "en")


def _same(text: str) -> str:
    return text


def _spaced_words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _fold_zh(text: str) -> str:
    return simplified(unicodedata.normalize("NFKC", text).lower())


def zh_words(text: str) -> list[str]:
    """jieba's words of (already folded) text, without punctuation or spaces."""
    return list(_segmented(text))


@lru_cache(maxsize=4096)
def _segmented(text: str) -> tuple[str, ...]:
    """A question is segmented once: its word n-grams, its embedding and the
    matcher's vocabulary evidence all ask for its words."""
    if not text:
        return ()
    return tuple(w for w in _jieba().lcut(text) if _RUN.fullmatch(w))


def _zh_char_ngrams(text: str) -> list[str]:
    """Character 1-3-grams within each run of word characters."""
    grams: list[str] = []
    for run in _RUN.findall(text):
        for n in (1, 2, 3):
            grams += [run[i : i + n] for i in range(len(run) - n + 1)]
    return grams


def _jieba() -> Any:
    """jieba's default tokenizer, initialised once (thread-safe; its own log lines muted)."""
    import jieba

    with _JIEBA_LOCK:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.dt.initialize()
            logger.debug("jieba dictionary loaded")
    return jieba.dt
