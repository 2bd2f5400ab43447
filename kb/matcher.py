"""Match a customer's question to an FAQ entry, with a calibrated confidence.

How it works (docs/kb.md has the long version):

1. **Features** (:mod:`kb.features`). Every phrasing (question + examples)
   becomes a TF-IDF vector of character n-grams (2-5, within words: robust to
   typos) and word uni- and bigrams, next to a sentence embedding from two
   static token tables, WordLlama and one distilled from MiniLM
   (:mod:`kb.embedding`: meaning, not spelling; bundled weights, offline).
2. **Ranking.** A linear SVM (one-vs-rest, liblinear) on both scores every entry.
3. **Evidence for the top candidates** (:meth:`_Ranker.evidence`), in views that
   may agree or disagree: the SVM (score, margin, entropy), spelling (nearest
   phrasing by TF-IDF, rapidfuzz ratio, known vocabulary), meaning (nearest
   phrasing and centroid by embedding, votes of the nearest phrasings) and each
   view's margin over the best rival candidate.
4. **Calibration.** A logistic regression turns that evidence into P(right).
   It is fitted on the FAQ's own data only: a model trained on part of the
   entries and phrasings ranks the held-out phrasings (seen entries: right or
   wrong) and the phrasings of held-out *entries* (never right: they stand for
   questions the FAQ does not cover), each also asked with typos. Small FAQs
   use built-in coefficients.

Everything trains in seconds; a query costs under a millisecond.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from rapidfuzz import fuzz, utils
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from kb.embedding import JointEmbedder
from kb.embedding_zh import embedder_for
from kb.faq import Faq, FaqEntry
from kb.features import EMBED_WEIGHT, Query, Vectoriser, training_matrix
from kb.segment import Analysis, analysis_for
from kb.spelling import misspell

__all__ = ["Match", "Matcher", "ScoredEntry", "train_matcher"]

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000

# Calibration used when the FAQ is too small to fit its own, fitted on BANKING77
# and CLINC150 (`python -m bench.kb_calibration` prints it); order follows
# _Ranker.evidence().
_DEFAULT_COEF = np.array(
    [1.12, 1.59, 0.21, 0.57, -1.89, 2.11, 3.2, 1.76, 0.64, -0.65, -0.3, 2.8, -0.92, -0.12, 0.37, 0.34, 0.41, 0.52]
)
_DEFAULT_INTERCEPT = -6.73
_MIN_CALIBRATION_ROWS = 300
_N_EVIDENCE = len(_DEFAULT_COEF)


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


class _Ranker:
    """The trained model without calibration: scores entries, gathers evidence."""

    def __init__(
        self, texts: Sequence[str], embeddings: np.ndarray, labels: np.ndarray, n_classes: int, c: float,
        embedder: JointEmbedder, analysis: Analysis,
    ) -> None:
        order = np.argsort(labels, kind="stable")
        texts = [texts[i] for i in order]
        embeddings = embeddings[order]
        labels = labels[order]
        self.n_classes = n_classes
        self.vec = Vectoriser(embedder, analysis)
        matrix = self.vec.fit_transform(texts)
        bounds = np.searchsorted(labels, np.arange(n_classes + 1))
        spans = [slice(bounds[k], bounds[k + 1]) for k in range(n_classes)]
        self.blocks = [matrix[span] for span in spans]
        self.embedded = [embeddings[span] for span in spans]
        self.centroids = np.stack([_unit(e.sum(axis=0)) for e in self.embedded])
        self.fuzz_choices = [[utils.default_process(t) for t in texts[span]] for span in spans]
        self.vocab = [set(self.vec.words(" ".join(texts[span]))) for span in spans]
        self.sizes = np.diff(bounds)
        self.present = self.sizes > 0
        # The SVM sees the embedding's main axes only (a third of its dense columns,
        # a third less training); the weights are mapped back to the full
        # embedding, so a query is scored without projecting it.
        axes = _principal_axes(embeddings, _SVM_EMBED_DIMS)
        coef, self.intercept = _fit_linear(training_matrix(matrix, embeddings @ axes), labels, n_classes, c)
        self.coef_t = np.ascontiguousarray(coef[:, : self.vec.width].T)
        self.dense_t = np.ascontiguousarray(axes @ coef[:, self.vec.width :].T * np.float32(EMBED_WEIGHT))

    def scores(self, query: Query) -> np.ndarray:
        """One SVM score per entry (entries absent from training get -inf)."""
        out = query.data @ self.coef_t[query.indices] + query.embedding @ self.dense_t + self.intercept
        out[~self.present] = -np.inf
        return out

    def evidence(self, query: Query, scores: np.ndarray, classes: Sequence[int]) -> np.ndarray:
        """One row of calibration features per entry in ``classes`` (the best-scored few).

        Each view (SVM score, nearest phrasing by n-grams, by meaning, centroid) is
        also compared with the best rival among the top ``_RIVALS`` candidates: the
        views agreeing on one entry is strong evidence, disagreement is a reason to
        abstain.
        """
        dense = np.zeros(self.vec.width, np.float32)
        dense[query.indices] = query.data
        sims = [self.blocks[k] @ dense for k in classes]
        near = [_max(s) for s in sims]
        by_meaning = [self.embedded[k] @ query.embedding for k in classes]
        meaning = [_max(s) for s in by_meaning]
        centroid = (self.centroids[list(classes)] @ query.embedding).tolist()
        votes = _votes(by_meaning, self.sizes[list(classes)])
        tokens = self.vec.words(query.text)
        idf = np.array([self.vec.word_idf.get(t, self.vec.max_idf) for t in tokens])
        known = _share(idf, [t in self.vec.word_idf for t in tokens])
        own = [_share(idf, [t in self.vocab[k] for t in tokens]) for k in classes]
        text = utils.default_process(query.text)
        first, second = _top_two(scores)
        svm = scores[list(classes)]
        rival = np.array([second[1] if k == first[0] else first[1] for k in classes])
        rows = np.empty((len(classes), _N_EVIDENCE))
        rows[:, 0] = svm
        rows[:, 1] = svm - rival
        rows[:, 2] = near
        rows[:, 3] = max(near)
        rows[:, 4] = known
        rows[:, 5] = own
        rows[:, 6] = [self._fuzz(text, k, sim) for k, sim in zip(classes, sims, strict=True)]
        rows[:, 7] = meaning
        rows[:, 8] = max(meaning)
        rows[:, 9] = centroid
        rows[:, 10] = _versus(near)
        rows[:, 11] = _versus(meaning)
        rows[:, 12] = _versus(centroid)
        rows[:, 13] = _entropy(svm[:_RIVALS])
        rows[:, 14] = np.bincount(votes, minlength=len(classes)) / _NEIGHBOURS
        rows[:, 15] = np.bincount(votes[:3], minlength=len(classes)) / 3
        rows[:, 16] = np.log1p(len(tokens))
        rows[:, 17] = query.unknown
        return rows

    def _fuzz(self, query: str, k: int, sims: np.ndarray) -> float:
        """rapidfuzz token_sort_ratio against the entry's closest phrasings."""
        choices = self.fuzz_choices[k]
        if not query or not choices:
            return 0.0
        if len(sims) > _FUZZ_NEIGHBOURS:
            nearest = np.argpartition(-sims, _FUZZ_NEIGHBOURS - 1)[:_FUZZ_NEIGHBOURS]
        else:
            nearest = range(len(sims))
        return max(fuzz.token_sort_ratio(query, choices[i], processor=None) for i in nearest) / 100.0


