import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import KBConfig
from kb.cli import DEFAULT_THRESHOLD, register
from kb.faq import load_faq

ROWS = [
    ("How long does shipping take?", "shipping"), ("when will my order arrive", "shipping"),
    ("delivery time", "shipping"), ("how many days for delivery", "shipping"),
    ("How do I return an item?", "returns"), ("return policy", "returns"),
    ("I want to send something back", "returns"), ("can I get a refund", "returns"),
    ("which payment methods", "payment"), ("can I pay with paypal", "payment"),
    ("do you take credit cards", "payment"), ("payment options", "payment"),
]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def run(argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="hub")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out = io.StringIO()
    if args.func.__name__ == "cmd_eval":
        return args.func(args, out), out.getvalue()
    return args.func(args), ""


def test_default_threshold_is_the_hubs() -> None:
    assert DEFAULT_THRESHOLD == KBConfig().threshold


def test_import_then_eval_end_to_end(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", "text,category\r\n" + "".join(f'"{t}",{label}\r\n' for t, label in ROWS))
    answers = write_csv(tmp_path / "answers.csv", "label,answer\nshipping,Two days.\n")
    out = tmp_path / "faq.toml"
    assert run(["kb", "import", str(train), "--out", str(out), "--answers", str(answers)])[0] == 0
    faq = load_faq(out)
    assert [e.id for e in faq] == ["shipping", "returns", "payment"]
    assert faq.get("shipping").answer == "Two days."  # type: ignore[union-attr]
    assert "returns" in faq.get("returns").answer  # type: ignore[union-attr]  # placeholder names the label
    queries = write_csv(tmp_path / "q.csv", "text,label\nhow long is delivery,shipping\nrefund please,returns\n")
    oos = write_csv(tmp_path / "oos.csv", "text\nwhat is the capital of peru\n")
    code, printed = run(["eval", "--kb", str(out), "--queries", str(queries), "--oos", str(oos), "--json"])
    figures = json.loads(printed)
    assert code == 0
    for key in ("n", "top1_accuracy", "coverage", "precision", "oos_false_accept", "p50_ms", "p99_ms", "train_s"):
        assert key in figures
    assert figures["n"] == 2 and figures["threshold"] == DEFAULT_THRESHOLD


def test_sweep_and_plot(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", "text,label\n" + "".join(f'"{t}",{label}\n' for t, label in ROWS))
    out = tmp_path / "faq.toml"
    run(["kb", "import", str(train), "--out", str(out)])
    png = tmp_path / "sweep.png"
    code, printed = run(["eval", "--kb", str(out), "--queries", str(train), "--sweep", "--plot", str(png)])
    assert code == 0 and "threshold  coverage  precision" in printed
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_missing_column_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_csv(tmp_path / "bad.csv", "question,intent_name\nhello,x\n")
    assert run(["kb", "import", str(bad), "--out", str(tmp_path / "o.toml")])[0] == 1
    err = capsys.readouterr().err
    assert "bad.csv:1:" in err and "missing column 'text'" in err


def test_bad_encoding_and_empty_label_name_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\nhello,a\ncaf\xe9 please,b\n".encode("latin-1"))
    assert run(["kb", "import", str(latin), "--out", str(tmp_path / "o.toml")])[0] == 1
    assert "latin.csv:3:" in capsys.readouterr().err
    empty = write_csv(tmp_path / "empty.csv", "text,label\nhello,a\nbye,\n")
    assert run(["kb", "import", str(empty), "--out", str(tmp_path / "o.toml")])[0] == 1
    assert "empty.csv:3: label: empty 'label'" in capsys.readouterr().err


def test_hub_entry_point_runs_import(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", "text,label\n" + "".join(f'"{t}",{label}\n' for t, label in ROWS))
    out = tmp_path / "faq.toml"
    done = subprocess.run([sys.executable, "-m", "hub.cli", "kb", "import", str(train), "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(load_faq(out)) == 3


def test_import_help_names_the_accepted_label_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(["kb", "import", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "text column and a label (or category, intent) column" in text
    assert "BANKING77's text,category works as is" in text
