"""Sentence embeddings for the matcher, fully offline: two static token tables.

A sentence is the mean of its tokens' vectors, L2-normalised, in each of two
tables, and the two unit vectors side by side (each scaled by sqrt(1/2), so the
whole is unit length). No torch, no GPU, tens of microseconds per query.

* `WordLlama <https://github.com/dleemiller/WordLlama>`_ (MIT): a 32,000 x 256
  token table distilled from large language models (``l2_supercat``, Llama-2
  tokenizer), shipped inside the ``wordllama`` wheel. The files are read straight
  from the installed package directory: importing ``wordllama`` itself would
  configure the root logger (``logging.basicConfig`` in its ``__init__``) and its
  loader falls back to a download when a file is missing.
* A 30,522 x 128 WordPiece table distilled from the sentence transformer
  `all-MiniLM-L6-v2 <https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>`_
  (Apache-2.0) by :mod:`kb.distill`, shipped in ``kb/data/`` (4 MB, int8).

The two were trained on different data with different tokenisers; side by side
they add 0.5 point of top-1 on the harder BANKING77 validation splits and 0.9 on
CLINC150 over WordLlama alone (docs/kb.md). Nothing here touches the network; a
missing file is an error.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

__all__ = ["DIM", "MINILM_TABLE", "MINILM_TOKENIZER", "JointEmbedder", "SentenceEmbedder", "dequantise", "load_embedder"]

logger = logging.getLogger(__name__)

_WORDLLAMA_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_WORDLLAMA_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
_DATA = Path(__file__).parent / "data"
# Written by kb.distill, read here.
MINILM_TABLE = _DATA / "minilm-static.safetensors"
MINILM_TOKENIZER = _DATA / "minilm-tokenizer.json"
DIM = 256 + 128
# Distinct whitespace-separated chunks whose token ids each table remembers (~100 B each).
_CHUNK_CACHE = 1 << 16


class SentenceEmbedder:
    """Average-pooled token vectors of one table; ``embed`` for batches, ``one`` for a query.

    Text is tokenised a whitespace-separated chunk at a time, and each chunk's
    token ids are cached: customers reuse the same few thousand words, and a
    cache hit costs a fraction of a tokeniser call (for WordPiece the ids are
    exactly the whole text's; for Llama's SentencePiece only runs of spaces,
    which add a bare "▁" token, come out differently).
    """

    def __init__(self, table: np.ndarray, tokenizer: Tokenizer) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.dim = self.table.shape[1]
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._chunk_ids = lru_cache(maxsize=_CHUNK_CACHE)(self._encode_chunk)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text (zeros for a text with no tokens)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            out[row] = self.one(text)
        return out

    def one(self, text: str) -> np.ndarray:
        """The text's unit vector (zeros for a text with no tokens)."""
        ids: list[int] = []
        for chunk in text.split():
            ids += self._chunk_ids(chunk)
        if not ids:
            return np.zeros(self.dim, np.float32)
        vector = self.table[ids].sum(axis=0)  # the mean's direction: it is normalised next
        norm = float(np.sqrt(vector @ vector))
        return vector / norm if norm > 0 else vector

    def _encode_chunk(self, chunk: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(chunk, add_special_tokens=False).ids)


class JointEmbedder:
    """Several embedders side by side, each unit vector scaled so the whole has unit length."""

    def __init__(self, parts: Sequence[SentenceEmbedder]) -> None:
        self.parts = tuple(parts)
        self.dim = sum(part.dim for part in self.parts)
        self._scale = np.float32(math.sqrt(1.0 / len(self.parts)))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text: the parts' unit vectors, concatenated and scaled."""
        return np.hstack([part.embed(texts) for part in self.parts]) * self._scale

    def one(self, text: str) -> np.ndarray:
        """The same vector as ``embed([text])[0]``."""
        return np.concatenate([part.one(text) for part in self.parts]) * self._scale


@lru_cache(maxsize=1)
def load_embedder() -> JointEmbedder:
    """WordLlama and the distilled MiniLM table, loaded once per process (~0.4 s, 36 MB)."""
    embedder = JointEmbedder([_wordllama(), _minilm()])
    logger.debug("loaded the sentence embedders (%d dimensions)", embedder.dim)
    return embedder


def _wordllama() -> SentenceEmbedder:
    root = _package_dir("wordllama", (_WORDLLAMA_WEIGHTS, _WORDLLAMA_TOKENIZER))
    table = load_file(str(root / _WORDLLAMA_WEIGHTS))["embedding.weight"]
    return SentenceEmbedder(table, Tokenizer.from_file(str(root / _WORDLLAMA_TOKENIZER)))


def _minilm() -> SentenceEmbedder:
    for path in (MINILM_TABLE, MINILM_TOKENIZER):
        if not path.is_file():
            raise RuntimeError(f"the kb matcher needs {path} (rebuild it with python -m kb.distill)")
    table = dequantise(load_file(str(MINILM_TABLE)))
    return SentenceEmbedder(table, Tokenizer.from_file(str(MINILM_TOKENIZER)))


def dequantise(stored: dict[str, np.ndarray]) -> np.ndarray:
    """The float table from int8 rows ``q`` and their ``scale`` (the inverse of ``kb.distill.quantise``)."""
    return stored["q"].astype(np.float32) * stored["scale"][:, None]


def _package_dir(name: str, files: Sequence[Path]) -> Path:
    """An installed package's directory, found without importing (running) the package."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the kb matcher needs the {name} package (pip install {name})")
    root = Path(next(iter(spec.submodule_search_locations)))
    for part in files:
        if not (root / part).is_file():
            raise RuntimeError(f"{name} is installed without its bundled {part} ({root})")
    return root
