"""`hub ask --script FILE` plays a conversation and shows each decision's flow, step and slots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """\
# the README tour's order question
where is my order?
no idea
NW-10042

I want to return my jacket
NW-10043
damaged
"""


def hub_ask(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", "ask", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def test_a_script_plays_both_demo_flows(tmp_path: Path) -> None:
    script = tmp_path / "chat.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    result = hub_ask("--config", str(ROOT / "config.toml"), "--json", "--script", str(script))
    assert result.returncode == 0, result.stderr
    turns = json.loads(result.stdout)
    assert [t["text"] for t in turns] == [
        "where is my order?", "no idea", "NW-10042", "I want to return my jacket", "NW-10043", "damaged"]
    assert {t["stage"] for t in turns} == {"flows"}
    assert turns[0]["flow_after"] == {"flow": "order-status", "step": "ask-order", "slots": {}}
    assert turns[1]["reply"] == "That doesn't look like an order number (NW- and 5 digits)."
    assert turns[2]["reply"].startswith("Order NW-10042 is shipped")
    assert turns[2]["details"]["steps"] == ["ask-order", "lookup", "tell"]
    assert turns[2]["flow_after"] is None
    assert turns[4]["flow_after"] == {"flow": "returns", "step": "ask-reason", "slots": {"order_id": "NW-10043"}}
    assert turns[5]["reply"].startswith("Sorry about that. Return RMA-")


def test_the_text_form_prints_the_trace(tmp_path: Path) -> None:
    script = tmp_path / "chat.txt"
    script.write_text("where is order NW-10045?\n", encoding="utf-8")
    result = hub_ask("--config", str(ROOT / "config.toml"), "--script", str(script))
    assert result.returncode == 0, result.stderr
    assert "steps:   ask-order -> lookup -> delayed" in result.stdout
    assert "trace:   flows: order_id filled from the first message" in result.stdout


def test_ask_needs_text_or_a_script() -> None:
    result = hub_ask("--config", str(ROOT / "config.toml"))
    assert result.returncode == 2
    assert "give TEXT, or --script FILE" in result.stderr
