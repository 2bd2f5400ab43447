"""Hybrid retrieval with a calibrated confidence: which article answers the question?

1. **Two retrievers.** BM25 (bm25s) and the dense index each rank the chunks;
   a document takes its best chunk's score in each.
2. **Fusion.** Reciprocal rank fusion over the two document rankings
   (``1 / (RRF_K + rank)`` summed) picks the ``CANDIDATES`` to look at closely.
3. **Evidence and re-ranking**, the way the FAQ matcher does it
   (:mod:`kb.matcher`): for each candidate, views that may agree or disagree,
   each also as its margin over the best rival candidate: dense cosine to the
   best passage and to the article title, BM25 (relative, and as a share of
   what the query's terms could score), the IDF-weighted share of the query's
   terms the article holds and the index knows, rapidfuzz ``token_set_ratio``
   against the title, the ranks each retriever gave it, whether both agree,
   and the query's length.
4. **Calibration.** A logistic regression maps the evidence to P(this
   document answers the question); candidates are re-ranked by it. The
   coefficients are fitted offline on StackFAQ with whole threads held out as
   unanswerable (``python -m bench.docs_calibration`` refits and prints them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, utils

from kb.documents.chunks import Chunk
from kb.documents.index import DocumentIndex, Terms
from kb.embedding import JointEmbedder, load_embedder
from kb.features import WORD

__all__ = ["CANDIDATES", "DocumentHit", "Retrieval", "Retriever"]

MAX_QUERY_CHARS = 1000
CANDIDATES = 8
RRF_K = 10
_POOL = 100  # chunks each retriever hands to fusion
_RIVALS = 3
_K1 = 1.5  # bm25s's default k1: a term adds at most idf * (k1 + 1)

# Fitted by bench/docs_calibration.py; order follows Retriever.evidence().
_COEF = np.array(
    [4.562, 2.249, 8.423, 1.67, 1.528, 0.264, 0.168, 4.326, 0.914, 1.77, 2.456, 0.809, -0.322, 0.451, -0.411,
     2.669, -0.021]
)
_INTERCEPT = -13.150
N_EVIDENCE = len(_COEF)
EVIDENCE_NAMES = (
    "dense", "dense_title", "dense_vs", "bm25_rel", "bm25_norm", "coverage", "known",
    "bm25_vs", "bm25_rank", "dense_rank", "fuzz_title", "coverage_vs", "agree", "log_words", "fused",
    "dense_z", "title_z",
)


@dataclass(frozen=True, slots=True)
class DocumentHit:
    """One candidate article with its scores; ``passages`` are its best chunks, best first."""

    doc_id: str
    title: str
    url: str
    passages: tuple[Chunk, ...]
    bm25: float
    dense: float
    fused: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The ranked candidates for one question (best first) and how long it took."""

    hits: tuple[DocumentHit, ...]

    @property
    def best(self) -> DocumentHit | None:
        return self.hits[0] if self.hits else None

    @property
    def confidence(self) -> float:
        return self.hits[0].confidence if self.hits else 0.0


NOTHING = Retrieval(())


@dataclass(frozen=True, slots=True)
class _Candidates:
    """What fusion hands to the evidence step for one query."""

    docs: list[int]
    bm25: np.ndarray  # best chunk score per candidate
    dense: np.ndarray
    bm25_chunk: list[int]
    dense_chunk: list[int]
    bm25_rank: np.ndarray
    dense_rank: np.ndarray
    fused: np.ndarray
    spread: tuple[float, float]  # mean and std of the query's cosine over all chunks