def _votes(sims: list[np.ndarray], sizes: np.ndarray) -> np.ndarray:
    """Positions (in ``sims``) of the entries owning the ``_NEIGHBOURS`` closest phrasings, closest first."""
    values = np.concatenate(sims)
    n = min(_NEIGHBOURS, len(values))
    if n == 0:
        return np.empty(0, np.int64)
    nearest = np.argpartition(-values, n - 1)[:n]
    return np.repeat(np.arange(len(sims)), sizes)[nearest[np.argsort(-values[nearest])]]


def _versus(values: list[float]) -> list[float]:
    """Each value minus the best *other* value among the first ``_RIVALS`` (0 if none).

    Plain Python on purpose: a few candidates are far below numpy's per-call cost.
    """
    pool = values[:_RIVALS]
    if len(pool) < 2:
        return list(values)
    best = max(range(len(pool)), key=pool.__getitem__)
    rival = max(pool[:best] + pool[best + 1 :])
    return [v - (rival if i == best else pool[best]) for i, v in enumerate(values)]


def _principal_axes(embeddings: np.ndarray, n: int) -> np.ndarray:
    """(dim, <= n) orthonormal directions of most variance among the phrasings' embeddings."""
    centred = embeddings - embeddings.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return np.ascontiguousarray(axes[:n].T, dtype=np.float32)


def _max(values: np.ndarray) -> float:
    return float(values.max()) if len(values) else 0.0


def _entropy(scores: np.ndarray) -> float:
    """Entropy of the softmax over the best few SVM scores (0: one clear winner)."""
    finite = [float(x) for x in scores if math.isfinite(x)]
    if len(finite) < 2:
        return 0.0
    top = max(finite)
    weights = [math.exp(x - top) for x in finite]
    total = sum(weights)
    return -sum(w / total * math.log(w / total) for w in weights if w > 0)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.sqrt(vector @ vector))
    return vector / norm if norm > 0 else vector


