"""Editing config.toml under a running hub: good edits apply, bad ones are reported."""

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
name = "hours"
keywords = ["hours"]
action = "reply"
text = "{text}"
"""


async def wait_for_reply(chat: WebchatClient, text: str, timeout: float = 6.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await chat.say("hours?")
        if reply["text"] == text:
            return
        assert asyncio.get_running_loop().time() < deadline, f"still {reply['text']!r}"
        await asyncio.sleep(0.2)


async def test_good_edit_applies_and_bad_edit_keeps_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(TEMPLATE.format(text="Nine to five."))
    async with running_hub(load_config(path)) as hub, WebchatClient.connect(hub.url) as chat:
        assert (await chat.say("hours?"))["text"] == "Nine to five."

        path.write_text(TEMPLATE.format(text="Open all night."))
        await wait_for_reply(chat, "Open all night.")

        caplog.set_level(logging.ERROR, logger="hub.service")
        path.write_text(TEMPLATE.format(text="x").replace('keywords = ["hours"]', 'pattern = "("'))
        for _ in range(60):
            if "rules[0].pattern" in caplog.text:
                break
            await asyncio.sleep(0.1)
        assert f"{path}:" in caplog.text and "rules[0].pattern: bad regex" in caplog.text
        assert "last good config keeps serving" in caplog.text
        assert (await chat.say("hours?"))["text"] == "Open all night."
        assert hub.hub.metrics.errors.labels("config")._value.get() == 1
