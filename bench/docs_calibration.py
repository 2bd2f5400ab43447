"""Refit the document retriever's calibration (``kb.documents.retrieval._COEF``).

Fitted on StackFAQ (Karan & Šnajder 2018, ../shared/data/stackfaq): every
question is asked once of the whole index (its thread is there: one row per
candidate, right or wrong) and once of an index with a fifth of the threads,
its own among them, removed (every candidate wrong: the question is
unanswerable there). ``--check`` also reports, per fold of threads, what a
calibration fitted on the other folds gives on the held-out threads' questions
(re-ranking and abstention never see their own questions).

Usage: ``.venv/bin/python -m bench.docs_calibration [--data ../shared/data] [--check]``
(~1 minute). Paste its output into kb/documents/retrieval.py.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from kb.documents.index import DocumentIndex
from kb.documents.ingest import Sources, build_index
from kb.documents.retrieval import Retriever

FOLDS = 5
# Smaller help centers drawn from the threads (sizes), so the calibration also
# sees how the evidence behaves with a handful of articles.
SMALL_CORPORA = (8, 8, 15, 15, 30, 30)
_UNANSWERABLE_WEIGHT = 1.0


def questions(folder: Path) -> list[tuple[str, str]]:
    with (folder / "questions.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["doc_id"]) for row in csv.DictReader(handle)]


def folds(doc_ids: list[str], seed: int = 0) -> list[set[str]]:
    order = np.random.default_rng(seed).permutation(sorted(doc_ids))
    return [set(order[i::FOLDS].tolist()) for i in range(FOLDS)]


def rows_for(index: DocumentIndex, asked: list[tuple[str, str]], answerable: bool):
    """Evidence rows, right/wrong labels and the query number of each row."""
    retriever = Retriever(index)
    rows, right, owner = [], [], []
    for n, (text, doc_id) in enumerate(asked):
        found = retriever.evidence(text)
        if found is None:
            continue
        candidates, evidence = found
        rows.append(evidence)
        right += [answerable and index.doc_ids[d] == doc_id for d in candidates.docs]
        owner += [n] * len(candidates.docs)
    return np.concatenate(rows), np.array(right), np.array(owner)


def dataset(folder: Path):
    """(rows, right, weight, query id, thread, answerable) over both kinds of asking."""
    asked = questions(folder)
    docs = folder / "documents"
    full = build_index(Sources(("*.md",), docs))
    parts = [rows_for(full, asked, True) + (np.ones(1),)]
    held = []
    for fold in folds(full.doc_ids):
        keep = tuple(f.path for f in full.files if f.doc_id not in fold)
        partial = build_index(Sources(keep, docs), previous=full)
        mine = [(i, q) for i, q in enumerate(asked) if q[1] in fold]
        r, y, o = rows_for(partial, [q for _, q in mine], False)
        held.append((r, y, np.array([mine[k][0] for k in o])))
    small = [_small_corpus(full, docs, asked, size, seed) for seed, size in enumerate(SMALL_CORPORA)]
    rows = np.concatenate([parts[0][0]] + [h[0] for h in held] + [m[0] for m in small])
    right = np.concatenate([parts[0][1]] + [h[1] for h in held] + [m[1] for m in small])
    owner = np.concatenate([parts[0][2]] + [h[2] for h in held] + [m[2] for m in small])
    answerable = np.concatenate(
        [np.ones(len(parts[0][0]), bool)] + [np.zeros(len(h[0]), bool) for h in held] + [m[3] for m in small]
    )
    thread = np.array([asked[i][1] for i in owner])
    weight = np.where(answerable, 1.0, _UNANSWERABLE_WEIGHT)
    return rows, right, weight, owner, thread, answerable


def _small_corpus(full: DocumentIndex, docs: Path, asked: list[tuple[str, str]], size: int, seed: int):
    """A help center of ``size`` threads: their questions answerable, as many other threads' not."""
    rng = np.random.default_rng(100 + seed)
    picked = rng.permutation(full.doc_ids)
    inside, outside = set(picked[:size].tolist()), set(picked[size : 2 * size].tolist())
    keep = tuple(f.path for f in full.files if f.doc_id in inside)
    index = build_index(Sources(keep, docs), previous=full)
    mine = [(i, q) for i, q in enumerate(asked) if q[1] in inside | outside]
    retriever = Retriever(index)
    rows, right, owner, answerable = [], [], [], []
    for n, (text, doc_id) in mine:
        found = retriever.evidence(text)
        if found is None:
            continue
        candidates, evidence = found
        rows.append(evidence)
        right += [index.doc_ids[d] == doc_id for d in candidates.docs]
        owner += [n] * len(candidates.docs)
        answerable += [doc_id in inside] * len(candidates.docs)
    return np.concatenate(rows), np.array(right), np.array(owner), np.array(answerable)


