"""config.toml validation: every fault names the file, the key path and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config import Config, load_config
from hub.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_the_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config.toml")
    assert config.server.port == 8080
    assert config.store.url == "memory://"
    assert config.rules


def test_empty_file_gives_the_embedded_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.store.url == "memory://"
    assert config.channels.webchat.enabled and config.channels.webchat.max_chars == 4000


def test_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nhost = "127.0.0.1"\nprot = 9000\n')
    assert problems(path) == [f"{path}:3: server.prot: unknown key"]


def test_wrong_type_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = "eighty"\n')
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2: server.port:")
    assert "integer" in problem


def test_bad_literal_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.slack]\nmode = "event"\n')
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2: channels.slack.mode:")
    assert "'events' or 'socket'" in problem and "'event'" in problem


def test_bad_regex_names_the_rule_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[rules]]\nname = "ok"\nkeywords = ["a"]\naction = "tag"\ntags = ["x"]\n\n'
        '[[rules]]\nname = "broken"\npattern = "(unclosed"\naction = "reply"\ntext = "hi"\n',
    )
    [problem] = problems(path)
    assert problem.startswith(f"{path}:9: rules[1].pattern:")
    assert "bad regex" in problem


def test_rule_without_its_fields(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rules]]\nname = "r"\nkeywords = ["x"]\naction = "reply"\n')
    [problem] = problems(path)
    assert "rules[0]" in problem and 'needs text' in problem


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = -1\ncolour = "red"\n[store]\nurl = "mysql://x"\n')
    found = problems(path)
    assert len(found) == 3
    assert any("server.colour: unknown key" in p for p in found)
    assert any("store.url" in p for p in found)


def test_invalid_toml_has_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = \n')
    [problem] = problems(path)
    assert problem.startswith(f"{path}:2:") and "not valid TOML" in problem


def test_missing_file(tmp_path: Path) -> None:
    [problem] = problems(tmp_path / "nope.toml")
    assert "file not found" in problem


def test_route_to_unknown_tier() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({
            "rules": [{"name": "r", "keywords": ["x"], "action": "route", "tier": "gold"}],
            "llm": {"tiers": [{"name": "cheap", "models": [{"model": "openai/x"}]}]},
        })
    assert "unknown tier 'gold'" in str(caught.value)


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(ValidationError):
        config.server.port = 1  # type: ignore[misc]


def test_relative_paths_resolve_beside_the_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[kb]\npath = "faq.toml"\n'))
    assert config.resolve(config.kb.path) == tmp_path.resolve() / "faq.toml"
