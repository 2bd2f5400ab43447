"""Match a customer's question to an FAQ entry, with a calibrated confidence.

How it works (docs/kb.md has the long version):

1. **Features.** Every phrasing (question + examples) becomes a TF-IDF vector of
   character n-grams (2-5, within words: robust to typos) next to word uni- and
   bigrams, both L2-normalised, concatenated.
2. **Ranking.** A linear SVM (one-vs-rest, liblinear) scores every entry.
3. **Evidence for the top candidates.** For each of the best few entries: its
   SVM score, its margin over the best other entry, the cosine similarity to
   that entry's nearest phrasing, the best similarity to any phrasing, how much
   of the query's (IDF-weighted) vocabulary the KB and that entry know, and a
   rapidfuzz ``token_sort_ratio`` against the entry's phrasings.
4. **Calibration.** A logistic regression turns that evidence into P(right).
   It is fitted on the FAQ's own data only: a model trained on part of the
   entries and phrasings answers the held-out phrasings (seen entries: right
   or wrong) and the phrasings of held-out *entries* (never right: they stand
   for questions the FAQ does not cover). Small FAQs use built-in coefficients.

Everything trains in seconds; a query costs a few hundred microseconds.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, utils
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from kb.faq import Faq, FaqEntry

__all__ = ["Match", "Matcher", "ScoredEntry", "train_matcher"]

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
_WORD = re.compile(r"(?u)\b\w+\b")
_N_EVIDENCE = 7

# Calibration used when the FAQ is too small to fit its own (fitted on BANKING77
# and CLINC150 training data, see docs/kb.md); order follows _evidence().
_DEFAULT_COEF = np.array([1.2, 1.1, 2.6, 1.6, 0.75, 2.55, 4.1])
_DEFAULT_INTERCEPT = -9.0
_MIN_CALIBRATION_ROWS = 300


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    """An FAQ entry with the probability that it answers the question."""

    entry: FaqEntry
    score: float


@dataclass(frozen=True, slots=True)
class Match:
    """The matcher's verdict: best entry, calibrated confidence, runner-up."""

    best: ScoredEntry | None
    runner_up: ScoredEntry | None
    candidates: tuple[ScoredEntry, ...]

    @property
    def entry(self) -> FaqEntry | None:
        return self.best.entry if self.best else None

    @property
    def confidence(self) -> float:
        return self.best.score if self.best else 0.0

    @property
    def margin(self) -> float:
        """Confidence of the best entry minus that of the runner-up."""
        return self.confidence - (self.runner_up.score if self.runner_up else 0.0)


NO_MATCH = Match(None, None, ())


class _Vectoriser:
    """Char n-gram + word TF-IDF, with a fast path for a single query."""

    def __init__(self) -> None:
        self.char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float32
        )
        self.word = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
            token_pattern=_WORD.pattern, dtype=np.float32,
        )

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        parts = [self.char.fit_transform(texts), self.word.fit_transform(texts)]
        self._char_analyse = self.char.build_analyzer()
        self._word_analyse = self.word.build_analyzer()
        self._offset = len(self.char.vocabulary_)
        self.width = self._offset + len(self.word.vocabulary_)
        self.word_idf = {w: float(self.word.idf_[i]) for w, i in self.word.vocabulary_.items() if " " not in w}
        self.max_idf = float(self.word.idf_.max()) if len(self.word.idf_) else 1.0
        return _scaled(sp.hstack(parts).tocsr())

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return _scaled(sp.hstack([self.char.transform(texts), self.word.transform(texts)]).tocsr())

    def one(self, text: str) -> _Sparse:
        """The same vector as ``transform([text])``, without sklearn's per-call overhead."""
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for analyse, vec, offset in (
            (self._char_analyse, self.char, 0),
            (self._word_analyse, self.word, self._offset),
        ):
            idx, weights = _tfidf(analyse(text), vec.vocabulary_, vec.idf_)
            cols.append(idx + offset)
            vals.append(weights)
        return _Sparse(np.concatenate(cols), np.concatenate(vals) * np.float32(math.sqrt(0.5)))


@dataclass(frozen=True, slots=True)
class _Sparse:
    """A query vector: column indices and weights."""

    indices: np.ndarray
    data: np.ndarray


