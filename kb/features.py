"""What a question looks like to the matcher: TF-IDF n-grams and a sentence embedding.

* Character 2-5-grams within words (robust to typos and inflection) next to word
  uni- and bigrams (for Chinese: jieba's words and character 1-3-grams,
  :mod:`kb.segment`), TF-IDF with sublinear term frequency, each L2-normalised and
  scaled by sqrt(1/2) so the pair has unit length.
* Before either, a question's misspelt words are corrected to the FAQ words
  they most likely are, given the words around them (:mod:`kb.spelling`;
  English only); training phrasings are taken as they are.
* The sentence embedding (:mod:`kb.embedding`: WordLlama and a table distilled
  from MiniLM, side by side), unit length, scaled by ``EMBED_WEIGHT``: the
  linear model sees its main axes as more (dense) columns (:mod:`kb.matcher`).

``Vectoriser.one`` builds a single query without scikit-learn's per-call
overhead; it gives the same numbers as ``transform``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from kb.embedding import JointEmbedder, load_embedder
from kb.segment import Analysis, analysis_for
from kb.spelling import WORD, Speller, english_words

__all__ = ["EMBED_WEIGHT", "WORD", "Query", "Vectoriser", "training_matrix"]

# Weight of the embedding block next to the unit-length TF-IDF block (validated
# on BANKING77 and CLINC150 splits, docs/kb.md).
EMBED_WEIGHT = 1.0
_HALF = np.float32(math.sqrt(0.5))


@dataclass(frozen=True, slots=True)
class Query:
    """One question: its text (spelling corrected), sparse TF-IDF columns and
    weights, its embedding, and the share of its words the speller did not know."""

    text: str
    indices: np.ndarray
    data: np.ndarray
    embedding: np.ndarray
    unknown: float = 0.0


class Vectoriser:
    """Fit on the FAQ's phrasings; turns texts into (sparse TF-IDF, dense embedding)."""

    def __init__(self, embedder: JointEmbedder | None = None, analysis: Analysis | None = None) -> None:
        self.embedder = embedder or load_embedder()
        self.analysis = analysis or analysis_for("en")
        if self.analysis.spaced:
            self.char = TfidfVectorizer(
                analyzer="char_wb", ngram_range=self.analysis.char_range, sublinear_tf=True, dtype=np.float32
            )
            self.word = TfidfVectorizer(
                analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                token_pattern=WORD.pattern, dtype=np.float32,
            )
        else:  # the analysis makes its own n-grams; segmented words (kb.segment), uni- and bigrams
            self.char = TfidfVectorizer(analyzer=self.analysis.char, sublinear_tf=True, dtype=np.float32)
            self.word = TfidfVectorizer(analyzer=self._word_ngrams, sublinear_tf=True, dtype=np.float32)

    def words(self, text: str) -> list[str]:
        """The word tokens of a (normalised) text, as the word n-grams see them."""
        return self.analysis.words(text)

    def _word_ngrams(self, text: str) -> list[str]:
        words = self.analysis.words(text)
        return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The TF-IDF block for the phrasings (embed them with ``self.embedder``);
        ``texts`` are normalised already (``analysis.normalise``)."""
        parts = [self.char.fit_transform(texts), self.word.fit_transform(texts)]
        self._char_analyse = self.char.build_analyzer()
        self._word_analyse = self.word.build_analyzer()
        self._offset = len(self.char.vocabulary_)
        self.width = self._offset + len(self.word.vocabulary_)
        self.word_idf = {w: float(self.word.idf_[i]) for w, i in self.word.vocabulary_.items() if " " not in w}
        self.max_idf = float(self.word.idf_.max()) if len(self.word.idf_) else 1.0
        self.speller = Speller(texts, english_words()) if self.analysis.spelling else None
        return (sp.hstack(parts).tocsr() * _HALF).astype(np.float32)

    def one(self, text: str) -> Query:
        """The same vectors a training phrasing gets, after spelling correction."""
        text = self.analysis.normalise(text)
        text, unknown = self.speller.read(text) if self.speller is not None else (text, 0.0)
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for analyse, vec, offset in (
            (self._char_analyse, self.char, 0),
            (self._word_analyse, self.word, self._offset),
        ):
            idx, weights = _tfidf(analyse(text), vec.vocabulary_, vec.idf_)
            cols.append(idx + offset)
            vals.append(weights)
        return Query(text, np.concatenate(cols), np.concatenate(vals) * _HALF, self.embedder.one(text), unknown)


def training_matrix(tfidf: sp.csr_matrix, embeddings: np.ndarray) -> sp.csr_matrix:
    """The linear model's input: TF-IDF columns, then the weighted embedding."""
    return sp.hstack([tfidf, sp.csr_matrix(embeddings * np.float32(EMBED_WEIGHT))], format="csr", dtype=np.float32)


def _tfidf(tokens: list[str], vocabulary: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column ids (unordered) and unit-length sublinear TF-IDF weights of known ``tokens``."""
    counts = Counter(map(vocabulary.get, tokens))
    counts.pop(None, None)  # n-grams the FAQ never used
    if not counts:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    n = len(counts)
    idx = np.fromiter(counts.keys(), np.int64, n)
    weights = (np.log(np.fromiter(counts.values(), np.float32, n)) + np.float32(1.0)) * idf[idx]
    return idx, weights / np.sqrt(weights @ weights)
