"""Agents' replies enter through the durable ingress: deduped, ordered, acked after."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes.flaky import FlakyLog
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import event_callback, message_event, post_event
from tests.handoff.conftest import AGENTS, agents_channel, handoff_config
from tests.harness import WebchatClient, running_hub


async def first_escalation(slack: FakeSlack) -> dict[str, Any]:
    for _ in range(200):
        tops = [m for m in slack.messages[AGENTS] if m.get("blocks")]
        if tops:
            return tops[0]
        await asyncio.sleep(0.025)
    raise AssertionError("no escalation posted")


async def test_an_agent_reply_slack_retries_is_relayed_once(slack: FakeSlack) -> None:
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("can I speak to a person")
        top = await agents.escalated()
        message = slack.add_message(AGENTS, {"user": "U_AGENT", "text": "On it.", "thread_ts": top["ts"]})
        event = message_event("On it.", channel=AGENTS, user="U_AGENT", thread_ts=top["ts"],
                              ts=message["ts"])
        payload = event_callback(event)
        url = f"{agents.url}/slack/events"
        for retry in (None, 1, 2):  # Slack sends it again when our 200 came late
            status, _ = await post_event(url, payload, retry_num=retry)
            assert status == 200
        reply = await chat.expect("message", **{"from": "agent"})
        assert reply["text"] == "On it."
        assert await chat.silence(0.5) == []


async def test_an_agent_reply_the_ingress_refuses_gets_503_and_arrives_on_the_retry(
    slack: FakeSlack,
) -> None:
    log = FlakyLog()
    async with running_hub(handoff_config(slack), log=log) as service, \
            WebchatClient.connect(service.url) as chat:
        await chat.say("can I speak to a person")
        top = await first_escalation(slack)
        message = slack.add_message(AGENTS, {"user": "U_AGENT", "text": "Hello!", "thread_ts": top["ts"]})
        payload = event_callback(message_event("Hello!", channel=AGENTS, user="U_AGENT",
                                               thread_ts=top["ts"], ts=message["ts"]))
        log.down = True
        status, _ = await post_event(f"{service.url}/slack/events", payload)
        assert status == 503  # not acked: Slack will send it again
        log.down = False
        status, _ = await post_event(f"{service.url}/slack/events", payload, retry_num=1)
        assert status == 200
        reply = await chat.expect("message", **{"from": "agent"})
        assert reply["text"] == "Hello!"
