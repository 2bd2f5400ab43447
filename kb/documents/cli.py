"""``hub kb docs``, ``hub kb search`` and ``hub eval --docs``: the admins' view of the help center."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from hub.config import Config, load_config
from hub.errors import ConfigError
from kb.documents.evaluate import (
    evaluate_documents,
    read_doc_queries,
    score_documents,
    sweep_documents,
)
from kb.documents.ingest import build_index
from kb.documents.library import sources_from_config
from kb.documents.retrieval import Retriever

__all__ = ["cmd_eval_docs", "cmd_kb_docs", "cmd_kb_search", "register"]


def register(kb_sub: Any) -> None:
    """Add ``docs`` and ``search`` under ``hub kb``."""
    docs = kb_sub.add_parser("docs", help="list the indexed documents, their chunks and failures")
    docs.add_argument("--config", default="config.toml", metavar="PATH", help="config file (./config.toml)")
    docs.add_argument("--json", action="store_true", help="print one JSON object")
    docs.set_defaults(func=cmd_kb_docs)
    search = kb_sub.add_parser("search", help="rank the document chunks for a question, with scores")
    search.add_argument("--config", default="config.toml", metavar="PATH", help="config file (./config.toml)")
    search.add_argument("-k", type=int, default=5, help="articles to show (5)")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.add_argument("query")
    search.set_defaults(func=cmd_kb_search)


def _config(path: str) -> Config:
    if path == "config.toml" and not Path(path).exists():
        return Config()
    return load_config(path)


def cmd_kb_docs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = _config(args.config)
    index = build_index(sources_from_config(config))
    files = [
        {"path": f.path, "doc_id": f.doc_id, "title": f.title, "url": f.url, "chunks": len(f.chunks),
         "indexed_at": _when(f.indexed_at)}
        for f in index.files
    ]
    failures = [{"path": s.path, "reason": s.reason} for s in index.skipped]
    if args.json:
        print(json.dumps({"documents": files, "chunks": len(index), "skipped": failures}), file=out)
        return 0
    print(f"{len(files)} documents, {len(index)} chunks ([kb] documents = {list(config.kb.documents)})", file=out)
    for f in files:
        print(f"  {f['path']}  {f['chunks']:>4} chunks  indexed {f['indexed_at']}  {f['title']!r}", file=out)
    for s in failures:
        print(f"  SKIPPED {s['path']}: {s['reason']}", file=out)
    return 0


def cmd_kb_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = _config(args.config)
    retriever = Retriever(build_index(sources_from_config(config)))
    found = retriever.search(args.query, max(1, args.k))
    threshold = config.kb.documents_threshold
    hits = [
        {"doc_id": h.doc_id, "title": h.title, "url": h.url, "bm25": h.bm25, "dense": h.dense,
         "fused": h.fused, "calibrated": h.confidence, "answers": h.confidence >= threshold,
         "passages": [{"heading": p.heading, "link": p.link, "text": p.text} for p in h.passages]}
        for h in found.hits
    ]
    if args.json:
        print(json.dumps({"query": args.query, "threshold": threshold, "hits": hits}), file=out)
        return 0
    if not hits:
        print("no document matches", file=out)
    for rank, h in enumerate(hits, start=1):
        mark = "*" if h["answers"] else " "
        print(f"{mark}{rank}. {h['doc_id']}  calibrated {h['calibrated']:.3f}  bm25 {h['bm25']:.2f}  "
              f"dense {h['dense']:.3f}  fused {h['fused']:.4f}  {h['title']!r}", file=out)
        for p in h["passages"]:
            print(f"     {p['heading']}: {_short(p['text'])}", file=out)
    print(f"(* = at or above [kb] documents_threshold {threshold:g})", file=out)
    return 0


def cmd_eval_docs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``hub eval --docs --config C --queries q.csv``."""
    out = out or sys.stdout
    config = _config(args.config)
    threshold = config.kb.documents_threshold if args.threshold is None else args.threshold
    try:
        queries = read_doc_queries(args.queries)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    result = evaluate_documents(sources_from_config(config, cache=False), queries, progress=True)
    figures = score_documents(result, threshold)
    rows = sweep_documents(result) if args.sweep or args.plot else []
    if args.plot:
        from kb.evaluate import plot_sweep

        plot_sweep([{**r, "oos_false_accept": r["unanswerable_false_accept"]} for r in rows], args.plot, threshold)
    if args.json:
        if rows:
            figures["sweep"] = rows
        print(json.dumps(figures), file=out)
        return 0
    for key, value in figures.items():
        print(f"{key:>25}: {value}", file=out)
    if args.sweep:
        print("\nthreshold  coverage  precision  unanswerable_false_accept", file=out)
        for r in rows:
            print(f"{r['threshold']:>9.2f}  {r['coverage']:>8.3f}  {r['precision']:>9.4f}  "
                  f"{r['unanswerable_false_accept']:>25.3f}", file=out)
    if args.plot:
        print(f"plot written to {args.plot}", file=out)
    return 0


def _when(stamp: float) -> str:
    if not stamp:
        return "-"
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str, n: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"
