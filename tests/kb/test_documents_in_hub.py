"""Help-center articles inside the running hub: answers with "Read more", hot reload, tools."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import shutil
from pathlib import Path

import aiohttp
import pytest

from kb.cli import register
from tests.harness import WebchatClient, make_config, running_hub

REPO = Path(__file__).resolve().parents[2]
BASE = "https://help.example/articles"


@pytest.fixture
def help_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "help"
    shutil.copytree(REPO / "kb" / "help", folder)
    return folder


def docs_config(help_dir: Path, faq: Path | None = None):
    kb = {"enabled": True, "path": str(faq or REPO / "kb" / "faq.toml"),
          "documents": [str(help_dir / "*.md")], "documents_base_url": BASE}
    return make_config(kb=kb)


async def test_a_question_only_an_article_answers_gets_its_sentences_and_a_link(help_dir: Path) -> None:
    async with running_hub(docs_config(help_dir)) as hub, WebchatClient.connect(hub.url) as chat:
        reply = await chat.say("How long does it take to break in leather boots?")
        assert "Leather boots need about 20 to 30 kilometres of easy walking" in reply["text"]
        assert reply["text"].endswith(
            "Read more: Hiking boots: fit and breaking in "
            "https://help.example/articles/boot-fitting#breaking-them-in"
        )
        faq = await chat.say("can I pay with PayPal?")  # the FAQ still answers first
        assert "PayPal" in faq["text"] and "Read more" not in faq["text"]
        unknown = await chat.say("what is the capital of France")
        assert "Read more" not in unknown["text"]
        async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/healthz") as resp:
            documents = (await resp.json())["components"]["kb"]["documents"]
        assert documents["files"] == 7 and documents["chunks"] > 7


async def test_a_new_article_is_picked_up_and_a_broken_one_does_not_block_it(help_dir: Path) -> None:
    async with running_hub(docs_config(help_dir)) as hub, WebchatClient.connect(hub.url) as chat:
        question = "can I bring my dog to your store?"
        assert "Read more" not in (await chat.say(question))["text"]
        (help_dir / "broken.md").write_bytes(b"\x00\x01binary" * 100)
        (help_dir / "dogs.md").write_text(
            "# Bringing your dog to our stores\n\nYes, you can bring your dog: dogs on a leash are welcome "
            "in our stores. We keep water bowls at the entrance.\n", encoding="utf-8")
        for _ in range(50):
            reply = await chat.say(question)
            if "Read more: Bringing your dog to our stores" in reply["text"]:
                break
            await asyncio.sleep(0.3)
        else:
            raise AssertionError(f"the new article was not picked up: {reply['text']!r}")
        assert "dogs on a leash are welcome" in reply["text"]


def run_cli(argv: list[str]) -> str:
    parser = argparse.ArgumentParser(prog="hub")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    assert args.func(args, out) == 0
    return out.getvalue()


@pytest.fixture
def config_file(help_dir: Path, tmp_path: Path) -> Path:
    (help_dir / "empty.md").write_text("")
    path = tmp_path / "config.toml"
    path.write_text(f'[kb]\ndocuments = ["help/*.md"]\ndocuments_base_url = "{BASE}"\n', encoding="utf-8")
    return path


def test_eval_docs_prints_the_figures_the_issue_names(config_file: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.csv"
    queries.write_text(
        "text,doc_id\n"
        "how do I wash my rain jacket,waterproof-jacket-care\n"
        "how much is renting a tent,rental|trail-club\n"
        "do students pay less,trail-club\n"
        "what is the capital of France,\n", encoding="utf-8")
    figures = json.loads(run_cli(["eval", "--docs", "--config", str(config_file), "--queries", str(queries),
                                  "--json", "--sweep"]))
    for key in ("n", "recall_at_1", "recall_at_5", "mrr_at_10", "coverage", "precision",
                "unanswerable_false_accept", "p50_ms", "p99_ms", "index_s"):
        assert key in figures
    assert figures["n"] == 4 and figures["n_unanswerable"] == 1
    assert figures["recall_at_5"] == 1.0
    assert figures["unanswerable_false_accept"] == 0.0
    assert figures["skipped_files"] == 1
    assert [row["threshold"] for row in figures["sweep"]][:3] == [0.0, 0.05, 0.1]


def test_kb_search_shows_each_score_and_kb_docs_lists_files_and_failures(config_file: Path) -> None:
    found = json.loads(run_cli(["kb", "search", "--config", str(config_file), "--json", "rent a tent"]))
    best = found["hits"][0]
    assert best["doc_id"] == "rental"
    assert {"bm25", "dense", "fused", "calibrated"} <= set(best)
    assert best["passages"][0]["link"].startswith(f"{BASE}/rental#")
    listing = run_cli(["kb", "docs", "--config", str(config_file)])
    assert "7 documents" in listing and "rental.md" in listing
    assert "SKIPPED" in listing and "empty.md" in listing


def test_hub_check_warns_about_a_glob_matching_nothing_and_an_unreadable_file(help_dir: Path, tmp_path: Path) -> None:
    from hub.config import load_config
    from hub.preflight import preflight

    (help_dir / "bad.md").write_bytes(b"\x00\x01\x02")
    path = tmp_path / "config.toml"
    path.write_text(f'[kb]\npath = "{REPO / "kb" / "faq.toml"}"\n'
                    'documents = ["help/*.md", "manuals/*.pdf"]\n', encoding="utf-8")
    found = preflight(load_config(path))
    assert found.ok  # bad documents are skipped, they do not stop the hub
    texts = [str(w) for w in found.warnings]
    assert any(":3: kb.documents[0]: warning:" in t and "bad.md will be skipped: binary" in t for t in texts)
    assert any("kb.documents[1]" in t and "'manuals/*.pdf' matches no" in t for t in texts)
