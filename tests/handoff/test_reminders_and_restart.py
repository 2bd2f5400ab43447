"""Unclaimed escalations are re-announced; a restart on Redis loses no hand-off."""

from __future__ import annotations

import time

from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import agents_channel, handoff_config
from tests.harness import WebchatClient


async def test_unclaimed_escalation_is_re_announced_and_the_customer_told(slack: FakeSlack) -> None:
    config = handoff_config(slack, remind_after_s=0.3, expected_wait="about an hour")
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        first = await chat.say("talk to a person")
        assert "about an hour" in first["text"]
        top = await agents.escalated()

        reminder = await agents.in_thread(top, "Still waiting for an agent")
        assert "Can someone claim it?" in reminder
        loud = [p for p in slack.posted if p.get("thread_ts") == top["ts"] and p.get("reply_broadcast")]
        assert loud, "the reminder is also shown in the channel"
        again = await chat.expect("message", **{"from": "system"})
        assert "about an hour" in again["text"]

        await agents.press(top, "claim")
        await agents.state_becomes(top, "Claimed by Alex Agent")
        await chat.silence(0.3)  # a reminder told before the claim may still be on its way
        count = sum("Still waiting" in text for text in agents.thread(top))
        assert await chat.silence(1.0) == []  # claimed: no more queue messages (3+ periods)
        assert sum("Still waiting" in text for text in agents.thread(top)) == count


async def test_a_claim_that_lands_during_a_reminder_round_is_kept(slack: FakeSlack) -> None:
    config = handoff_config(slack, remind_after_s=3600)  # the loop itself stays quiet
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("talk to a person")
        top = await agents.escalated()
        read_by_the_round = await agents.escalation(top)  # the round has read "waiting"...
        await agents.press(top, "claim")  # ...and an agent claims before it saves
        await agents.state_becomes(top, "Claimed by Alex Agent")
        reminded = await agents.service.desk.remind_due(time.time() + 7200, [read_by_the_round])
        assert reminded == 0
        assert (await agents.escalation(top)).status == "claimed"
        assert not any("Still waiting" in text for text in agents.thread(top))


async def test_restart_on_redis_keeps_the_escalation_claim_and_thread(
    slack: FakeSlack, redis_url: str
) -> None:
    config = handoff_config(slack, {"store": {"url": redis_url}})
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("I need a real person")
        top = await agents.escalated()
        await agents.press(top, "claim")
        await agents.state_becomes(top, "Claimed by Alex Agent")
        session, session_id = chat.session, chat.session_id

    async with agents_channel(slack, config) as agents:
        async with WebchatClient.connect(agents.url, session=session) as chat:
            assert chat.session_id == session_id
            await agents.reply(top, "Sorry for the wait, I'm back.")
            answer = await chat.expect("message", **{"from": "agent"})
            assert (answer["name"], answer["text"]) == ("Alex Agent", "Sorry for the wait, I'm back.")

            await chat.send({"type": "message", "id": "after", "text": "hello again"})
            await agents.in_thread(top, "hello again")
            assert await chat.silence(0.3) == []  # still with the agent, the bot is quiet

            await agents.press(top, "resolve")
            assert "resolved" in (await chat.expect("message", **{"from": "system"}))["text"]
            await agents.state_becomes(top, "Resolved by Alex Agent")
        assert len(agents.tops()) == 1  # the same escalation, not a second one


async def test_escalation_is_announced_once_slack_is_back(slack: FakeSlack) -> None:
    config = handoff_config(slack, remind_after_s=0.3)
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        slack.fail("chat.postMessage", "service_unavailable", times=1)
        queued = await chat.say("talk to a person")
        assert "15 minutes" in queued["text"]  # the customer is told either way
        top = await agents.escalated()  # the reminder loop announced it on its next round
        assert "talk to a person" in str(top["blocks"])
        await agents.reply(top, "Got it.")
        assert (await chat.expect("message", **{"from": "agent"}))["text"] == "Got it."
