"""[admin] users: config checks, the hash helper, and password checks."""

from __future__ import annotations

import io

import pytest
from argon2 import PasswordHasher

from console.accounts import Accounts
from hub.cli import main
from hub.config import Config
from hub.errors import ConfigError
from tests.console.admin import PASSWORDS, console_config
from tests.harness import running_hub


def test_hash_password_reads_stdin_and_prints_a_verifiable_hash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough secret\n"))
    assert main(["admin", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$")
    assert PasswordHasher().verify(printed, "a long enough secret")


def test_hash_password_refuses_a_short_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["admin", "hash-password"]) == 1
    assert "at least 8" in capsys.readouterr().err


def test_role_and_names_are_checked_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"admin\.users\[0\]\.role"):
        Config.from_mapping({"admin": {"users": [{"name": "a", "password_hash_env": "X",
                                                  "role": "root"}]}})
    with pytest.raises(ConfigError, match="duplicate user names: a"):
        Config.from_mapping({"admin": {"users": [{"name": "a", "password_hash_env": "X"}] * 2}})
    assert Config.from_mapping({"admin": {"users": [
        {"name": "a", "password_hash_env": "X"}]}}).admin.users[0].role == "admin"


async def test_a_missing_or_plain_hash_stops_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_ADMIN_VIEWER_HASH")
    with pytest.raises(ConfigError, match=r"admin\.users\[1\]\.password_hash_env.*TEST_ADMIN_VIEWER_HASH"):
        async with running_hub(console_config()):
            pass
    monkeypatch.setenv("TEST_ADMIN_VIEWER_HASH", "plain-text-password")
    with pytest.raises(ConfigError, match="not an argon2 hash"):
        Accounts.from_config(console_config().admin)


async def test_verify_knows_only_the_right_password() -> None:
    accounts = Accounts.from_config(console_config().admin)
    assert (await accounts.verify("ops", PASSWORDS["ops"])).role == "admin"
    assert (await accounts.verify("watcher", PASSWORDS["watcher"])).role == "viewer"
    assert await accounts.verify("ops", PASSWORDS["watcher"]) is None
    assert await accounts.verify("nobody", PASSWORDS["ops"]) is None
