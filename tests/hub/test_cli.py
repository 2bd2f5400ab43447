"""The hub command: check and ask, as an admin runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def hub(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_accepts_the_shipped_config() -> None:
    result = hub("check", "--config", "config.toml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_rejects_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text('[server]\nport = 8080\nhots = "x"\n')
    result = hub("check", "--config", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: server.hots: unknown key" in result.stderr


def test_ask_shows_the_rule_decision_as_json(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[kb]\nenabled = false\n[llm]\nenabled = false\n'
        '[[rules]]\nname = "refunds"\nkeywords = ["refund"]\naction = "reply"\n'
        'text = "Refunds take 5 days."\n'
    )
    result = hub("ask", "--config", str(config), "--json", "Where is my REFUND?")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["stage"] == "rules"
    assert decision["reply"] == "Refunds take 5 days."
    assert decision["details"]["rule"] == "refunds"
    assert "refunds" in decision["reason"]


def test_ask_human_readable(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[kb]\nenabled = false\n[llm]\nenabled = false\n')
    result = hub("ask", "--config", str(config), "something nobody configured")
    assert result.returncode == 0, result.stderr
    assert "stage:" in result.stdout and "reason:" in result.stdout
