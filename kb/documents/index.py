"""The searchable index over every chunk: BM25 (bm25s) and dense vectors (numpy or usearch).

* **BM25** is bm25s over each chunk's heading path and text, lower-cased,
  English stop words removed, Snowball-stemmed (PyStemmer). A query is
  tokenised the same way here, without bm25s's per-call progress machinery.
* **Dense**: each chunk is one unit vector, the mean of the embedding of its
  article title and of its passage (:mod:`kb.embedding`, the matcher's
  WordLlama + MiniLM tables), so a passage is found by what it says and by
  what the article is about. Up to ``EXACT_UP_TO`` chunks a query is a numpy
  matrix-vector product (exact); past it a usearch HNSW graph (inner product)
  answers in well under a millisecond (docs/kb.md has the measurements).

The index is immutable: :mod:`kb.documents.ingest` builds a new one after an
edit, reusing the vectors of files that did not change.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from threadpoolctl import threadpool_limits

from kb.documents.chunks import Chunk
from kb.embedding import JointEmbedder

__all__ = ["EXACT_UP_TO", "DocumentIndex", "IndexedFile", "Skipped", "Terms", "embed_chunks"]

logger = logging.getLogger(__name__)
# bm25s logs every index build at DEBUG ("Building index from tokens"): not ours to show.
logging.getLogger("bm25s").setLevel(logging.WARNING)

EXACT_UP_TO = 20_000
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOP = frozenset(STOPWORDS_EN)
_STEMMER = Stemmer.Stemmer("english")
# Longest query, in terms, that BM25 scores (a pasted log is not a question).
MAX_QUERY_TERMS = 64
# Chunks whose cosines stand for the whole index's spread, past EXACT_UP_TO.
_SAMPLE = 4096
# Dimensions of the search vectors (of 384), and how many candidates per wanted
# chunk they pass to the exact re-scoring.
SEARCH_DIMS = 128
_PROJECT_FROM = 2000  # chunks; smaller indexes search the full vectors
_RESCORE = 3


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """One source file as indexed: its content hash, chunks and their vectors."""

    path: str
    digest: str
    stamp: tuple[int, int]
    doc_id: str
    title: str
    url: str
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray = field(repr=False)
    title_vector: np.ndarray = field(repr=False)
    indexed_at: float = 0.0
    terms: tuple[tuple[str, ...], ...] = field(default=(), repr=False)  # BM25 terms per chunk

    def chunk_terms(self) -> tuple[tuple[str, ...], ...]:
        """Each chunk's BM25 terms (kept from indexing; worked out again if missing)."""
        if len(self.terms) == len(self.chunks):
            return self.terms
        return tuple(tuple(analyse(c.indexed_text)) for c in self.chunks)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A source file left out of the index, and why (unparseable, empty, duplicate)."""

    path: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class Terms:
    """A query's BM25 terms: the stems the index knows, and each stem's IDF."""

    stems: tuple[str, ...]
    known: tuple[str, ...]  # distinct stems the index has seen
    idf: np.ndarray  # one per stem
    present: np.ndarray  # bool per stem: known to the index


def analyse(text: str) -> list[str]:
    """Lower-cased word stems without English stop words (as bm25s indexes them)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return _STEMMER.stemWords(words)


