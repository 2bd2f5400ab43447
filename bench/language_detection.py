"""Language detection on short messages (1-10 words) in en, zh, fr, de and es (issue 16).

Asks :class:`hub.language.LanguageDetector` (lingua, restricted to the five
languages, ``default = "en"``) for the language of each message as a conversation's
*first* message, the hardest case (a later message keeps the conversation's
language unless the switch is clear), and counts how often it is right.

The messages, none of them written for this bench:

* en: customer questions of BANKING77 (``train.csv``) and CLINC150 (in-scope
  ``val``), ``../shared/data`` (CC BY 4.0, CC BY 3.0);
* zh: SMP2017-ECDT task 1 (Chinese voice-assistant requests, ``--smp``, see
  bench/zh_data.py);
* fr, de, es (and zh and en again): the sentences of lingua's own accuracy test
  data (``language-testdata/sentences/*.txt`` of github.com/pemistahl/lingua-py,
  drawn from the Leipzig Wortschatz news corpora, separate from lingua's training
  documents; ``--lingua``), those of 1-10 words (a Chinese sentence counts a word
  per 1.5 characters). News sentences, not customer messages, and lingua's own
  test set: the figures for fr/de/es are the kind lingua publishes, not a customer
  sample. No public multilingual set of customer messages could be had offline
  (MASSIVE's public copies are Git LFS pointers).

Usage: ``python -m bench.language_detection --smp smp2017.tsv --lingua DIR [--per 500]``
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench.zh_data import read_tsv
from hub.language import LanguageDetector

LANGUAGES = ("en", "zh", "fr", "de", "es")


def words(text: str) -> float:
    """Words in ``text``: space-separated, or 1.5 characters a word for Chinese."""
    han = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return han / 1.5 + len([w for w in text.split() if not all("\u4e00" <= c <= "\u9fff" for c in w)])


def short(texts: Iterable[str], limit: int = 10) -> list[str]:
    return [t for t in (" ".join(t.split()) for t in texts) if t and 1 <= words(t) <= limit]


def english(shared: Path) -> list[str]:
    with (shared / "banking77" / "train.csv").open(encoding="utf-8", newline="") as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    clinc = json.loads((shared / "clinc150" / "clinc150_train_val.json").read_text(encoding="utf-8"))
    return texts + [text for text, _ in clinc["val"]]


def samples(args: argparse.Namespace) -> dict[str, dict[str, list[str]]]:
    """{source: {language: messages}}, at most ``--per`` each, seeded."""
    rng = random.Random(args.seed)

    def pick(texts: list[str]) -> list[str]:
        texts = short(texts)
        return rng.sample(texts, min(args.per, len(texts)))

    lingua = {lang: (args.lingua / f"{lang}.txt").read_text(encoding="utf-8").splitlines() for lang in LANGUAGES}
    return {
        "customers": {"en": pick(english(args.shared)), "zh": pick([t for t, _ in read_tsv(args.smp)])},
        "lingua-sentences": {lang: pick(lingua[lang]) for lang in LANGUAGES},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.language_detection", description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--smp", type=Path, required=True, help="SMP2017-ECDT task 1, Sentence<TAB>Tag")
    parser.add_argument("--lingua", type=Path, required=True, help="lingua's language-testdata/sentences")
    parser.add_argument("--per", type=int, default=500, help="messages per language and source")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    detector = LanguageDetector(LANGUAGES, "en")
    detector.warm_up()
    right_all = total_all = 0
    for source, by_language in samples(args).items():
        for lang, texts in by_language.items():
            started = time.thread_time()
            got = Counter(detector.detect(text) for text in texts)
            cpu_us = (time.thread_time() - started) / max(1, len(texts)) * 1e6
            right_all += got[lang]
            total_all += len(texts)
            wrong = ", ".join(f"{k} {v}" for k, v in got.most_common() if k != lang)
            print(f"{source:>17} {lang}: {got[lang] / len(texts):.2%} of {len(texts)} "
                  f"(taken for: {wrong or 'none'}; {cpu_us:.0f} us CPU each)")
    print(f"all: {right_all / total_all:.2%} of {total_all}")


if __name__ == "__main__":
    main()
