"""Structured logs: ``[log] format = "json"`` writes one scrubbed JSON object a line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hub.config import load_config
from hub.envelope import InboundMessage, new_id
from hub.errors import ConfigError
from hub.hub import Hub
from hub.logs import add_scrubber, conversation_scope, log_address, log_handler, stage_scope
from hub.stages import Decision, Turn
from hub.store import MemoryStore
from providers.pii import scrub
from routing.rules import RuleStage
from tests.harness import WebchatClient, make_config, running_hub

pytestmark = pytest.mark.timeout(60)

RULES = [{"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."}]


@contextmanager
def captured(fmt: str) -> Iterator[io.StringIO]:
    """What the hub's own handler (as ``hub run`` sets it up) writes, at INFO and up."""
    stream = io.StringIO()
    handler = log_handler(fmt, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_decision_line_names_the_hashed_conversation_channel_stage_and_latency() -> None:
    with captured("json") as stream:
        async with running_hub(make_config(rules=RULES)) as hub, WebchatClient.connect(hub.url) as chat:
            assert (await chat.say("are you open?"))["text"] == "We are open 9 to 5."
            session = chat.session_id
    lines = json_lines(stream)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    decision = next(line for line in lines if line["message"].startswith("decision rules"))
    assert decision["conversation"] == log_address(f"webchat:{session}")
    assert decision["channel"] == "webchat"
    assert decision["stage"] == "rules"
    assert decision["level"] == "INFO" and decision["logger"] == "hub.hub"
    assert isinstance(decision["latency_ms"], float) and decision["latency_ms"] >= 0
    assert decision["time"].endswith("Z") and decision["time"][10] == "T"
    assert session not in stream.getvalue()


def test_personal_data_and_tracebacks_are_masked_in_json() -> None:
    add_scrubber(scrub)  # what the LLM stage registers
    logger = logging.getLogger("hub.test_logs")
    with captured("json") as stream:
        with conversation_scope("telegram:424242"), stage_scope("llm"):
            try:
                raise ValueError("provider said: unknown user ann.smith@example.com")
            except ValueError:
                logger.exception("customer wrote %s", "call me on +44 20 7946 0958")
        logger.warning("outside any conversation")
    inside, outside = json_lines(stream)
    text = stream.getvalue()
    assert "ann.smith@example.com" not in text and "7946 0958" not in text
    assert "ValueError" in inside["exception"]
    assert inside["conversation"] == log_address("telegram:424242") != "telegram:424242"
    assert (inside["channel"], inside["stage"], inside["level"]) == ("telegram", "llm", "ERROR")
    assert outside.keys() == {"time", "level", "logger", "message"}


def test_text_stays_the_default_one_readable_line() -> None:
    logger = logging.getLogger("hub.test_logs")
    with captured(make_config().log.format) as stream, conversation_scope("webchat:s1"):
        logger.info("hello %s", "there")
    line = stream.getvalue().strip()
    assert line.endswith(f"INFO    hub.test_logs [{log_address('webchat:s1')}] hello there")


def test_a_log_format_other_than_text_or_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[log]\nformat = "xml"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "log.format" in str(caught.value) and "'xml'" in str(caught.value)
    path.write_text('[log]\nformat = "json"\n')
    assert load_config(path).log.format == "json"


class Noting:
    """A stage that logs a line of its own and passes."""

    name = "noting"

    async def __call__(self, turn: Turn) -> Decision | None:
        logging.getLogger("tests.noting").info("looked at it")
        return None


async def test_a_line_logged_inside_a_stage_carries_that_stage() -> None:
    """The chain tags what a stage logs itself, not only the hub's decision line."""
    hub = Hub(make_config(rules=RULES), MemoryStore(), [Noting(), RuleStage()])
    message = InboundMessage(channel="webchat", conversation_id="c1", user_id="u1",
                             message_id=new_id(), text="are you open?")
    try:
        with captured("json") as stream:
            assert (await hub.handle(message)).stage == "rules"
    finally:
        await hub.close()
    [own] = [line for line in json_lines(stream) if line["message"] == "looked at it"]
    assert own["stage"] == "noting"
