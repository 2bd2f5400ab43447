"""Add synthetic typos to a query CSV, reproducibly (docs/kb.md, "Typos").

Each word (a run of letters) is hit with probability ``--rate`` (default 0.3);
a hit word gets one or two character edits (equal odds), each one of:

* deletion of a letter (never the word's last one),
* insertion of a letter next to it on a QWERTY keyboard (or a doubled letter),
* substitution by a keyboard neighbour (``kb.spelling.next_keys``, the keyboard
  the matcher's spelling correction knows),
* transposition of two adjacent letters.

The case of the edited letters follows the word's. Everything else in the row
(the label, other columns, punctuation, digits) is kept. The same file and
``--seed`` give the same typos.

Usage::

    .venv/bin/python -m bench.kb_typos tmp/kb-data-1/banking77/val.csv --out tmp/b77-1-typos.csv
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import string
from collections.abc import Sequence
from pathlib import Path

from kb.spelling import next_keys

__all__ = ["RATE", "SEED", "add_typos", "misspell"]

SEED = 11
RATE = 0.3

_WORD = re.compile(r"[^\W\d_]+")
_NEIGHBOURS = {
    ch: "".join(o for o in string.ascii_lowercase if o != ch and next_keys(ch, o)) for ch in string.ascii_lowercase
}


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with one or two random character edits."""
    for _ in range(rng.choice((1, 2))):
        word = _edit(word, rng)
    return word


def add_typos(text: str, rng: random.Random, rate: float = RATE) -> str:
    """``text`` with each word misspelt with probability ``rate``."""
    return _WORD.sub(lambda m: misspell(m.group(), rng) if rng.random() < rate else m.group(), text)


def _edit(word: str, rng: random.Random) -> str:
    kinds = ["insert", "substitute"]
    if len(word) > 1:
        kinds += ["delete", "transpose"]
    kind = rng.choice(kinds)
    i = rng.randrange(len(word))
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "transpose":
        i = min(i, len(word) - 2)
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    ch = _typed_near(word[i], rng)
    if kind == "insert":
        return word[: i + 1] + ch + word[i + 1 :]
    return word[:i] + ch + word[i + 1 :]


def _typed_near(ch: str, rng: random.Random) -> str:
    """A key next to ``ch`` (or ``ch`` itself: a doubled letter), in ``ch``'s case."""
    near = _NEIGHBOURS.get(ch.lower())
    if not near:
        return ch
    out = rng.choice(near + ch.lower())
    return out.upper() if ch.isupper() else out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_typos", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="CSV with a text column (e.g. a val.csv from bench/kb_data.py)")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write, same columns")
    parser.add_argument("--rate", type=float, default=RATE, help=f"share of words misspelt (default {RATE})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with args.file.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or ())
        rows = list(reader)
    if "text" not in fields:
        parser.error(f"{args.file} has no text column (found: {', '.join(fields) or 'nothing'})")
    changed = 0
    for row in rows:
        typed = add_typos(row["text"], rng, args.rate)
        changed += typed != row["text"]
        row["text"] = typed
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{args.out}: {len(rows)} rows, {changed} with typos (rate {args.rate}, seed {args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
