"""Placeholder answers (``hub kb import`` without ``--answers``) are never sent to a customer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hub.config import Config
from kb.faq import load_faq, parse_faq, placeholder_warnings
from kb.importer import faq_to_toml, import_csv
from kb.knowledge import KnowledgeBase
from kb.stage import KnowledgeStage
from tests.kb.conftest import SMALL_FAQ
from tests.kb.test_stage import make_turn


def imported(tmp_path: Path) -> Path:
    """The FAQ ``hub kb import`` writes from a BANKING77-shaped CSV with no answers."""
    rows = ["text,category", "where is my card,card_arrival", "my card has not arrived,card_arrival",
            "how do I top up,top_up", "add money to my account,top_up"]
    csv = tmp_path / "train.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "faq.toml"
    out.write_text(faq_to_toml(import_csv(csv)), encoding="utf-8")
    return out


def test_an_imported_answer_is_a_placeholder_that_check_warns_about(tmp_path: Path) -> None:
    path = imported(tmp_path)
    faq = load_faq(path)  # still a valid FAQ: the hub starts
    assert all(e.placeholder for e in faq)
    warnings = placeholder_warnings(faq)
    assert [w.level for w in warnings] == ["warning", "warning"]
    lines = path.read_text(encoding="utf-8").splitlines()
    first = warnings[0]
    assert first.file == str(path) and first.key == "entries[0].answer (id 'card_arrival')"
    assert first.line is not None and lines[first.line - 1].startswith("answer = ")
    assert "placeholder" in str(first) and "never sends" in str(first)


@pytest.mark.parametrize(
    ("answer", "placeholder"),
    [("TODO: write this", True), ("todo: later", True), ("[placeholder answer for top_up]", True),
     ("Todos los pedidos se envían en 24 horas.", False), ("Top up in the app.", False)],
)
def test_the_marker(answer: str, placeholder: bool) -> None:
    faq = parse_faq(f'[[entries]]\nid = "a"\nquestion = "q"\nanswer = "{answer}"\n')
    assert faq.entries[0].placeholder is placeholder
    assert bool(placeholder_warnings(faq)) is placeholder


async def test_the_stage_never_sends_a_placeholder_and_passes_the_turn_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "faq.toml"
    path.write_text(SMALL_FAQ.replace('answer = "Cards, PayPal and Klarna."', 'answer = "TODO: payment answer"'),
                    encoding="utf-8")
    knowledge = KnowledgeBase(path)
    await knowledge.load()
    config = Config.from_mapping({"kb": {"threshold": 0.05}})
    turn = make_turn("can I pay with paypal", config)
    assert knowledge.matcher.match(turn.message.text).entry.id == "payment-methods"  # type: ignore[union-attr]
    with caplog.at_level(logging.WARNING, logger="kb.stage"):
        assert await KnowledgeStage(knowledge)(turn) is None
    assert "payment-methods" in caplog.text and "placeholder" in caplog.text
    assert any("placeholder" in line for line in turn.trace)
    assert all("TODO" not in c.answer for c in turn.candidates)  # no grounding for the LLM to repeat
    answered = await KnowledgeStage(knowledge)(make_turn("I want to send something back", config))
    assert answered is not None and answered.text == "Within 30 days."


def test_hub_check_warns_about_each_placeholder(tmp_path: Path) -> None:
    from kb.checks import check_faq

    path = imported(tmp_path)
    found = check_faq(Config.from_mapping({"kb": {"path": str(path)}}))
    assert [(p.level, p.key) for p in found] == [
        ("warning", "entries[0].answer (id 'card_arrival')"), ("warning", "entries[1].answer (id 'top_up')")]
