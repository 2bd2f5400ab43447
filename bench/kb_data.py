"""Carve validation CSVs for ``hub kb import`` / ``hub eval`` from ../shared/data.

The test splits of both datasets are withheld; every figure in docs/kb.md is
measured on the splits this script writes, never on anything else.

* BANKING77 (Casanueva et al. 2020): ``train.csv`` split 90/10, stratified by
  label, fixed seed -> ``banking77/train.csv`` (the KB) and ``banking77/val.csv``.
* CLINC150 (Larson et al. 2019): ``train`` -> ``clinc150/train.csv`` (the KB),
  ``val`` -> ``clinc150/val.csv`` (queries), ``oos_val`` -> ``clinc150/oos.csv``
  and ``oos_train`` -> ``clinc150/oos_extra.csv`` (a second, untouched OOS
  set to check that the threshold was not fitted to the first one). The KB
  never sees an out-of-scope question.

Usage: ``.venv/bin/python bench/kb_data.py [--data ../shared/data] [--out tmp/kb-data] [--seed 77]``
(``tmp/`` is git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

SEED = 77
VAL_SHARE = 0.10

Row = tuple[str, str]


def read_banking77(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["category"]) for r in csv.DictReader(fh)]


def stratified_split(rows: Sequence[Row], share: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Hold out ``share`` of each label's rows (at least one), reproducibly."""
    by_label: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng = random.Random(seed)
    train: list[Row] = []
    held: list[Row] = []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        n_held = max(1, round(len(group) * share))
        held += group[:n_held]
        train += group[n_held:]
    return train, held


def write_csv(path: Path, rows: Iterable[Sequence[str]], header: Sequence[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def carve(data: Path, out: Path, seed: int = SEED) -> dict[str, int]:
    counts: dict[str, int] = {}
    train, val = stratified_split(read_banking77(data / "banking77" / "train.csv"), VAL_SHARE, seed)
    counts["banking77/train.csv"] = write_csv(out / "banking77" / "train.csv", train, ("text", "label"))
    counts["banking77/val.csv"] = write_csv(out / "banking77" / "val.csv", val, ("text", "label"))
    clinc = json.loads((data / "clinc150" / "clinc150_train_val.json").read_text(encoding="utf-8"))
    for split, name in (("train", "train"), ("val", "val")):
        counts[f"clinc150/{name}.csv"] = write_csv(
            out / "clinc150" / f"{name}.csv", clinc[split], ("text", "label")
        )
    for split, name in (("oos_val", "oos"), ("oos_train", "oos_extra")):
        counts[f"clinc150/{name}.csv"] = write_csv(
            out / "clinc150" / f"{name}.csv", ([t] for t, _ in clinc[split]), ("text",)
        )
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--data", type=Path, default=here.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=here / "tmp" / "kb-data")
    parser.add_argument("--seed", type=int, default=SEED, help="BANKING77 split seed (docs/kb.md uses 1, 2, 3, 77)")
    args = parser.parse_args(argv)
    for name, count in carve(args.data, args.out, args.seed).items():
        print(f"{args.out / name}: {count} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
