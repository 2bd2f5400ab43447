"""Speed of the document index: queries at 10,000 and 100,000 chunks, indexing, re-indexing.

The corpus is StackFAQ's 125 threads (../shared/data/stackfaq, 765 chunks)
repeated until it has the wanted number of chunks: copy ``k`` of a thread is a
new document (``t001~k``) whose chunks carry one extra word of their own and
whose vectors are the originals plus a little noise, so that BM25 and the ANN
graph see distinct chunks. The queries are StackFAQ's questions.

* ``index``: parse + chunk + embed + BM25 of the real 125 files, chunks per second;
* ``reindex``: one file changed in a copy of the folder, incremental rebuild;
* ``query``: p50 / p99 of :meth:`Retriever.search` at each size (exact numpy
  search up to ``EXACT_UP_TO`` chunks, usearch HNSW past it), wall-clock and the
  thread's own CPU time (which other processes on a shared machine do not inflate).

Usage: ``.venv/bin/python -m bench.docs_speed [--data ../shared/data] [--sizes 10000 100000]``
"""

from __future__ import annotations

import argparse
import csv
import gc
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from kb.documents.chunks import Chunk
from kb.documents.index import DocumentIndex, IndexedFile
from kb.documents.ingest import Sources, build_index
from kb.documents.retrieval import Retriever
from kb.embedding import load_embedder


def repeated(files: tuple[IndexedFile, ...], chunks: int, seed: int = 0) -> list[IndexedFile]:
    rng = np.random.default_rng(seed)
    out = list(files)
    total = sum(len(f.chunks) for f in files)
    copy = 0
    while total < chunks:
        copy += 1
        for f in files:
            if total >= chunks:
                break
            doc_id = f"{f.doc_id}~{copy}"
            moved = tuple(Chunk(doc_id, c.title, c.url, c.heading, c.anchor, f"{c.text} copy{copy}") for c in f.chunks)
            noise = rng.normal(0, 0.02, f.vectors.shape).astype(np.float32)
            vectors = f.vectors + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            out.append(replace(f, path=f"{f.path}~{copy}", doc_id=doc_id, chunks=moved, vectors=vectors))
            total += len(moved)
    return out


def timed_queries(retriever: Retriever, questions: list[str]) -> tuple[float, float]:
    for q in questions[:20]:
        retriever.search(q)
    gc.collect()
    gc.freeze()
    latency, cpu = [], []
    for q in questions:
        started, used = time.perf_counter(), time.thread_time()
        retriever.search(q)
        cpu.append((time.thread_time() - used) * 1000)
        latency.append((time.perf_counter() - started) * 1000)
    gc.unfreeze()
    return (float(np.percentile(latency, 50)), float(np.percentile(latency, 99)),
            float(np.percentile(cpu, 50)), float(np.percentile(cpu, 99)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.docs_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args(argv)
    folder = args.data / "stackfaq"
    with (folder / "questions.csv").open(encoding="utf-8", newline="") as handle:
        questions = [row["text"] for row in csv.DictReader(handle)]
    load_embedder()
    started = time.perf_counter()
    base = build_index(Sources(("*.md",), folder / "documents"))
    index_s = time.perf_counter() - started
    print(f"index: {len(base)} chunks in {index_s:.2f} s = {len(base) / index_s:.0f} chunks/s")
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        shutil.copytree(folder / "documents", docs)
        first = build_index(Sources(("*.md",), docs), previous=base_from(base, docs))
        target = docs / "t001.md"
        runs = []
        for n in range(3):
            target.write_text(target.read_text() + f"\n\n## Answer {90 + n}\n\nA new answer.\n")
            started = time.perf_counter()
            first = build_index(Sources(("*.md",), docs), previous=first)
            runs.append(time.perf_counter() - started)
        print(f"reindex after one changed file ({len(first)} chunks), 3 runs: "
              + ", ".join(f"{r:.3f}" for r in runs) + " s")
    for size in args.sizes:
        files = repeated(base.files, size)
        started = time.perf_counter()
        index = DocumentIndex(files)
        build = time.perf_counter() - started
        p50, p99, cpu50, cpu99 = timed_queries(Retriever(index), questions)
        print(f"query at {len(index):,} chunks ({'ANN' if index._ann is not None else 'exact'}): "
              f"wall p50 {p50:.2f} ms, p99 {p99:.2f} ms; CPU p50 {cpu50:.2f} ms, p99 {cpu99:.2f} ms "
              f"(BM25 + ANN build {build:.1f} s)")


def base_from(index: DocumentIndex, docs: Path) -> DocumentIndex:
    """The same index, its files re-homed into ``docs`` (so nothing is embedded twice)."""
    return DocumentIndex([replace(f, path=str(docs / Path(f.path).name), stamp=(0, 0)) for f in index.files])


if __name__ == "__main__":
    main()
