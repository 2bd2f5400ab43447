"""Sentence embeddings for the matcher, fully offline: WordLlama's bundled weights.

`WordLlama <https://github.com/dleemiller/WordLlama>`_ (MIT) ships a 32,000 x 256
token-embedding table distilled from large language models (``l2_supercat``,
Llama-2 tokenizer) inside its wheel. A sentence is the average of its tokens'
vectors, L2-normalised: no torch, no GPU, tens of microseconds per query.

The files are read straight from the installed package directory: importing
``wordllama`` itself would configure the root logger (``logging.basicConfig``
in its ``__init__``) and its loader falls back to a download when a file is
missing. Here nothing ever touches the network; a missing file is an error.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

__all__ = ["DIM", "SentenceEmbedder", "load_embedder"]

logger = logging.getLogger(__name__)

DIM = 256
_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
_TENSOR = "embedding.weight"


class SentenceEmbedder:
    """Average-pooled token embeddings; ``embed`` for batches, ``one`` for a query."""

    def __init__(self, table: np.ndarray, tokenizer: Tokenizer) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float32)
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit vector per text (zeros for a text with no tokens)."""
        out = np.zeros((len(texts), self.table.shape[1]), np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            out[row] = self._pool(encoding.ids)
        return out

    def one(self, text: str) -> np.ndarray:
        """The same vector as ``embed([text])[0]``."""
        return self._pool(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _pool(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros(self.table.shape[1], np.float32)
        vector = self.table[ids].sum(axis=0)  # the mean's direction: it is normalised next
        norm = float(np.sqrt(vector @ vector))
        return vector / norm if norm > 0 else vector


@lru_cache(maxsize=1)
def load_embedder() -> SentenceEmbedder:
    """The bundled WordLlama model, loaded once per process (about 0.3 s, 32 MB)."""
    root = _package_dir()
    table = load_file(str(root / _WEIGHTS))[_TENSOR]
    tokenizer = Tokenizer.from_file(str(root / _TOKENIZER))
    logger.debug("loaded WordLlama embeddings %s from %s", table.shape, root)
    return SentenceEmbedder(table, tokenizer)


def _package_dir() -> Path:
    """wordllama's install directory, found without importing (running) the package."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kb matcher needs the wordllama package (pip install wordllama)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for part in (_WEIGHTS, _TOKENIZER):
        if not (root / part).is_file():
            raise RuntimeError(f"wordllama is installed without its bundled {part} ({root})")
    return root
