"""CPU time per FAQ query, p50 and p99, the way the hub serves them (issue 16's speed goal).

Trains the matcher on ``--kb`` (a TOML FAQ, its ``language`` decides how it is read),
freezes the heap out of the collector as ``hub run`` does, then matches every
question of ``--queries`` (CSV, ``text`` column) ``--rounds`` times and reports each
query's CPU time (``time.thread_time``: what the query itself costs, whatever the
other processes on a shared machine do) and wall time.

Usage: ``python -m bench.kb_speed --kb tmp/b77-full.toml --queries tmp/kb-data-1/banking77/val.csv``
(``hub kb import ../shared/data/banking77/train.csv --out tmp/b77-full.toml``: the
10,003-phrasing KB).
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np

from kb.faq import load_faq
from kb.importer import read_texts
from kb.matcher import train_matcher


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    faq = load_faq(args.kb)
    matcher = train_matcher(faq)
    texts = read_texts(args.queries)
    for text in texts[:50]:  # warm caches (token ids, spelling candidates) as a running hub has
        matcher.match(text)
    gc.collect()
    gc.freeze()
    cpu, wall = [], []
    for _ in range(args.rounds):
        for text in texts:
            c0, w0 = time.thread_time(), time.perf_counter()
            matcher.match(text)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
    phrasings = sum(len(e.phrasings) for e in faq)
    print(f"{args.kb} ({matcher.language}, {len(faq)} entries, {phrasings} phrasings), "
          f"{len(cpu)} queries: CPU p50 {np.percentile(cpu, 50):.3f} ms, p99 {np.percentile(cpu, 99):.3f} ms; "
          f"wall p50 {np.percentile(wall, 50):.3f} ms, p99 {np.percentile(wall, 99):.3f} ms")


if __name__ == "__main__":
    main()
