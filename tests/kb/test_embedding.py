"""The sentence embedder: bundled WordLlama and distilled MiniLM tables, offline, meaning over spelling."""

from __future__ import annotations

import socket
import sys

import numpy as np
import pytest

from kb.embedding import DIM, JointEmbedder, load_embedder


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder tried to use the network")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_loads_the_bundled_weights_without_network(no_network: None) -> None:
    load_embedder.cache_clear()
    embedder = load_embedder()
    assert isinstance(embedder, JointEmbedder)
    assert embedder.dim == DIM == sum(part.table.shape[1] for part in embedder.parts)
    # wordllama's own loader (it downloads missing files and configures logging) never runs
    assert "wordllama" not in sys.modules


def test_paraphrases_are_closer_than_unrelated_questions() -> None:
    embedder = load_embedder()
    card, lost, weather = embedder.embed(
        ["my card has not arrived yet", "I still haven't received my new card", "will it rain tomorrow"]
    )
    assert card @ lost > card @ weather + 0.1
    assert np.linalg.norm(card) == pytest.approx(1.0, abs=1e-5)
    for part in embedder.parts:  # each table on its own knows the difference too
        card, lost, weather = part.embed(
            ["my card has not arrived yet", "I still haven't received my new card", "will it rain tomorrow"]
        )
        assert card @ lost > card @ weather + 0.1


def test_single_query_matches_batch_and_empty_text_is_zero() -> None:
    embedder = load_embedder()
    texts = ["How do I reset my password?", ""]
    batch = embedder.embed(texts)
    assert np.allclose(embedder.one(texts[0]), batch[0], atol=1e-6)
    assert not embedder.one("").any() and not batch[1].any()


def test_whitespace_runs_do_not_change_the_vector() -> None:
    embedder = load_embedder()
    assert np.allclose(embedder.one("  my card\tarrived   broken "), embedder.one("my card arrived broken"))
    assert not embedder.one(" \n\t ").any()


def test_the_distilled_table_format_round_trips() -> None:
    from kb.distill import quantise
    from kb.embedding import dequantise

    table = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    table[3] = 0.0  # a row of zeros keeps a usable scale
    restored = dequantise(quantise(table))
    assert restored.shape == table.shape and not restored[3].any()
    assert np.abs(restored - table).max() <= np.abs(table).max(axis=1).max() / 127
