"""Refit the matcher's built-in calibration (``kb.matcher._DEFAULT_COEF``).

FAQs too small to calibrate themselves (the demo has 16 entries) use
coefficients fitted the same way on two large FAQs: the full BANKING77
train.csv and the CLINC150 train split, each imported as ``hub kb import``
would, their two fits averaged. Rerun this whenever the evidence or the
features change, and paste its output into kb/matcher.py.

Usage: ``.venv/bin/python -m bench.kb_calibration [--data ../shared/data]`` (~1 minute).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.kb_data import carve
from kb.embedding import load_embedder
from kb.importer import import_csv
from kb.matcher import _fit_calibration, _phrasings
from kb.segment import analysis_for


def fit(csv_path: Path) -> tuple[np.ndarray, float]:
    """The calibration ``train_matcher`` would fit for the FAQ imported from ``csv_path``."""
    faq = import_csv(csv_path)
    texts, labels = _phrasings(faq)
    embedder = load_embedder()
    return _fit_calibration(texts, embedder.embed(texts), labels, len(faq.entries), 1.0, 0, embedder, analysis_for("en"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kb_calibration", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        carve(args.data, Path(tmp))  # writes clinc150/train.csv as text,label
        fits = [fit(args.data / "banking77" / "train.csv"), fit(Path(tmp) / "clinc150" / "train.csv")]
    coef = np.mean([c for c, _ in fits], axis=0)
    intercept = float(np.mean([i for _, i in fits]))
    print(f"_DEFAULT_COEF = np.array(\n    {np.round(coef, 2).tolist()}\n)\n_DEFAULT_INTERCEPT = {intercept:.2f}")


if __name__ == "__main__":
    main()
