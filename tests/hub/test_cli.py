"""The hub command: check and ask, as an admin runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import main

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


# -- hub check validates everything hub run loads, with hub run's words ---------------


def hub_env(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env}
    for name in [k for k, v in full.items() if v == ""]:
        del full[name]  # "" means: make sure it is unset
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=120,
    )


def check_and_run(config: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    check = hub_env("check", "--config", str(config), env=env)
    run = hub_env("run", "--config", str(config), env=env)
    return check, run


def broken_faq(folder: Path) -> Path:
    """The demo FAQ with the returns entry's answer emptied."""
    text = (REPO / "kb" / "faq.toml").read_text(encoding="utf-8")
    start = text.index('id = "returns"')
    answer = text.index("answer = ", start)
    end = text.index("\n", answer)
    faq = folder / "faq.toml"
    faq.write_text(text[:answer] + 'answer = "  "' + text[end:], encoding="utf-8")
    return faq


def test_check_and_run_refuse_a_broken_faq_with_the_same_error(tmp_path: Path) -> None:
    faq = broken_faq(tmp_path)
    line = faq.read_text(encoding="utf-8").splitlines().index('answer = "  "') + 1
    config = tmp_path / "config.toml"
    config.write_text('[server]\nport = 0\n[kb]\npath = "faq.toml"\n')
    check, run = check_and_run(config)
    expected = f"{faq}:{line}: entries[4].answer (id 'returns'): empty answer"
    assert check.returncode == 1 and run.returncode == 1, (check.stdout, run.stderr)
    assert expected in check.stderr.splitlines()
    assert expected in run.stderr.splitlines()
    assert "OK" not in check.stdout


def test_check_and_run_name_every_missing_secret(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nport = 0\n[kb]\nenabled = false\n'
        '[channels.telegram]\nenabled = true\nmode = "webhook"\n'
        'webhook_url = "https://support.example.com/telegram/webhook"\n'
        '[channels.slack]\nenabled = true\nmode = "socket"\n'
        '[llm]\n[[llm.tiers]]\nname = "cheap"\n[[llm.tiers.models]]\nmodel = "openai/gpt-4o-mini"\n'
        'api_key_env = "SB_TEST_OPENAI_KEY"\n'
    )
    unset = {name: "" for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET",
                                   "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SB_TEST_OPENAI_KEY")}
    check, run = check_and_run(config, **unset)
    assert check.returncode == 1 and run.returncode == 1, (check.stdout, run.stderr)
    errors = [
        f"{config}:5: channels.telegram.token_env: environment variable TELEGRAM_BOT_TOKEN is not set",
        f"{config}:5: channels.telegram.secret_token_env: "
        "environment variable TELEGRAM_WEBHOOK_SECRET is not set",
        f"{config}:9: channels.slack.bot_token_env: environment variable SLACK_BOT_TOKEN is not set",
        f"{config}:9: channels.slack.app_token_env: environment variable SLACK_APP_TOKEN is not set",
        f"{config}:17: llm.tiers[0].models[0].api_key_env: "
        "environment variable SB_TEST_OPENAI_KEY is not set",
    ]
    assert check.stderr.splitlines() == errors
    for error in errors:
        assert error in run.stderr.splitlines()


def check_here(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``hub check`` in this process (the environment is the test's)."""
    code = main(["check", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_passes_when_the_secrets_are_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[kb]\nenabled = false\n[channels.telegram]\nenabled = true\n'
        '[channels.slack]\nenabled = true\n'
    )
    for name, value in {"TELEGRAM_BOT_TOKEN": "123456:ABCdef", "SLACK_BOT_TOKEN": "xoxb-1",
                        "SLACK_SIGNING_SECRET": "s3cret"}.items():
        monkeypatch.setenv(name, value)
    code, out, err = check_here(config, capsys)
    assert (code, err) == (0, "") and out.startswith(f"{config}: OK")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "oops")
    code, _, err = check_here(config, capsys)
    assert code == 1
    assert f"{config}:3: channels.telegram.token_env: $TELEGRAM_BOT_TOKEN is not a bot token" in err


def test_check_warns_but_passes_on_what_does_not_stop_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[kb]\nenabled = false\n'
        '[[rules]]\nname = "legal"\nkeywords = ["lawyer"]\naction = "handoff"\n'
        '[[llm.tiers]]\nname = "local"\n[[llm.tiers.models]]\nmodel = "openai/llama3"\n'
        'api_base = "http://127.0.0.1:11434/v1"\napi_key_env = "SB_TEST_LOCAL_KEY"\n'
    )
    monkeypatch.delenv("SB_TEST_LOCAL_KEY", raising=False)
    code, out, err = check_here(config, capsys)
    assert code == 0 and "OK" in out
    assert err.splitlines() == [
        f"{config}:12: llm.tiers[0].models[0].api_key_env: warning: environment variable "
        "SB_TEST_LOCAL_KEY is not set; openai/llama3 is called without a key",
        f"{config}:6: rules[0]: warning: rule 'legal' hands off, but there are no agents "
        "([handoff] agents_channel with Slack) and no [messages] contact: the customer is only "
        "told that no one is available",
    ]
    with_contact = tmp_path / "contact.toml"
    with_contact.write_text(config.read_text() + '[messages]\ncontact = "help@shop.example"\n')
    monkeypatch.setenv("SB_TEST_LOCAL_KEY", "k")
    code, _, err = check_here(with_contact, capsys)
    assert (code, err) == (0, "")
