"""The conversation index follows a hand-off: bot, waiting, agent, resolved."""

from __future__ import annotations

from hub.store import Store
from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import agents_channel, handoff_config
from tests.harness import WebchatClient


async def statuses(store: Store) -> list[tuple[str, int]]:
    return [(s.status, s.messages) for s in await store.list_conversations()]


async def test_index_follows_the_hand_off(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        store = agents.service.hub.store
        await chat.say("hello")
        [summary] = await store.list_conversations()
        assert (summary.status, summary.messages, summary.channel) == ("bot", 2, "webchat")
        assert summary.last_text == "Hello! How can I help?"
        assert summary.user  # the customer id the envelope gave

        await chat.say("I want to talk to a HUMAN please")
        top = await agents.escalated()
        assert [s.status for s in await store.list_conversations()] == ["waiting"]
        assert await store.list_conversations(status="bot") == []

        await agents.press(top, "claim")
        await agents.state_becomes(top, "Claimed by Alex Agent")
        assert [s.status for s in await store.list_conversations()] == ["agent"]
        await chat.send({"type": "message", "id": "q1", "text": "my mail is jane@example.com"})
        await agents.in_thread(top, "my mail")
        [summary] = await store.list_conversations(status="agent")
        assert summary.last_text == "my mail is [email]"  # the preview is always masked

        await agents.press(top, "resolve")
        await chat.expect("message", **{"from": "system"})
        [summary] = await store.list_conversations()
        assert summary.status == "resolved"
        await chat.say("hello")
        assert [s.status for s in await store.list_conversations()] == ["bot", "resolved"]
