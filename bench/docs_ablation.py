"""BM25 only vs dense only vs fused (RRF) vs the shipped hybrid (fused, re-ranked and calibrated).

Runs on the sets ``bench/docs_data.py`` writes (``tmp/docs-data``): recall@1,
recall@5 and MRR@10 over the answerable questions, and for the calibrated
hybrid also coverage / precision / unanswerable answered at the default
threshold. Only the hybrid has a calibrated confidence, so only it can abstain.

Usage: ``.venv/bin/python -m bench.docs_ablation [--sets tmp/docs-data]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hub.config import KBConfig, load_config
from kb.documents.evaluate import read_doc_queries
from kb.documents.ingest import build_index
from kb.documents.library import sources_from_config
from kb.documents.retrieval import _POOL, RRF_K, Retriever, _by_document

DEPTH = 10


def rankings(retriever: Retriever, text: str) -> dict[str, list[str]]:
    index = retriever.index
    terms = index.terms(text)
    vector = retriever.embedder.one(text)
    b_ids, b_scores = index.bm25(terms, _POOL)
    d_ids, d_scores, _ = index.dense(vector, _POOL)
    bm25 = list(_by_document(index.chunk_doc, b_ids, b_scores))
    dense = list(_by_document(index.chunk_doc, d_ids, d_scores))
    fused: dict[int, float] = {}
    for ranking in (bm25, dense):
        for rank, doc in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
    names = index.doc_ids
    return {
        "bm25": [names[d] for d in bm25[:DEPTH]],
        "dense": [names[d] for d in dense[:DEPTH]],
        "rrf": [names[d] for d in sorted(fused, key=lambda d: -fused[d])[:DEPTH]],
        "hybrid": [h.doc_id for h in retriever.search(text, DEPTH).hits],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.docs_ablation", description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=Path, default=Path("tmp/docs-data"))
    args = parser.parse_args(argv)
    threshold = KBConfig().documents_threshold
    print("| set | method | recall@1 | recall@5 | MRR@10 |")
    print("|---|---|---|---|---|")
    for folder in sorted(p for p in args.sets.iterdir() if (p / "queries.csv").is_file()):
        config = load_config(folder / "config.toml")
        retriever = Retriever(build_index(sources_from_config(config, cache=False)))
        queries = [(t, ids) for t, ids in read_doc_queries(folder / "queries.csv") if ids]
        ranks: dict[str, list[int]] = {}
        for text, right in queries:
            for method, docs in rankings(retriever, text).items():
                ranks.setdefault(method, []).append(next((i for i, d in enumerate(docs) if d in right), DEPTH))
        for method, values in ranks.items():
            r = np.array(values)
            mrr = np.mean(np.where(r < DEPTH, 1.0 / (r + 1), 0.0))
            print(f"| {folder.name} ({len(r)}) | {method} | {np.mean(r < 1):.3f} | {np.mean(r < 5):.3f} | {mrr:.3f} |")
    print(f"(hybrid = RRF candidates re-ranked by the calibrated evidence; threshold {threshold:g} not applied here)")


if __name__ == "__main__":
    main()
