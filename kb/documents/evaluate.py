"""``hub eval --docs``: index the configured documents, then measure retrieval and abstention.

Queries are a CSV with columns ``text,doc_id``: ``doc_id`` is the file name
without its extension, several ids separated by ``|`` all count as right, and
an empty one means no document answers the question. A query is *answered*
when the best article's calibrated confidence is at least the threshold, as
in the ``kb`` stage.

* ``recall_at_1``, ``recall_at_5``, ``mrr_at_10``: over answerable queries;
* ``coverage``: share of answerable queries answered;
* ``precision``: share of answered queries (unanswerable ones included)
  answered with a right document;
* ``unanswerable_false_accept``: share of unanswerable queries answered.
"""

from __future__ import annotations

import csv
import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hub.errors import ConfigError, ConfigProblem
from kb.documents.ingest import Sources, build_index
from kb.documents.retrieval import Retriever

__all__ = ["DocsEvaluation", "evaluate_documents", "read_doc_queries", "score_documents", "sweep_documents"]

SWEEP_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 1.0001, 0.05))
_PROGRESS_FROM = 200
_DEPTH = 10


@dataclass(frozen=True, slots=True)
class DocsEvaluation:
    """Per-query outcomes: rank of the first right document (-1: none in the top 10), confidence."""

    rank: np.ndarray
    confidence: np.ndarray
    answerable: np.ndarray
    latency_ms: np.ndarray
    index_s: float
    chunks: int
    documents: int
    skipped: int


def read_doc_queries(path: Path) -> list[tuple[str, frozenset[str]]]:
    """(text, right doc ids) rows of a ``text,doc_id`` CSV."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"text", "doc_id"} <= set(reader.fieldnames):
                raise ConfigError([ConfigProblem(str(path), "", "expected a CSV with columns text,doc_id")])
            rows = []
            for line, row in enumerate(reader, start=2):
                text = (row.get("text") or "").strip()
                if not text:
                    raise ConfigError([ConfigProblem(str(path), "text", "empty question", line)])
                ids = frozenset(p.strip() for p in (row.get("doc_id") or "").split("|") if p.strip())
                rows.append((text, ids))
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(str(path), "", "not UTF-8 text")]) from None
    return rows


def evaluate_documents(
    sources: Sources, queries: Sequence[tuple[str, frozenset[str]]], *, progress: bool = True
) -> DocsEvaluation:
    """Index from scratch (timed), then retrieve for every query (each timed)."""
    started = time.perf_counter()
    index = build_index(sources)
    index_s = time.perf_counter() - started
    retriever = Retriever(index)
    bar = tqdm(total=len(queries), unit="q", desc="eval", disable=not progress or len(queries) < _PROGRESS_FROM,
               leave=False)
    ranks, confidence, latency = [], [], []
    gc.collect()
    gc.freeze()  # as `hub run` does after startup
    try:
        with bar:
            for text, right in queries:
                t0 = time.perf_counter()
                found = retriever.search(text, _DEPTH)
                latency.append((time.perf_counter() - t0) * 1000)
                ids = [h.doc_id for h in found.hits]
                ranks.append(next((i for i, d in enumerate(ids) if d in right), -1))
                confidence.append(found.confidence)
                bar.update()
    finally:
        gc.unfreeze()
    return DocsEvaluation(
        np.array(ranks, dtype=int), np.array(confidence, dtype=float),
        np.array([bool(r) for _, r in queries], dtype=bool), np.array(latency, dtype=float),
        index_s, len(index), len(index.doc_ids), len(index.skipped),
    )


def score_documents(result: DocsEvaluation, threshold: float) -> dict[str, Any]:
    """The ``hub eval --docs`` figures at ``threshold``."""
    ans = result.answerable
    rank = result.rank[ans]
    answered = result.confidence >= threshold
    right = answered & ans & (result.rank == 0)
    hits = np.where(rank >= 0, rank, _DEPTH)
    latency = result.latency_ms
    return {
        "n": int(len(result.rank)),
        "n_answerable": int(ans.sum()),
        "n_unanswerable": int((~ans).sum()),
        "threshold": threshold,
        "recall_at_1": _ratio((hits < 1).sum(), len(rank)),
        "recall_at_5": _ratio((hits < 5).sum(), len(rank)),
        "mrr_at_10": round(float(np.mean(np.where(hits < _DEPTH, 1.0 / (hits + 1), 0.0))), 4) if len(rank) else 0.0,
        "coverage": _ratio((answered & ans).sum(), int(ans.sum())),
        # nothing answered: no wrong answer either
        "precision": _ratio(right.sum(), int(answered.sum())) if answered.any() else 1.0,
        "unanswerable_false_accept": _ratio((answered & ~ans).sum(), int((~ans).sum())),
        "p50_ms": round(statistics.median(latency), 4) if len(latency) else 0.0,
        "p99_ms": round(float(np.percentile(latency, 99)), 4) if len(latency) else 0.0,
        "index_s": round(result.index_s, 3),
        "chunks": result.chunks,
        "documents": result.documents,
        "skipped_files": result.skipped,
    }


def sweep_documents(result: DocsEvaluation, thresholds: Sequence[float] = SWEEP_THRESHOLDS) -> list[dict[str, Any]]:
    keys = ("threshold", "coverage", "precision", "unanswerable_false_accept")
    return [{k: score_documents(result, t)[k] for k in keys} for t in thresholds]


def _ratio(part: Any, whole: int) -> float:
    return round(float(part) / whole, 4) if whole else 0.0

