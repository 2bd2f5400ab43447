"""A webchat customer handed to a person in the Slack agents channel, and back."""

from __future__ import annotations

from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import AGENTS, agents_channel, handoff_config
from tests.harness import WebchatClient


async def test_customer_asks_for_a_person_agent_answers_then_resolves(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        assert (await chat.say("hello"))["text"] == "Hello! How can I help?"
        queued = await chat.say("I want to talk to a HUMAN please")
        assert queued["from"] == "system" and "15 minutes" in queued["text"]

        top = await agents.escalated()
        assert top["blocks"][0]["text"]["text"] == "Webchat visitor on webchat needs a person"
        shown = str(top["blocks"])
        assert "customer asked for a person" in shown
        assert "hello" in shown and "Hello! How can I help?" in shown
        assert agents.buttons(top) == ["Claim", "Resolve", "Return to bot"]
        assert "Waiting" in agents.state(top)

        # The bot stays silent; the customer's words go to the thread only.
        await chat.send({"type": "message", "id": "q1", "text": "hello? my parcel is lost"})
        assert "my parcel is lost" in await agents.in_thread(top, "parcel")
        assert await chat.silence(0.3) == []

        await agents.press(top, "claim")
        await agents.state_becomes(top, "Claimed by Alex Agent")
        await agents.reply(top, "Hi, I'm Alex. Let me look &amp; check.")
        answer = await chat.expect("message", **{"from": "agent"})
        assert answer["name"] == "Alex Agent"
        assert answer["text"] == "Hi, I'm Alex. Let me look & check."

        await agents.reply(top, "note: customer sounds worried")
        assert await chat.silence(0.3) == []

        await agents.press(top, "resolve")
        closing = await chat.expect("message", **{"from": "system"})
        assert "resolved" in closing["text"]
        await agents.state_becomes(top, "Resolved by Alex Agent")
        assert agents.buttons(top) == []

        old = await agents.service.desk.escalation((await agents.escalation(top)).conversation_id)
        assert old is not None and old.status == "resolved"
        assert (await chat.say("hello"))["text"] == "Hello! How can I help?"
        store = agents.service.hub.store
        fresh = await store.conversation_at(f"webchat:{_session(chat)}")
        assert fresh is not None and fresh.linked_from == old.conversation_id
        transcript = [e.text for e in await store.transcript(old.conversation_id)]
        assert "Hi, I'm Alex. Let me look & check." in transcript
        assert not any("worried" in line for line in transcript)


async def test_return_to_bot_keeps_the_conversation(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("can I speak to a person")
        top = await agents.escalated()
        await agents.reply(top, "Taking this one.")  # first reply claims
        assert (await chat.expect("message", **{"from": "agent"}))["text"] == "Taking this one."
        await agents.state_becomes(top, "Claimed by Alex Agent")

        await agents.press(top, "return")
        back = await chat.expect("message", **{"from": "system"})
        assert "back with the assistant" in back["text"]
        await agents.state_becomes(top, "Returned to the bot by Alex Agent")
        assert (await chat.say("hello"))["text"] == "Hello! How can I help?"
        conversation_id = (await agents.escalation(top)).conversation_id
        current = await agents.service.hub.store.conversation_at(f"webchat:{_session(chat)}")
        assert current is not None and current.id == conversation_id and current.status == "bot"

        # Late replies in the closed thread are refused, not relayed.
        await agents.reply(top, "one more thing")
        refused = await agents.refused("U_AGENT")
        assert "closed" in refused["text"] and refused["thread_ts"] == top["ts"]
        assert await chat.silence(0.3) == []


async def test_only_agents_may_claim_or_answer(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("real person please")
        top = await agents.escalated()

        await agents.press(top, "claim", user="U_STRANGER")
        refusal = await agents.refused("U_STRANGER")
        assert refusal["channel"] == AGENTS and "Only members" in refusal["text"]
        assert "Waiting" in agents.state(top)

        await agents.reply(top, "I am not staff", user="U_STRANGER")
        assert (await agents.refused("U_STRANGER", 2))["thread_ts"] == top["ts"]
        assert await chat.silence(0.3) == []
        assert (await agents.escalation(top)).status == "waiting"


async def test_allow_list_overrides_channel_membership(slack: FakeSlack) -> None:
    config = handoff_config(slack, agents=["U_STRANGER"])
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("human agent")
        top = await agents.escalated()
        await agents.press(top, "claim", user="U_AGENT")
        await agents.refused("U_AGENT")
        await agents.press(top, "claim", user="U_STRANGER")
        await agents.state_becomes(top, "Claimed by Sam Stranger")


def _session(chat: WebchatClient) -> str:
    assert chat.session is not None
    return chat.session.split(".")[0]


async def test_a_second_escalation_gets_its_own_thread(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("talk to a person")
        first = await agents.escalated()
        await agents.press(first, "return")
        await chat.expect("message", **{"from": "system"})
        await chat.say("talk to a person")
        second = await agents.escalated(2)
        assert "Waiting" in agents.state(second)

        await agents.reply(first, "late reply in the old thread")
        assert "closed" in (await agents.refused("U_AGENT"))["text"]
        await agents.reply(second, "new thread, new reply")
        assert (await chat.expect("message", **{"from": "agent"}))["text"] == "new thread, new reply"
