"""Measure the knowledge base the way the hub runs it (``hub eval``).

The same :func:`~kb.matcher.train_matcher` and threshold rule as the ``kb``
stage: a query is *answered* when its confidence is at least the threshold.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kb.faq import Faq
from kb.matcher import Matcher, train_matcher

__all__ = ["Evaluation", "evaluate", "plot_sweep", "score", "sweep", "sweep_figure"]

SWEEP_THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 1.0001, 0.05))
_PROGRESS_FROM = 500


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-query outcomes; :func:`score` turns them into figures at any threshold."""

    confidence: np.ndarray
    correct: np.ndarray
    oos_confidence: np.ndarray | None
    latency_ms: np.ndarray
    train_s: float


def evaluate(
    faq: Faq,
    queries: Sequence[tuple[str, str]],
    oos: Sequence[str] | None = None,
    *,
    progress: bool = True,
) -> Evaluation:
    """Train once, then match every query (and out-of-scope question), timing each."""
    matcher = train_matcher(faq)
    total = len(queries) + len(oos or ())
    bar = tqdm(total=total, unit="q", desc="eval", disable=not progress or total < _PROGRESS_FROM, leave=False)
    with bar, _frozen_heap():
        confidence, correct, latency = _run(matcher, queries, bar)
        oos_conf, _, oos_latency = _run(matcher, [(t, "") for t in oos or ()], bar)
    return Evaluation(
        confidence, correct, oos_conf if oos is not None else None,
        np.array([*latency, *oos_latency]), matcher.train_s,
    )


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Time queries the way the hub serves them: ``hub run`` freezes everything
    loaded at startup (the trained matcher included) out of the garbage collector,
    whose full passes over it would otherwise add 5-10 ms to the odd query."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run(matcher: Matcher, queries: Sequence[tuple[str, str]], bar: tqdm) -> tuple[np.ndarray, np.ndarray, list[float]]:
    confidence, correct, latency = [], [], []
    for text, label in queries:
        started = time.perf_counter()
        found = matcher.match(text)
        latency.append((time.perf_counter() - started) * 1000)
        confidence.append(found.confidence)
        correct.append(found.entry is not None and found.entry.id == label)
        bar.update()
    return np.array(confidence, dtype=float), np.array(correct, dtype=bool), latency


def score(result: Evaluation, threshold: float) -> dict[str, Any]:
    """The ``hub eval`` figures at ``threshold``."""
    answered = result.confidence >= threshold
    n_answered = int(answered.sum())
    figures: dict[str, Any] = {
        "n": len(result.confidence),
        "threshold": threshold,
        "top1_accuracy": _ratio(result.correct.sum(), len(result.correct)),
        "coverage": _ratio(n_answered, len(answered)),
        "precision": _ratio((result.correct & answered).sum(), n_answered),
    }
    if result.oos_confidence is not None:
        figures["n_oos"] = len(result.oos_confidence)
        figures["oos_false_accept"] = _ratio((result.oos_confidence >= threshold).sum(), len(result.oos_confidence))
    latency = result.latency_ms
    figures["p50_ms"] = round(statistics.median(latency), 4) if len(latency) else 0.0
    figures["p99_ms"] = round(float(np.percentile(latency, 99)), 4) if len(latency) else 0.0
    figures["train_s"] = round(result.train_s, 3)
    return figures


def sweep(result: Evaluation, thresholds: Sequence[float] = SWEEP_THRESHOLDS) -> list[dict[str, Any]]:
    """Coverage, precision and (with OOS) false accepts at each threshold.

    Precision is ``None`` at a threshold where nothing is answered: it is undefined there, not 0.
    """
    rows = []
    for threshold in thresholds:
        figures = score(result, threshold)
        row = {k: figures[k] for k in ("threshold", "coverage", "precision", "oos_false_accept") if k in figures}
        if not (result.confidence >= threshold).any():
            row["precision"] = None
        rows.append(row)
    return rows


def plot_sweep(rows: Sequence[dict[str, Any]], out: str | Path, threshold: float) -> None:
    """Draw the sweep so an admin can pick a threshold by eye (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = sweep_figure(rows, threshold)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def sweep_figure(rows: Sequence[dict[str, Any]], threshold: float) -> Any:
    """The sweep as a matplotlib figure: precision on its own zoomed axis above coverage
    (and out-of-scope answered). Where nothing is answered precision is undefined: a gap."""
    import matplotlib.pyplot as plt

    xs = [r["threshold"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), height_ratios=(1, 1.3))
    precision = [_defined_precision(r) for r in rows]
    top.plot(xs, precision, marker="o", color="C1", label="precision (answered and right)")
    top.set(ylabel="precision", ylim=_zoomed(precision), title="Knowledge base: pick a threshold")
    bottom.plot(xs, [r["coverage"] for r in rows], marker="o", color="C0", label="coverage (share answered)")
    if "oos_false_accept" in rows[0]:
        bottom.plot(xs, [r["oos_false_accept"] for r in rows], marker="o", color="C2", label="out-of-scope answered")
    bottom.set(xlabel="[kb] threshold", ylabel="share", ylim=(0, 1.02))
    for ax in (top, bottom):
        ax.axvline(threshold, color="grey", linestyle="--", label=f"threshold {threshold:g}")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def _defined_precision(row: dict[str, Any]) -> float:
    """The row's precision, NaN (a gap in the line) where nothing was answered."""
    if row.get("precision") is None or not row.get("coverage"):
        return math.nan
    return float(row["precision"])


def _zoomed(values: Sequence[float]) -> tuple[float, float]:
    """Axis limits around the defined values, to the next 5 points below, up to 100%."""
    defined = [v for v in values if not math.isnan(v)]
    low = min(defined, default=0.0)
    return max(0.0, math.floor(low * 20 - 0.2) / 20), 1.005


def _ratio(part: Any, whole: int) -> float:
    return round(float(part) / whole, 4) if whole else 0.0