def embed_chunks(embedder: JointEmbedder, title: str, chunks: Sequence[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    """(one unit vector per chunk, the title's vector) as the index stores them."""
    title_vector = embedder.one(title)
    if not chunks:
        return np.zeros((0, embedder.dim), np.float32), title_vector
    body = embedder.embed([f"{c.heading}\n{c.text}" for c in chunks])
    mixed = body + title_vector
    norms = np.linalg.norm(mixed, axis=1, keepdims=True)
    return (mixed / np.maximum(norms, 1e-9)).astype(np.float32), title_vector


class DocumentIndex:
    """BM25 and dense search over the chunks of ``files``; doc-level bookkeeping."""

    def __init__(self, files: Sequence[IndexedFile], skipped: Sequence[Skipped] = (), dim: int = 384) -> None:
        self.files = tuple(files)
        self.skipped = tuple(skipped)
        self.chunks: list[Chunk] = [c for f in self.files for c in f.chunks]
        self.doc_ids: list[str] = sorted({f.doc_id for f in self.files if f.chunks})
        position = {d: i for i, d in enumerate(self.doc_ids)}
        self.chunk_doc = np.array([position[c.doc_id] for c in self.chunks], dtype=np.int64)
        self.vectors = (
            np.ascontiguousarray(np.vstack([f.vectors for f in self.files if len(f.chunks)]), dtype=np.float32)
            if self.chunks else np.zeros((0, dim), np.float32)
        )
        self.title_vectors = np.zeros((len(self.doc_ids), dim), np.float32)
        self.titles = [""] * len(self.doc_ids)
        for f in self.files:
            if f.chunks:
                self.title_vectors[position[f.doc_id]] = f.title_vector
                self.titles[position[f.doc_id]] = f.title
        self._bm25, self._doc_terms, self._df = self._build_bm25()
        self._ann = self._build_ann()

    def __len__(self) -> int:
        return len(self.chunks)

    # -- building ---------------------------------------------------------------------
    def _build_bm25(self) -> tuple[bm25s.BM25 | None, list[frozenset[str]], dict[str, int]]:
        if not self.chunks:
            return None, [], {}
        corpus = [list(t) for f in self.files for t in f.chunk_terms()]
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        doc_terms: list[set[str]] = [set() for _ in self.doc_ids]
        for terms, doc in zip(corpus, self.chunk_doc.tolist(), strict=True):
            doc_terms[doc].update(terms)
        df: dict[str, int] = {}
        for terms in doc_terms:
            for term in terms:
                df[term] = df.get(term, 0) + 1
        return retriever, [frozenset(t) for t in doc_terms], df

    def _build_ann(self) -> object | None:
        """Search vectors: the chunks projected on their ``SEARCH_DIMS`` main axes (an
        HNSW graph over them past ``EXACT_UP_TO`` chunks); full vectors re-score."""
        self._axes = _main_axes(self.vectors, SEARCH_DIMS)
        self._reduced = np.ascontiguousarray(self.vectors @ self._axes, dtype=np.float32)
        if len(self.chunks) <= EXACT_UP_TO:
            return None
        from usearch.index import Index

        ann = Index(ndim=self._reduced.shape[1], metric="ip", dtype="f32", connectivity=16,
                    expansion_add=128, expansion_search=128)
        ann.add(np.arange(len(self.chunks)), self._reduced, threads=2)
        picked = np.random.default_rng(0).choice(len(self.chunks), _SAMPLE, replace=False)
        self._sample = self._reduced[np.sort(picked)]
        return ann

    # -- searching --------------------------------------------------------------------
    def terms(self, text: str) -> Terms:
        stems = analyse(text)[:MAX_QUERY_TERMS]
        n = max(len(self.doc_ids), 1)
        idf = np.array([_idf(self._df.get(s, 0), n) for s in stems], dtype=float)
        present = np.array([s in self._df for s in stems], dtype=bool)
        known = tuple(dict.fromkeys(s for s in stems if s in self._df))
        return Terms(tuple(stems), known, idf, present)

    def bm25(self, terms: Terms, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, scores) of the ``k`` best BM25 chunks with a positive score."""
        if self._bm25 is None or not terms.known:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores = self._bm25.get_scores(list(terms.known))
        return _top(scores, k, positive=True)

    def dense(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """(chunk ids, cosines) of the ``k`` nearest chunks, and the (mean, std) of the
        query's cosine over all chunks (over a fixed sample past ``EXACT_UP_TO``).

        Products are ``np.einsum``, not BLAS: a matrix-vector product through a
        multi-threaded BLAS waits for its threads, tens of ms on a busy machine."""
        if not self.chunks or not np.any(vector):
            return np.empty(0, np.int64), np.empty(0, np.float32), (0.0, 1.0)
        reduced = np.einsum("ij,i->j", self._axes, vector)
        if self._ann is None:
            sims = np.einsum("ij,j->i", self._reduced, reduced)
            ids, _ = _top(sims, min(len(sims), k * _RESCORE), positive=False)
            spread = (float(sims.mean()), float(sims.std()))
        else:
            found = self._ann.search(reduced, k * _RESCORE)  # type: ignore[attr-defined]
            ids = found.keys.astype(np.int64)
            sample = np.einsum("ij,j->i", self._sample, reduced)
            spread = (float(sample.mean()), float(sample.std()))
        exact = np.einsum("ij,j->i", self.vectors[ids], vector)
        order, top = _top(exact, k, positive=False)
        return ids[order], top, spread

    def coverage(self, terms: Terms, doc: int) -> float:
        """IDF-weighted share of the query's terms that occur in document ``doc``."""
        if not len(terms.idf):
            return 0.0
        inside = np.array([s in self._doc_terms[doc] for s in terms.stems], dtype=bool)
        return float(terms.idf[inside].sum() / terms.idf.sum())

    def known_share(self, terms: Terms) -> float:
        """IDF-weighted share of the query's terms that occur anywhere in the index."""
        if not len(terms.idf):
            return 0.0
        return float(terms.idf[terms.present].sum() / terms.idf.sum())


def _main_axes(vectors: np.ndarray, n: int) -> np.ndarray:
    """(dim, n) directions that best keep inner products (eigenvectors of the second moment)."""
    dim = vectors.shape[1]
    if len(vectors) < _PROJECT_FROM:
        return np.eye(dim, dtype=np.float32)
    # One BLAS thread: on a busy machine a multi-threaded 384 x 384 eigh waits ~1 s for its threads.
    with threadpool_limits(1):
        moment = (vectors.T @ vectors).astype(np.float64)
        _, axes = np.linalg.eigh(moment)
    return np.ascontiguousarray(axes[:, ::-1][:, :n], dtype=np.float32)


def _idf(df: int, n: int) -> float:
    """BM25's IDF; a term the index never saw counts as the rarest."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _top(scores: np.ndarray, k: int, *, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(scores))
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    if positive:
        idx = idx[scores[idx] > 0]
    return idx.astype(np.int64), scores[idx].astype(np.float32)
