"""Adding an example phrasing to kb/faq.toml: text edit, validation, lock, backup, stale diff."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from console.errors import FaqEditError
from console.faq_edit import FaqEditor, add_example
from kb.faq import load_faq, parse_faq

DEMO = Path(__file__).parents[2] / "kb" / "faq.toml"

SMALL = '''# header comment stays
[[entries]]
id = "a"
question = "First?"
answer = "One."
examples = ["one", "uno"]  # inline list

[[entries]]
id = "b"
question = "Second?"
answer = "Two."
examples = [
    "two",
    "dos"  # no trailing comma
]
tags = ["x"]

[[entries]]
id = "c"
question = "Third?"
answer = "Three."
'''


@pytest.mark.parametrize("entry", ["a", "b", "c"])
def test_example_lands_in_that_entry_only(entry: str) -> None:
    new = add_example(SMALL, entry, 'how do "quotes" \\ work')
    faq = parse_faq(new)
    for item in faq:
        phrased = 'how do "quotes" \\ work' in item.examples
        assert phrased == (item.id == entry)
    assert new.startswith("# header comment stays")
    assert parse_faq(SMALL).get("b").examples == ("two", "dos")


def test_demo_faq_keeps_its_comments_and_grows_by_one_line(tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    shutil.copy(DEMO, path)
    editor = FaqEditor(path)
    preview = editor.preview("shipping-times", "parcel taking forever")
    added = [line for line in preview.diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ['+    "parcel taking forever",']
    editor.save("shipping-times", "parcel taking forever", preview.digest)
    assert "parcel taking forever" in load_faq(path).get("shipping-times").examples
    assert path.read_text().splitlines()[:3] == DEMO.read_text().splitlines()[:3]
    backups = list((tmp_path / ".backups").iterdir())
    assert len(backups) == 1 and backups[0].read_text() == DEMO.read_text()


def test_stale_preview_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text(SMALL)
    editor = FaqEditor(path)
    preview = editor.preview("a", "first thing")
    path.write_text(SMALL.replace("One.", "Uno."))
    with pytest.raises(FaqEditError, match="changed since the preview"):
        editor.save("a", "first thing", preview.digest)
    assert "first thing" not in path.read_text()


def test_refusals_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text(SMALL)
    editor = FaqEditor(path)
    with pytest.raises(FaqEditError, match="no FAQ entry"):
        editor.preview("zzz", "q")
    with pytest.raises(FaqEditError, match="already has"):
        editor.preview("b", "dos")
    with pytest.raises(FaqEditError, match="1 to"):
        editor.preview("b", "   ")
