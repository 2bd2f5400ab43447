"""The document index: incremental, cached on disk, robust to bad files; retrieval and abstention."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from hub.config import KBConfig
from kb.documents.ingest import Sources, build_index
from kb.documents.retrieval import Retriever

REPO = Path(__file__).resolve().parents[2]
HELP = REPO / "kb" / "help"
THRESHOLD = KBConfig().documents_threshold


@pytest.fixture
def help_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "help"
    shutil.copytree(HELP, folder)
    return folder


def sources(folder: Path, cache: Path | None = None) -> Sources:
    return Sources(("**/*.md", "**/*.html", "**/*.pdf"), folder, "https://help.example/a", cache)


def stamps(index) -> dict[str, float]:
    return {Path(f.path).name: f.indexed_at for f in index.files}


def test_only_the_changed_file_is_indexed_again_and_a_deleted_one_disappears(help_dir: Path) -> None:
    first = build_index(sources(help_dir))
    before = stamps(first)
    rental = help_dir / "rental.md"
    rental.write_text(rental.read_text() + "\n## Pets\n\nDogs may come along in rented tents.\n")
    (help_dir / "trail-club.md").unlink()
    second = build_index(sources(help_dir), previous=first)
    after = stamps(second)
    assert "trail-club.md" not in after and "trail-club" not in second.doc_ids
    assert after["rental.md"] > before["rental.md"]
    assert all(after[name] == before[name] for name in after if name != "rental.md")
    assert any("Dogs may come along" in c.text for c in second.chunks)


def test_a_touched_but_unchanged_file_is_not_indexed_again(help_dir: Path) -> None:
    first = build_index(sources(help_dir))
    os.utime(help_dir / "rental.md", None)
    second = build_index(sources(help_dir), previous=first)
    assert stamps(second) == stamps(first)


def test_a_restart_reuses_the_disk_cache(help_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_index(sources(help_dir, cache))
    assert (cache / "manifest.json").is_file()
    again = build_index(sources(help_dir, cache))  # a new process: no previous index in memory
    assert stamps(again) == stamps(first)
    assert [c.text for c in again.chunks] == [c.text for c in first.chunks]
    assert (again.vectors == first.vectors).all()


def test_a_corrupt_cache_is_rebuilt(help_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_index(sources(help_dir, cache))
    (cache / "manifest.json").write_text("{not json")
    index = build_index(sources(help_dir, cache))
    assert len(index.doc_ids) == 7


def test_bad_files_are_reported_by_path_and_the_others_indexed(help_dir: Path, caplog) -> None:
    (help_dir / "empty.md").write_bytes(b"")
    (help_dir / "image.md").write_bytes(bytes(range(256)) * 100)
    (help_dir / "zz-copy.md").write_bytes((help_dir / "rental.md").read_bytes())
    (help_dir / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    with caplog.at_level(logging.WARNING, logger="kb.documents.ingest"):
        index = build_index(sources(help_dir))
    skipped = {Path(s.path).name: s.reason for s in index.skipped}
    assert set(skipped) == {"empty.md", "image.md", "zz-copy.md", "scan.pdf"}
    assert skipped["zz-copy.md"].startswith("duplicate of") and skipped["zz-copy.md"].endswith("rental.md")
    assert len(index.doc_ids) == 7
    for name in skipped:
        assert any(name in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    return Retriever(build_index(Sources(("*.md",), HELP, "https://help.example/a")))


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("how do I wash my rain jacket?", "waterproof-jacket-care"),
        ("how much is it to rent a backpack for the weekend", "rental"),
        ("can my old boots get a new sole", "boot-fitting"),
        ("do students get a discount", "trail-club"),
    ],
)
def test_the_answering_article_ranks_first(retriever: Retriever, question: str, doc_id: str) -> None:
    found = retriever.search(question)
    assert found.best is not None and found.best.doc_id == doc_id
    assert found.best.passages and found.best.passages[0].doc_id == doc_id


@pytest.mark.parametrize(
    "question",
    [
        "what is the capital of France",
        "how long does shipping take",  # the FAQ's topic, not an article's
        "😀😀😀🎉",
        "🔥" * 5000,
        "jacket " * 15000,  # ~100 KB
        "x" * 100_000,
        "",
    ],
)
def test_no_answer_above_threshold_by_accident(retriever: Retriever, question: str) -> None:
    assert retriever.search(question).confidence < THRESHOLD


def test_scores_are_reported_for_each_view(retriever: Retriever) -> None:
    hit = retriever.search("how do I store a down sleeping bag").best
    assert hit is not None and hit.doc_id == "down-jacket-care"
    assert hit.bm25 > 0 and 0 < hit.dense <= 1 and hit.fused > 0 and 0 <= hit.confidence <= 1
    assert hit.passages[0].link.startswith("https://help.example/a/down-jacket-care#")