def fit(rows: np.ndarray, right: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, float]:
    model = LogisticRegression(C=1.0, max_iter=2000).fit(rows, right, sample_weight=weight)
    return model.coef_[0], float(model.intercept_[0])


def figures(rows, right, owner, answerable, coef, intercept, thresholds):
    """Per-query outcomes after re-ranking by the calibrated probability."""
    probs = 1 / (1 + np.exp(-(rows @ coef + intercept)))
    out = []
    for kind in (True, False):
        mask = answerable == kind
        for q in np.unique(owner[mask]):
            sel = mask & (owner == q)
            p, r = probs[sel], right[sel]
            order = np.argsort(-p, kind="stable")
            rank = int(np.flatnonzero(r[order])[0]) if r.any() else 99
            out.append((kind, float(p[order[0]]), rank))
    kinds = np.array([o[0] for o in out])
    conf = np.array([o[1] for o in out])
    rank = np.array([o[2] for o in out])
    ans = kinds
    line = {"r@1": np.mean(rank[ans] < 1), "r@5": np.mean(rank[ans] < 5),
            "mrr": np.mean(np.where(rank[ans] < 10, 1 / (rank[ans] + 1), 0))}
    table = []
    for t in thresholds:
        accepted = conf >= t
        right_acc = accepted & ans & (rank == 0)
        n_acc = accepted.sum()
        n_ans = (accepted & ans).sum()
        table.append((t, accepted[ans].mean(), right_acc.sum() / n_ans if n_ans else 1.0, accepted[~ans].mean(),
                      right_acc.sum() / n_acc if n_acc else 1.0))
    return line, table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.docs_calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--check", action="store_true", help="cross-validate over folds of threads")
    args = parser.parse_args(argv)
    rows, right, weight, owner, thread, answerable = dataset(args.data / "stackfaq")
    if args.check:
        thresholds = np.round(np.arange(0.3, 0.91, 0.05), 2)
        groups = folds(sorted(set(thread.tolist())), seed=1)
        pooled = []
        for group in groups:
            test = np.isin(thread, list(group))
            coef, intercept = fit(rows[~test], right[~test], weight[~test])
            pooled.append(figures(rows[test], right[test], owner[test], answerable[test], coef, intercept, thresholds))
        line = {k: np.mean([p[0][k] for p in pooled]) for k in pooled[0][0]}
        print("held-out threads:", {k: round(float(v), 4) for k, v in line.items()})
        print("threshold coverage precision unanswerable_accepted precision_half_unanswerable")
        for i, t in enumerate(thresholds):
            cov, prec, fa, mixed = (np.mean([p[1][i][j] for p in pooled]) for j in (1, 2, 3, 4))
            print(f"{t:9.2f} {cov:8.3f} {prec:9.4f} {fa:8.3f} {mixed:9.4f}")
    coef, intercept = fit(rows, right, weight)
    print(f"_COEF = np.array(\n    {np.round(coef, 3).tolist()}\n)\n_INTERCEPT = {intercept:.3f}")


if __name__ == "__main__":
    main()
