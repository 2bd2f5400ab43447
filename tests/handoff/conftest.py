"""Hand-off test rig: a running hub with the real Slack adapter against the fake Slack.

Agents act as Slack would report it: button presses and thread replies are
posted, signed, to the hub's ``/slack/events`` and go through slack-bolt.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.slack.agents import ACTION_PREFIX
from hub.config import Config
from hub.handoff import Escalation
from hub.service import HubService
from hub.store import Store
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    SIGNING_SECRET,
    block_actions,
    event_callback,
    message_event,
    post_event,
)
from tests.harness import make_config, running_hub

AGENTS = "C_AGENTS"
RULES = [{"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hello! How can I help?"}]


@pytest.fixture(autouse=True)
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.members[AGENTS] = ["U_AGENT"]
        yield fake


def handoff_config(
    slack: FakeSlack, data: Mapping[str, Any] | None = None, **handoff: Any
) -> Config:
    """Webchat and Slack on, agents in ``C_AGENTS`` of the fake Slack."""
    sections: dict[str, Any] = {
        "rules": RULES,
        "channels": {"slack": {"enabled": True, "api_base": slack.api_base}},
        **dict(data or {}),
    }
    return make_config(sections, handoff={"agents_channel": AGENTS, **handoff})


@dataclass
class AgentsChannel:
    """What agents see and do in the agents channel of the fake Slack."""

    slack: FakeSlack
    service: HubService

    @property
    def url(self) -> str:
        return self.service.url

    def messages(self) -> list[dict[str, Any]]:
        return list(self.slack.messages.get(AGENTS, []))

    def tops(self) -> list[dict[str, Any]]:
        """Top-level escalation messages, as the channel shows them now."""
        return [m for m in self.messages() if "thread_ts" not in m]

    async def escalated(self, count: int = 1) -> dict[str, Any]:
        """Wait for the ``count``-th escalation message; return it as first posted."""
        await self.slack.wait_for("chat.postMessage", lambda _: len(self.tops()) >= count)
        return copy.deepcopy(self.tops()[count - 1])

    def thread(self, top: dict[str, Any]) -> list[str]:
        return [m["text"] for m in self.messages() if m.get("thread_ts") == top["ts"]]

    async def in_thread(self, top: dict[str, Any], needle: str) -> str:
        """Wait for a thread message containing ``needle``."""
        await self._until("chat.postMessage", lambda: any(needle in t for t in self.thread(top)))
        return next(text for text in self.thread(top) if needle in text)

    def _current(self, top: dict[str, Any]) -> dict[str, Any]:
        return next(m for m in self.messages() if m["ts"] == top["ts"])

    def state(self, top: dict[str, Any]) -> str:
        """The status line of the escalation message, as last updated."""
        return next(
            b["text"]["text"] for b in self._current(top)["blocks"]
            if b["type"] == "section" and b["text"]["text"].startswith("*Status:*")
        )

    async def state_becomes(self, top: dict[str, Any], needle: str) -> str:
        await self._until("chat.update", lambda: needle in self.state(top))
        return self.state(top)

    def buttons(self, top: dict[str, Any]) -> list[str]:
        actions = [b for b in self._current(top)["blocks"] if b["type"] == "actions"]
        return [e["text"]["text"] for a in actions for e in a["elements"]]

    async def refused(self, user: str, count: int = 1) -> dict[str, Any]:
        """Wait for the ``count``-th ephemeral message to ``user``."""
        def mine() -> list[dict[str, Any]]:
            return [p for p in self.slack.ephemeral if p["user"] == user]

        await self._until("chat.postEphemeral", lambda: len(mine()) >= count)
        return mine()[count - 1]

    async def _until(self, method: str, condition: Callable[[], bool]) -> None:
        await self.slack.wait_for(method, lambda _: condition())

    async def press(self, top: dict[str, Any], action: str, user: str = "U_AGENT") -> None:
        """A person presses Claim / Resolve / Return to bot on the escalation message."""
        payload = block_actions(
            conversation_of(top), action_id=f"{ACTION_PREFIX}{action}", channel=AGENTS,
            user=user, message_ts=top["ts"], message=top,
        )
        await self._post(payload)

    async def reply(self, top: dict[str, Any], text: str, user: str = "U_AGENT") -> None:
        """A person posts ``text`` in the escalation's thread."""
        message = self.slack.add_message(AGENTS, {"user": user, "text": text, "thread_ts": top["ts"]})
        event = message_event(text, channel=AGENTS, user=user, thread_ts=top["ts"], ts=message["ts"])
        await self._post(event_callback(event))

    async def _post(self, payload: dict[str, Any]) -> None:
        status, body = await post_event(f"{self.url}/slack/events", payload)
        assert status == 200, body

    async def escalation(self, top: dict[str, Any]) -> Escalation:
        found = await self.service.desk.escalation(conversation_of(top))
        assert found is not None
        return found


def conversation_of(top: dict[str, Any]) -> str:
    """The conversation id an escalation message's buttons carry."""
    for block in top.get("blocks", []):
        if block["type"] == "actions":
            return str(block["elements"][0]["value"])
    raise AssertionError("escalation message without buttons")


@asynccontextmanager
async def agents_channel(
    slack: FakeSlack, config: Config, store: Store | None = None
) -> AsyncIterator[AgentsChannel]:
    """A running hub whose hand-off desk posts to the fake Slack's agents channel."""
    async with running_hub(config, store) as service:
        assert service.desk.available
        yield AgentsChannel(slack, service)
