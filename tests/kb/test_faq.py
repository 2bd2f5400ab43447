from pathlib import Path

import pytest

from hub.envelope import Button
from hub.errors import ConfigError
from kb.faq import load_faq, parse_faq
from tests.kb.conftest import SMALL_FAQ


def test_loads_entries_with_buttons_examples_and_channels(faq_path: Path) -> None:
    faq = load_faq(faq_path)
    assert [e.id for e in faq] == ["shipping-times", "returns", "password-reset", "payment-methods"]
    returns = faq.get("returns")
    assert returns is not None and returns.buttons == (Button("Start a return", "start return"),)
    assert faq.get("password-reset").channels == ("webchat",)  # type: ignore[union-attr]
    assert "delivery time" in faq.get("shipping-times").phrasings  # type: ignore[union-attr]


def test_duplicate_id_is_an_error_naming_entry_and_line() -> None:
    text = SMALL_FAQ + '\n[[entries]]\nid = "returns"\nquestion = "Again?"\nanswer = "x"\n'
    with pytest.raises(ConfigError) as err:
        parse_faq(text, file="faq.toml")
    (problem,) = err.value.problems
    assert problem.key == "entries[4].id"
    assert "duplicate id 'returns'" in problem.message
    assert problem.line == len(text.splitlines()) - 2


@pytest.mark.parametrize("answer", ['""', '"   "', '{ text = "" }'])
def test_empty_answer_is_an_error(answer: str) -> None:
    text = f'[[entries]]\nid = "a"\nquestion = "q?"\nanswer = {answer}\n'
    with pytest.raises(ConfigError) as err:
        parse_faq(text, file="faq.toml")
    assert "empty answer" in str(err.value)
    assert "(id 'a')" in str(err.value)
    assert err.value.problems[0].line == 4


def test_unknown_key_and_bad_toml_are_reported() -> None:
    with pytest.raises(ConfigError, match=r"entries\[0\]\.anwser.*unknown key"):
        parse_faq('[[entries]]\nid = "a"\nquestion = "q"\nanwser = "x"\nanswer = "y"\n')
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        parse_faq('[[entries]]\nid = "a\n')
    assert err.value.problems[0].line == 2


def test_demo_faq_is_valid() -> None:
    faq = load_faq(Path(__file__).parents[2] / "kb" / "faq.toml")
    assert len(faq) >= 15
    assert all(len(e.examples) >= 3 for e in faq)
