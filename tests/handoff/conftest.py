"""Hand-off test rig: a running hub, the fake Slack Web API, and agents acting in it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.agents import ACTION_PREFIX, SlackAgents
from hub.config import Config
from hub.handoff import Escalation
from hub.service import HubService
from hub.store import Store
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import block_actions, message_event
from tests.harness import make_config, running_hub

AGENTS = "C_AGENTS"
RULES = [{"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hello! How can I help?"}]


def handoff_config(data: Mapping[str, Any] | None = None, **handoff: Any) -> Config:
    sections = {"rules": RULES, **dict(data or {})}
    return make_config(sections, handoff={"agents_channel": AGENTS, **handoff})


@dataclass
class AgentsChannel:
    """What agents see and do in the agents channel of the fake Slack."""

    slack: FakeSlack
    service: HubService

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def board(self) -> SlackAgents:
        board = self.service.desk.board
        assert isinstance(board, SlackAgents)
        return board

    def messages(self) -> list[dict[str, Any]]:
        return list(self.slack.messages.get(AGENTS, []))

    def tops(self) -> list[dict[str, Any]]:
        """Top-level escalation messages, as the channel shows them now."""
        return [m for m in self.messages() if "thread_ts" not in m]

    async def escalated(self, count: int = 1) -> dict[str, Any]:
        """Wait for the ``count``-th escalation message and return it."""
        await self.slack.wait_for("chat.postMessage", lambda _: len(self.tops()) >= count)
        return copy.deepcopy(self.tops()[count - 1])  # as first posted, buttons and all

    def thread(self, top: dict[str, Any]) -> list[str]:
        return [m["text"] for m in self.messages() if m.get("thread_ts") == top["ts"]]

    async def in_thread(self, top: dict[str, Any], needle: str) -> str:
        def found(_: Any) -> bool:
            return any(needle in text for text in self.thread(top))

        await self.slack.wait_for("chat.postMessage", found)
        return next(text for text in self.thread(top) if needle in text)

    def state(self, top: dict[str, Any]) -> str:
        """The status line of the escalation message, as last updated."""
        current = next(m for m in self.messages() if m["ts"] == top["ts"])
        return next(
            b["text"]["text"] for b in current["blocks"]
            if b["type"] == "section" and b["text"]["text"].startswith("*Status:*")
        )

    def buttons(self, top: dict[str, Any]) -> list[str]:
        current = next(m for m in self.messages() if m["ts"] == top["ts"])
        actions = [b for b in current["blocks"] if b["type"] == "actions"]
        return [e["text"]["text"] for a in actions for e in a["elements"]]

    async def press(self, top: dict[str, Any], action: str, user: str = "U_AGENT") -> None:
        """An agent presses Claim / Resolve / Return to bot on the escalation message."""
        value = _action_value(top)
        payload = block_actions(
            value, action_id=f"{ACTION_PREFIX}{action}", channel=AGENTS, user=user,
            message_ts=top["ts"], message=top,
        )
        await self.board.on_action(payload)

    async def reply(self, top: dict[str, Any], text: str, user: str = "U_AGENT") -> None:
        """A person posts ``text`` in the escalation's thread."""
        self.slack.add_message(AGENTS, {"user": user, "text": text, "thread_ts": top["ts"]})
        await self.board.on_event(message_event(text, channel=AGENTS, user=user, thread_ts=top["ts"]))

    async def escalation(self, top: dict[str, Any]) -> Escalation:
        found = await self.service.desk.escalation(_action_value(top))
        assert found is not None
        return found


def _action_value(top: dict[str, Any]) -> str:
    for block in top.get("blocks", []):
        if block["type"] == "actions":
            return str(block["elements"][0]["value"])
    raise AssertionError("escalation message without buttons")


@asynccontextmanager
async def agents_channel(
    config: Config, store: Store | None = None, slack: FakeSlack | None = None
) -> AsyncIterator[AgentsChannel]:
    """A running hub whose hand-off desk posts to a fake Slack agents channel."""
    async with _fake_slack(slack) as fake, running_hub(config, store) as service:
        fake.members.setdefault(AGENTS, ["U_AGENT"])
        client = AsyncWebClient(token=fake.token, base_url=fake.api_base)
        service.desk.connect(service.hub, SlackAgents(client, service.desk))
        yield AgentsChannel(fake, service)


@asynccontextmanager
async def _fake_slack(given: FakeSlack | None) -> AsyncIterator[FakeSlack]:
    if given is not None:
        yield given
        return
    async with FakeSlack() as slack:
        yield slack