_FUZZ_NEIGHBOURS = 5
# Embedding directions the SVM is trained on (of 384; docs/kb.md).
_SVM_EMBED_DIMS = 128
# Candidates each view is compared against; phrasings (of the candidates) that
# vote by meaning.
_RIVALS = 3
_NEIGHBOURS = 10


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

    def __init__(
        self, faq: Faq, ranker: _Ranker, coef: np.ndarray, intercept: float, train_s: float, language: str = "en"
    ):
        self.faq = faq
        self.language = language
        self._ranker = ranker
        self._coef = coef
        self._intercept = intercept
        self.train_s = train_s

    def match(self, text: str, channel: str | None = None, candidates: int = 3) -> Match:
        """The best entry for ``text`` (served on ``channel``), runner-up and top candidates."""
        text = (text or "")[:MAX_QUERY_CHARS]
        if not text.strip():
            return NO_MATCH
        query = self._ranker.vec.one(text)
        if len(query.indices) == 0:
            return NO_MATCH
        scores = self._ranker.scores(query)
        top = self._best(scores, channel, max(_RIVALS, candidates))
        if not top:
            return NO_MATCH
        probs = self._calibrate(self._ranker.evidence(query, scores, top))
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


def train_matcher(faq: Faq, *, c: float = 1.0, seed: int = 0, language: str | None = None) -> Matcher:
    """Train the ranker on every phrasing and fit the calibration (seconds).

    ``language`` (default: the FAQ's own, ``faq.language``, else English) picks how
    text is read (:mod:`kb.segment`)."""
    started = time.perf_counter()
    analysis = analysis_for(language or faq.language or "en")
    texts, labels = _phrasings(faq)
    texts = [analysis.normalise(t) for t in texts]
    embedder = embedder_for(analysis.language)
    embeddings = embedder.embed(texts)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-calibration") as pool:
        # liblinear releases the GIL: the calibration model trains on the other core.
        calibration = pool.submit(
            _fit_calibration, texts, embeddings, labels, len(faq.entries), c, seed, embedder, analysis
        )
        ranker = _Ranker(texts, embeddings, labels, len(faq.entries), c, embedder, analysis)
        coef, intercept = calibration.result()
    train_s = time.perf_counter() - started
    logger.info("trained the KB matcher (%s) on %d phrasings of %d entries in %.1f s",
                analysis.language, len(texts), len(faq), train_s)
    return Matcher(faq, ranker, coef, intercept, train_s, analysis.language)


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
_OUT_WEIGHT = 0.35
# Every held-out phrasing is also asked misspelt (one or two random letter edits
# in this share of its words, kb.spelling.misspell), so that the calibration
# learns what typos do to the evidence; the share of words the speller did not
# recognise is evidence too (docs/kb.md, "Typos").
_TYPO_RATE = 0.3


def _fit_calibration(
    texts: list[str], embeddings: np.ndarray, labels: np.ndarray, n_classes: int, c: float, seed: int,
    embedder: JointEmbedder, analysis: Analysis,
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
    ranker = _Ranker(
        [texts[i] for i in np.flatnonzero(train)], embeddings[train], labels[train], n_classes, c, embedder, analysis
    )
    # Random letter edits stand for typos where the speller corrects them (English).
    typos = _TYPO_RATE if analysis.spelling else 0.0
    rows, right, weight = _calibration_rows(ranker, texts, labels, asked, unseen, random.Random(seed), typos)
    if right.all() or not right.any():
        return _DEFAULT_COEF, _DEFAULT_INTERCEPT
    model = LogisticRegression(C=1.0, max_iter=1000).fit(rows, right, sample_weight=weight)
    return model.coef_[0], float(model.intercept_[0])


def _calibration_rows(
    ranker: _Ranker, texts: list[str], labels: np.ndarray, asked: np.ndarray, unseen: np.ndarray,
    rng: random.Random, typos: float = _TYPO_RATE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evidence for the top candidates of every held-out phrasing (as written and
    misspelt), whether each is right, and row weights."""
    rows = []
    right = []
    weight = []
    for i in asked:
        for text in dict.fromkeys((texts[i], misspell(texts[i], rng, typos))):
            query = ranker.vec.one(text)
            scores = ranker.scores(query)
            top = [k for k in np.argsort(-scores)[:_RIVALS].tolist() if np.isfinite(scores[k])]
            rows.append(ranker.evidence(query, scores, top))
            right += [k == labels[i] and not unseen[i] for k in top]
            weight += [_OUT_WEIGHT if unseen[i] else 1.0] * len(top)
    return np.concatenate(rows), np.array(right), np.array(weight)
