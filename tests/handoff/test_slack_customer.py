"""A Slack customer (DM) handed to a person in the agents channel, and back."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import event_callback, message_event, post_event
from tests.handoff.conftest import AgentsChannel, agents_channel, handoff_config

DM = "D_CUSTOMER"


async def customer_says(agents: AgentsChannel, text: str) -> None:
    event = message_event(text, channel=DM, user="U_CUSTOMER")
    status, _ = await post_event(f"{agents.url}/slack/events", event_callback(event))
    assert status == 200
    await agents.service.hub.drain()


def dm_texts(slack: FakeSlack) -> list[str]:
    return [p["text"] for p in slack.posted if p["channel"] == DM]


async def dm_reply(slack: FakeSlack, needle: str) -> dict[str, Any]:
    return await slack.wait_for("chat.postMessage", lambda p: p["channel"] == DM and needle in p["text"])


async def test_slack_customer_talks_to_an_agent_in_their_dm(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents:
        await customer_says(agents, "hello")
        assert dm_texts(slack) == ["Hello! How can I help?"]
        await customer_says(agents, "Can I talk to a human agent?")
        await dm_reply(slack, "15 minutes")

        top = await agents.escalated()
        assert top["blocks"][0]["text"]["text"] == "Casey Customer on slack needs a person"

        await customer_says(agents, "hello, still there?")
        await agents.in_thread(top, "still there?")
        assert len(dm_texts(slack)) == 2  # the bot said nothing to "hello" this time

        await agents.reply(top, "Hi Casey, Alex here.")
        relayed = await dm_reply(slack, "Alex here")
        assert relayed["text"] == "Hi Casey, Alex here."
        await agents.state_becomes(top, "Claimed by Alex Agent")

        await agents.reply(top, "NOTE: refund probably needed")
        await agents.press(top, "return")
        await dm_reply(slack, "back with the assistant")
        assert not any("refund" in text for text in dm_texts(slack))

        await customer_says(agents, "hello")
        assert dm_texts(slack)[-1] == "Hello! How can I help?"
