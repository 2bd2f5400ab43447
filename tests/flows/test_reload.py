"""Flows hot-reload with config.toml: a good edit applies, a bad one keeps the last good flows."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from hub.config import load_config
from tests.harness import WebchatClient, running_hub

TEMPLATE = """
[server]
port = 0
[kb]
enabled = false
[llm]
enabled = false

[[rules]]
name = "survey"
keywords = ["survey"]
action = "flow"
flow = "survey"

[[flows.list]]
name = "survey"
[[flows.list.steps]]
id = "ask"
ask = "How was your visit?"
slot = "feeling"
expect = {{ choice = ["good", "bad"] }}
next = [ {{ goto = "{goto}" }} ]
[[flows.list.steps]]
id = "thanks"
say = "{thanks} ({{{{ slots.feeling }}}})"
end = true
"""


def write(path: Path, *, thanks: str, goto: str = "thanks") -> None:
    path.write_text(TEMPLATE.format(thanks=thanks, goto=goto), encoding="utf-8")


async def finish_survey(chat: WebchatClient) -> str:
    assert (await chat.say("survey please"))["text"] == "How was your visit?"
    return str((await chat.say("good"))["text"])


async def wait_for_thanks(chat: WebchatClient, expected: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (answer := await finish_survey(chat)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"still {answer!r}"
        await asyncio.sleep(0.2)


async def test_a_flow_edit_applies_and_a_bad_one_keeps_the_last_good_flows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    write(path, thanks="Thanks!")
    async with running_hub(load_config(path)) as hub, WebchatClient.connect(hub.url) as chat:
        assert await finish_survey(chat) == "Thanks! (good)"

        write(path, thanks="Thank you for telling us.")
        await wait_for_thanks(chat, "Thank you for telling us. (good)")

        caplog.set_level(logging.ERROR, logger="hub.service")
        write(path, thanks="Broken.", goto="nowhere")
        for _ in range(100):
            if "last good config keeps serving" in caplog.text:
                break
            await asyncio.sleep(0.1)
        assert "last good config keeps serving" in caplog.text
        assert f"{path}:" in caplog.text and "flows.list[0].steps[0].next[0].goto" in caplog.text
        assert "nowhere" in caplog.text
        assert await finish_survey(chat) == "Thank you for telling us. (good)"


async def test_a_conversation_mid_flow_carries_on_across_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    write(path, thanks="Thanks!")
    async with running_hub(load_config(path)) as hub, WebchatClient.connect(hub.url) as chat:
        assert (await chat.say("survey please"))["text"] == "How was your visit?"
        write(path, thanks="Much obliged.")
        for _ in range(100):
            if hub.config.flows.list[0].steps[1].say.startswith("Much obliged."):
                break
            await asyncio.sleep(0.1)
        assert (await chat.say("bad"))["text"] == "Much obliged. (bad)"
