"""Write document-retrieval validation sets for ``hub eval --docs`` (into ``tmp/docs-data``).

* ``stackfaq-holdout/``: StackFAQ (Karan & Šnajder 2018) with a fifth of the
  threads (fixed seed) removed from the documents; their questions are
  labelled unanswerable (empty ``doc_id``).
* ``faq-docs/``: the demo FAQ (kb/faq.toml) as one Markdown article per entry
  (question as title, answer as body); the queries are the entries' example
  phrasings, with 20% of the entries' articles removed (their phrasings become
  unanswerable) plus CLINC150's ``oos_val`` questions (Larson et al. 2019),
  real out-of-scope user questions, also unanswerable.
* ``northwind/``: the shipped help center (kb/help/) with the questions in
  ``bench/data/northwind_help_questions.csv`` (written for this project; the
  FAQ's topics are unanswerable there).

Usage: ``.venv/bin/python -m bench.docs_data [--data ../shared/data] [--out tmp/docs-data]``, then e.g.
``hub eval --docs --config tmp/docs-data/stackfaq-holdout/config.toml --queries tmp/docs-data/stackfaq-holdout/queries.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from pathlib import Path

from kb.faq import load_faq

ROOT = Path(__file__).resolve().parent.parent
SEED = 14


def _write(folder: Path, rows: list[tuple[str, str]]) -> None:
    (folder / "config.toml").write_text('[kb]\ndocuments = ["docs/*.md"]\n', encoding="utf-8")
    with (folder / "queries.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "doc_id"])
        writer.writerows(rows)


def stackfaq(data: Path, out: Path) -> None:
    folder = out / "stackfaq-holdout"
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    source = data / "stackfaq"
    ids = sorted(p.stem for p in (source / "documents").glob("*.md"))
    held = set(random.Random(SEED).sample(ids, len(ids) // 5))
    for doc_id in ids:
        if doc_id not in held:
            shutil.copy(source / "documents" / f"{doc_id}.md", docs / f"{doc_id}.md")
    with (source / "questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], "" if r["doc_id"] in held else r["doc_id"]) for r in csv.DictReader(handle)]
    _write(folder, rows)


def faq_docs(data: Path, out: Path) -> None:
    folder = out / "faq-docs"
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    faq = load_faq(ROOT / "kb" / "faq.toml")
    entries = list(faq)
    held = {e.id for e in random.Random(SEED).sample(entries, max(1, len(entries) // 5))}
    rows = []
    for entry in entries:
        if entry.id not in held:
            (docs / f"{entry.id}.md").write_text(f"# {entry.question}\n\n{entry.answer}\n", encoding="utf-8")
        rows += [(text, "" if entry.id in held else entry.id) for text in entry.examples]
    clinc = json.loads((data / "clinc150" / "clinc150_train_val.json").read_text(encoding="utf-8"))
    rows += [(text, "") for text, _ in clinc["oos_val"]]
    _write(folder, rows)


def northwind(out: Path) -> None:
    folder = out / "northwind"
    docs = folder / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for article in (ROOT / "kb" / "help").glob("*.md"):
        shutil.copy(article, docs / article.name)
    with (ROOT / "bench" / "data" / "northwind_help_questions.csv").open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["doc_id"]) for r in csv.DictReader(handle)]
    _write(folder, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.docs_data", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("tmp/docs-data"))
    args = parser.parse_args(argv)
    stackfaq(args.data, args.out)
    faq_docs(args.data, args.out)
    northwind(args.out)
    print(f"wrote {args.out}/stackfaq-holdout, faq-docs, northwind")


if __name__ == "__main__":
    main()
