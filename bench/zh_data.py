"""Carve a Chinese intent set for ``hub kb import --lang zh`` / ``hub eval`` (issue 16's goals).

No PyPI package ships a Chinese intent or FAQ dataset with its data (the packages
that name one download it at run time), so the set comes from a public copy of
**SMP2017-ECDT task 1** (Chinese user intent classification; the Social Media
Processing 2017 evaluation, HIT-SCIR; 31 intents of a Chinese voice assistant,
3,069 labelled questions: its train and dev sets together, as a TSV
``Sentence<TAB>Tag``). The data came with no license beyond research use of the
evaluation, so it is *not* shipped here: pass its path.

The split is stratified by label like BANKING77's (``bench/kb_data.py``): 20% of
each label's questions are withheld as queries (at least one per label), the rest
is the FAQ. ``chat`` (609 questions of small talk) is an intent like any other.

Usage: ``.venv/bin/python -m bench.zh_data --tsv smp2017.tsv --out tmp/zh-data [--seed 1]``
then ``hub kb import --lang zh tmp/zh-data/train.csv --out tmp/zh.toml`` and
``hub eval --kb tmp/zh.toml --queries tmp/zh-data/val.csv --json --sweep``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from bench.kb_data import stratified_split

VAL_SHARE = 0.20


def read_tsv(path: Path) -> list[tuple[str, str]]:
    """``(text, label)`` rows of a ``Sentence<TAB>Tag`` file (header first)."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        next(fh, None)
        for line in fh:
            text, _, label = line.rstrip("\n").rpartition("\t")
            if text.strip() and label.strip():
                rows.append((text.strip(), label.strip()))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.zh_data", description=__doc__.split("\n")[0])
    parser.add_argument("--tsv", type=Path, required=True, help="SMP2017-ECDT task 1 as Sentence<TAB>Tag")
    parser.add_argument("--out", type=Path, default=Path("tmp/zh-data"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    train, val = stratified_split(read_tsv(args.tsv), VAL_SHARE, args.seed)
    write_csv(args.out / "train.csv", train)
    write_csv(args.out / "val.csv", val)
    print(f"wrote {args.out}: {len(train)} train, {len(val)} val, {len({label for _, label in train})} labels")


if __name__ == "__main__":
    main()