class Retriever:
    """Search one :class:`DocumentIndex`; cheap to build, reused across questions."""

    def __init__(
        self, index: DocumentIndex, embedder: JointEmbedder | None = None,
        coef: np.ndarray | None = None, intercept: float | None = None,
    ) -> None:
        self.index = index
        self.embedder = embedder or load_embedder()
        self.coef = _COEF if coef is None else coef
        self.intercept = _INTERCEPT if intercept is None else intercept
        self._doc_chunks = _chunks_per_doc(index)
        self._titles = [utils.default_process(t) for t in index.titles]

    def search(self, text: str, k: int = CANDIDATES) -> Retrieval:
        """The best ``k`` articles for ``text``, by calibrated confidence."""
        found = self.evidence(text)
        if found is None:
            return NOTHING
        candidates, rows = found
        probs = self._calibrate(rows)
        order = np.argsort(-probs, kind="stable")[:k]
        return Retrieval(tuple(self._hit(candidates, int(i), float(probs[i])) for i in order))

    def evidence(self, text: str) -> tuple[_Candidates, np.ndarray] | None:
        """The fused candidates for ``text`` and one row of evidence each (None: nothing found)."""
        text = (text or "")[:MAX_QUERY_CHARS]
        if not WORD.search(text) or not len(self.index):
            return None
        terms = self.index.terms(text)
        vector = self.embedder.one(text)
        candidates = self._fuse(terms, vector)
        if candidates is None:
            return None
        return candidates, self._rows(text, terms, vector, candidates)

    # -- fusion -----------------------------------------------------------------------
    def _fuse(self, terms: Terms, vector: np.ndarray) -> _Candidates | None:
        b_ids, b_scores = self.index.bm25(terms, _POOL)
        d_ids, d_scores, spread = self.index.dense(vector, _POOL)
        b_docs = _by_document(self.index.chunk_doc, b_ids, b_scores)
        d_docs = _by_document(self.index.chunk_doc, d_ids, d_scores)
        fused: dict[int, float] = {}
        for ranking in (b_docs, d_docs):
            for rank, doc in enumerate(ranking):
                fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
        if not fused:
            return None
        docs = sorted(fused, key=lambda d: -fused[d])[:CANDIDATES]
        b_rank = {d: r for r, d in enumerate(b_docs)}
        d_rank = {d: r for r, d in enumerate(d_docs)}
        bm25, bm25_chunk = zip(*(b_docs.get(d, (0.0, -1)) for d in docs), strict=True)
        dense, dense_chunk = zip(*(d_docs.get(d) or self._dense_of(d, vector) for d in docs), strict=True)
        return _Candidates(
            docs, np.array(bm25, float), np.array(dense, float), list(bm25_chunk), list(dense_chunk),
            np.array([b_rank.get(d, _POOL) for d in docs], float),
            np.array([d_rank.get(d, _POOL) for d in docs], float),
            np.array([fused[d] for d in docs], float),
            spread,
        )

    def _dense_of(self, doc: int, vector: np.ndarray) -> tuple[float, int]:
        chunks = self._doc_chunks[doc]
        sims = np.einsum("ij,j->i", self.index.vectors[chunks], vector)
        best = int(np.argmax(sims))
        return float(sims[best]), int(chunks[best])

    # -- evidence ---------------------------------------------------------------------
    def _rows(self, text: str, terms: Terms, vector: np.ndarray, c: _Candidates) -> np.ndarray:
        docs = c.docs
        title_cos = np.einsum("ij,j->i", self.index.title_vectors[docs], vector)
        top_bm25 = float(c.bm25.max()) if len(c.bm25) else 0.0
        ceiling = float(terms.idf[terms.present].sum()) * (_K1 + 1.0)
        coverage = [self.index.coverage(terms, d) for d in docs]
        query = utils.default_process(text)
        words = len(WORD.findall(text))
        rows = np.empty((len(docs), N_EVIDENCE))
        rows[:, 0] = c.dense
        rows[:, 1] = title_cos
        rows[:, 2] = _versus(c.dense.tolist())
        rows[:, 3] = c.bm25 / top_bm25 if top_bm25 > 0 else 0.0
        rows[:, 4] = np.minimum(c.bm25 / ceiling, 1.0) if ceiling > 0 else 0.0
        rows[:, 5] = coverage
        rows[:, 6] = self.index.known_share(terms)
        rows[:, 7] = _versus(rows[:, 4].tolist())
        rows[:, 8] = 1.0 / (1.0 + c.bm25_rank)
        rows[:, 9] = 1.0 / (1.0 + c.dense_rank)
        rows[:, 10] = [fuzz.token_set_ratio(query, self._titles[d], processor=None) / 100.0 for d in docs]
        rows[:, 11] = _versus(coverage)
        rows[:, 12] = (c.bm25_rank == 0) & (c.dense_rank == 0)
        rows[:, 13] = math.log1p(words)
        rows[:, 14] = c.fused * (RRF_K + 1) / 2.0
        mean, std = c.spread
        rows[:, 15] = (c.dense - mean) / max(std, 1e-6) / 10.0
        titles = np.einsum("ij,j->i", self.index.title_vectors, vector)
        rows[:, 16] = (title_cos - titles.mean()) / max(float(titles.std()), 1e-6) / 10.0
        return rows

    def _calibrate(self, rows: np.ndarray) -> np.ndarray:
        logits = np.einsum("ij,j->i", rows, self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))

    def _hit(self, c: _Candidates, i: int, confidence: float) -> DocumentHit:
        doc = c.docs[i]
        chunk_ids = list(dict.fromkeys(x for x in (c.dense_chunk[i], c.bm25_chunk[i]) if x >= 0))
        passages = tuple(self.index.chunks[x] for x in chunk_ids)
        first = passages[0]
        return DocumentHit(
            self.index.doc_ids[doc], first.title, first.url, passages,
            round(float(c.bm25[i]), 4), round(float(c.dense[i]), 4), round(float(c.fused[i]), 5),
            round(confidence, 4),
        )


def _chunks_per_doc(index: DocumentIndex) -> list[np.ndarray]:
    order = np.argsort(index.chunk_doc, kind="stable")
    bounds = np.searchsorted(index.chunk_doc[order], np.arange(len(index.doc_ids) + 1))
    return [order[bounds[d] : bounds[d + 1]] for d in range(len(index.doc_ids))]


def _by_document(chunk_doc: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> dict[int, tuple[float, int]]:
    """Document -> (best chunk score, that chunk), in ranking order (dicts keep insertion order)."""
    out: dict[int, tuple[float, int]] = {}
    for chunk, score in zip(ids.tolist(), scores.tolist(), strict=True):
        doc = int(chunk_doc[chunk])
        if doc not in out:
            out[doc] = (float(score), int(chunk))
    return out


def _versus(values: Sequence[float]) -> list[float]:
    """Each value minus the best *other* value among the first ``_RIVALS`` candidates."""
    pool = list(values[:_RIVALS])
    if len(pool) < 2:
        return list(values)
    best = max(range(len(pool)), key=pool.__getitem__)
    rival = max(pool[:best] + pool[best + 1 :])
    return [v - (rival if i == best else pool[best]) for i, v in enumerate(values)]
