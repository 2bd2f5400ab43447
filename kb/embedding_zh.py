"""The sentence embedding of the Chinese matcher: a static word table distilled from e5.

The English tables (:mod:`kb.embedding`) were trained on English: they see a
Chinese character, if at all, as a rare byte sequence. For an FAQ in Chinese the
matcher adds a table of 16,000 Chinese words and characters, each a vector
distilled from multilingual-e5-small by :mod:`kb.distill_zh` (shipped in
``kb/data/``, 2 MB as int8), next to the two English ones. A sentence is the mean of its jieba words' rows (a
word the table lacks: the mean of its characters'), normalised; text the table
cannot read at all (Latin letters, digits, emoji) adds nothing, and the n-grams
carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from safetensors.numpy import load_file

from kb.distill_zh import ZH_TABLE, ZH_WORDS
from kb.embedding import JointEmbedder, dequantise, load_embedder
from kb.segment import analysis_for

__all__ = ["WordTableEmbedder", "embedder_for"]

logger = logging.getLogger(__name__)

_WORD_CACHE = 1 << 16


class WordTableEmbedder:
    """Mean of word vectors, unit length; ``embed`` for batches, ``one`` for a query."""

    def __init__(self, table: np.ndarray, words: Sequence[str]) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.dim = self.table.shape[1]
        self.rows = {word: row for row, word in enumerate(words)}
        self._analysis = analysis_for("zh")
        self._rows_of = lru_cache(maxsize=_WORD_CACHE)(self._word_rows)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            out[i] = self.one(text)
        return out

    def one(self, text: str) -> np.ndarray:
        """The text's unit vector (zeros when no word of it is in the table)."""
        rows: list[int] = []
        for word in self._analysis.words(self._analysis.normalise(text)):
            rows += self._rows_of(word)
        if not rows:
            return np.zeros(self.dim, np.float32)
        vector = self.table[rows].sum(axis=0)
        norm = float(np.sqrt(vector @ vector))
        return vector / norm if norm > 0 else vector

    def _word_rows(self, word: str) -> tuple[int, ...]:
        row = self.rows.get(word)
        if row is not None:
            return (row,)
        return tuple(self.rows[c] for c in word if c in self.rows)


@lru_cache(maxsize=1)
def _chinese() -> WordTableEmbedder:
    for path in (ZH_TABLE, ZH_WORDS):
        if not path.is_file():
            raise RuntimeError(f"the Chinese kb matcher needs {path} (rebuild it with python -m kb.distill_zh)")
    words = ZH_WORDS.read_text(encoding="utf-8").split("\n")[:-1]
    table = dequantise(load_file(str(ZH_TABLE)))
    if len(words) != len(table):
        raise RuntimeError(f"{ZH_WORDS} has {len(words)} words for {len(table)} rows of {ZH_TABLE}")
    logger.debug("loaded the Chinese word table (%d words)", len(words))
    return WordTableEmbedder(table, words)


def embedder_for(language: str) -> JointEmbedder:
    """The sentence embedding for an FAQ in ``language`` (loaded once per process)."""
    if analysis_for(language).language == "zh":
        return _joint_zh()
    return load_embedder()


@lru_cache(maxsize=1)
def _joint_zh() -> JointEmbedder:
    """The English tables and the Chinese one side by side: on SMP2017 (three splits)
    as accurate as the Chinese table alone and 1-2 points more coverage at the same
    precision (docs/languages.md)."""
    return JointEmbedder([*load_embedder().parts, _chinese()])