def _tfidf(tokens: list[str], vocabulary: dict[str, int], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array(list(map(vocabulary.get, tokens, repeat(-1, len(tokens)))), np.int64)
    ids = ids[ids >= 0]
    if not len(ids):
        return np.empty(0, np.int64), np.empty(0, np.float32)
    idx, tf = np.unique(ids, return_counts=True)
    weights = ((1.0 + np.log(tf)) * idf[idx]).astype(np.float32)
    return idx, weights / np.sqrt(weights @ weights)


def _scaled(matrix: sp.csr_matrix) -> sp.csr_matrix:
    return (matrix * np.float32(math.sqrt(0.5))).astype(np.float32).tocsr()


class _Ranker:
    """The trained model without calibration: scores entries, gathers evidence."""

    def __init__(self, texts: Sequence[str], labels: np.ndarray, n_classes: int, c: float) -> None:
        order = np.argsort(labels, kind="stable")
        texts = [texts[i] for i in order]
        labels = labels[order]
        self.n_classes = n_classes
        self.vec = _Vectoriser()
        matrix = self.vec.fit_transform(texts)
        bounds = np.searchsorted(labels, np.arange(n_classes + 1))
        self.blocks = [matrix[bounds[k] : bounds[k + 1]] for k in range(n_classes)]
        self.fuzz_choices = [
            [utils.default_process(t) for t in texts[bounds[k] : bounds[k + 1]]] for k in range(n_classes)
        ]
        self.vocab = [set(_WORD.findall(" ".join(texts[bounds[k] : bounds[k + 1]]).lower())) for k in range(n_classes)]
        self.present = np.diff(bounds) > 0
        coef, self.intercept = _fit_linear(matrix, labels, n_classes, c)
        self.coef_t = np.ascontiguousarray(coef.T)

    def scores(self, vector: _Sparse) -> np.ndarray:
        """One SVM score per entry (entries absent from training get -inf)."""
        out = vector.data @ self.coef_t[vector.indices] + self.intercept
        out[~self.present] = -np.inf
        return out

    def evidence(self, text: str, vector: _Sparse, scores: np.ndarray, classes: Sequence[int]) -> np.ndarray:
        """One row of calibration features per entry in ``classes`` (the best-scored few)."""
        dense = np.zeros(self.vec.width, np.float32)
        dense[vector.indices] = vector.data
        sims = [self.blocks[k] @ dense for k in classes]
        nearest = [float(s.max()) if len(s) else 0.0 for s in sims]
        tokens = _WORD.findall(text.lower())
        idf = np.array([self.vec.word_idf.get(t, self.vec.max_idf) for t in tokens])
        known = _share(idf, [t in self.vec.word_idf for t in tokens])
        query = utils.default_process(text)
        first, second = _top_two(scores)
        rows = []
        for k, sim, near in zip(classes, sims, nearest, strict=True):
            rival = second[1] if k == first[0] else first[1]
            own = _share(idf, [t in self.vocab[k] for t in tokens])
            rows.append([scores[k], scores[k] - rival, near, max(nearest), known, own, self._fuzz(query, k, sim)])
        return np.array(rows, dtype=np.float64)

    def _fuzz(self, query: str, k: int, sims: np.ndarray) -> float:
        """rapidfuzz token_sort_ratio against the entry's closest phrasings."""
        choices = self.fuzz_choices[k]
        if not query or not choices:
            return 0.0
        nearest = np.argsort(-sims)[:_FUZZ_NEIGHBOURS]
        return max(fuzz.token_sort_ratio(query, choices[i], processor=None) for i in nearest) / 100.0


_FUZZ_NEIGHBOURS = 5


def _top_two(scores: np.ndarray) -> tuple[tuple[int, float], tuple[int, float]]:
    """(index, score) of the best entry, and the second best (score -1 if none)."""
    if len(scores) < 2:
        return (0, float(scores[0])), (-1, -1.0)
    i, j = np.argpartition(-scores, 1)[:2]
    if scores[j] > scores[i]:
        i, j = j, i
    second = float(scores[j]) if np.isfinite(scores[j]) else -1.0
    return (int(i), float(scores[i])), (int(j), second)


def _share(idf: np.ndarray, mask: Sequence[bool]) -> float:
    return float(idf[np.array(mask, dtype=bool)].sum() / idf.sum()) if len(idf) else 0.0


def _fit_linear(matrix: sp.csr_matrix, labels: np.ndarray, n_classes: int, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense one-vs-rest weights, one row per entry (rows of absent entries stay zero)."""
    coef = np.zeros((n_classes, matrix.shape[1]), np.float32)
    intercept = np.zeros(n_classes, np.float32)
    classes = np.unique(labels)
    if len(classes) < 2:
        coef[classes] = np.asarray(matrix.mean(axis=0)).ravel()
        return coef, intercept
    model = LinearSVC(C=c).fit(matrix, labels)
    if len(classes) == 2:
        coef[classes[1]], intercept[classes[1]] = model.coef_[0], model.intercept_[0]
        coef[classes[0]], intercept[classes[0]] = -model.coef_[0], -model.intercept_[0]
    else:
        coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_
    return coef, intercept


class Matcher:
    """A trained FAQ matcher. Build with :func:`train_matcher`; reuse across messages."""

    def __init__(self, faq: Faq, ranker: _Ranker, coef: np.ndarray, intercept: float, train_s: float):
        self.faq = faq
        self._ranker = ranker
        self._coef = coef
        self._intercept = intercept
        self.train_s = train_s

    def match(self, text: str, channel: str | None = None, candidates: int = 3) -> Match:
        """The best entry for ``text`` (served on ``channel``), runner-up and top candidates."""
        text = (text or "")[:MAX_QUERY_CHARS]
        if not text.strip():
            return NO_MATCH
        vector = self._ranker.vec.one(text)
        if len(vector.indices) == 0:
            return NO_MATCH
        scores = self._ranker.scores(vector)
        top = self._best(scores, channel, max(2, candidates))
        if not top:
            return NO_MATCH
        probs = self._calibrate(self._ranker.evidence(text, vector, scores, top))
        ranked = sorted(zip(top, probs, strict=True), key=lambda kp: -kp[1])
        scored = tuple(ScoredEntry(self.faq.entries[k], round(float(p), 4)) for k, p in ranked)
        return Match(scored[0], scored[1] if len(scored) > 1 else None, scored[:candidates])

    def _best(self, scores: np.ndarray, channel: str | None, n: int) -> list[int]:
        """The ``n`` best-scored entries served on ``channel``."""
        top: list[int] = []
        for k in np.argsort(-scores).tolist():
            if not np.isfinite(scores[k]) or len(top) == n:
                break
            if self.faq.entries[k].serves(channel):
                top.append(k)
        return top

    def _calibrate(self, evidence: np.ndarray) -> np.ndarray:
        logits = evidence @ self._coef + self._intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


def train_matcher(faq: Faq, *, c: float = 1.0, seed: int = 0) -> Matcher:
    """Train the ranker on every phrasing and fit the calibration (seconds)."""
    started = time.perf_counter()
    texts, labels = _phrasings(faq)
    ranker = _Ranker(texts, labels, len(faq.entries), c)
    coef, intercept = _fit_calibration(texts, labels, len(faq.entries), c, seed)
    train_s = time.perf_counter() - started
    logger.info("trained the KB matcher on %d phrasings of %d entries in %.1f s", len(texts), len(faq), train_s)
    return Matcher(faq, ranker, coef, intercept, train_s)


def _phrasings(faq: Faq) -> tuple[list[str], np.ndarray]:
    texts: list[str] = []
    labels: list[int] = []
    for k, entry in enumerate(faq.entries):
        for phrasing in entry.phrasings:
            texts.append(phrasing[:MAX_QUERY_CHARS])
            labels.append(k)
    return texts, np.array(labels, dtype=np.int64)


# Share of entries held out as "not in the FAQ", share of the remaining phrasings
# held out as ordinary questions, and the weight of the held-out-entry rows.
_OUT_ENTRIES = 0.2
_OUT_PHRASINGS = 0.15
_OUT_WEIGHT = 0.5


def _fit_calibration(
    texts: list[str], labels: np.ndarray, n_classes: int, c: float, seed: int
) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    out_classes = rng.choice(classes, int(len(classes) * _OUT_ENTRIES), replace=False)
    unseen = np.isin(labels, out_classes)
    held = ~unseen & (rng.random(len(labels)) < _OUT_PHRASINGS)
    train = ~unseen & ~held
    asked = np.flatnonzero(held | unseen)
    if len(asked) < _MIN_CALIBRATION_ROWS or len(np.unique(labels[train])) < 2:
        return _DEFAULT_COEF, _DEFAULT_INTERCEPT
    ranker = _Ranker([texts[i] for i in train.nonzero()[0]], labels[train], n_classes, c)
    rows, right = _calibration_rows(ranker, texts, labels, asked, unseen)
    if right.all() or not right.any():
        return _DEFAULT_COEF, _DEFAULT_INTERCEPT
    weight = np.where(unseen[asked], _OUT_WEIGHT, 1.0)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(rows, right, sample_weight=weight)
    return model.coef_[0], float(model.intercept_[0])


def _calibration_rows(
    ranker: _Ranker, texts: list[str], labels: np.ndarray, asked: np.ndarray, unseen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    right = []
    for i in asked:
        vector = ranker.vec.one(texts[i])
        scores = ranker.scores(vector)
        best = int(np.argmax(scores))
        rows.append(ranker.evidence(texts[i], vector, scores, [best])[0])
        right.append(best == labels[i] and not unseen[i])
    return np.array(rows), np.array(right)
