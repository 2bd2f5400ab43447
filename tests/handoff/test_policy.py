"""When the hub hands off: rules, phrases, the offered button, sentiment, no agents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.agents import SlackAgents
from hub.config import Config
from hub.envelope import InboundMessage
from hub.handoff import HandoffDesk, HandoffGate, HandoffStage, offer_middleware, queue_text
from hub.hub import Hub
from hub.stages import Decision, Turn
from hub.store import MemoryStore
from tests.fakes.channel import RecordingChannel
from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import AGENTS, agents_channel, handoff_config
from tests.harness import WebchatClient, make_config, running_hub


async def test_rule_with_handoff_action_escalates_to_its_queue(slack: FakeSlack) -> None:
    rule = {"name": "refunds", "keywords": ["refund"], "action": "handoff", "queue": "billing"}
    config = handoff_config(slack, {"rules": [rule]})
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        queued = await chat.say("I want a refund")
        assert "15 minutes" in queued["text"]
        top = await agents.escalated()
        assert "rule refunds" in str(top["blocks"]) and "*Queue:* billing" in str(top["blocks"])


async def test_negative_sentiment_escalates_when_enabled(slack: FakeSlack) -> None:
    config = handoff_config(slack, sentiment=True, sentiment_threshold=-0.5)
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        assert (await chat.say("hello"))["from"] == "bot"
        await chat.say("This is useless and terrible, I am furious!")
        top = await agents.escalated()
        assert "negative sentiment" in str(top["blocks"])


async def test_without_agents_the_bot_says_so_and_asks_to_rephrase() -> None:
    async with running_hub(make_config()) as service, WebchatClient.connect(service.url) as chat:
        assert not service.desk.available
        asked = await chat.say("talk to a person")
        assert "no one from the team" in asked["text"] and asked["buttons"] == []
        for _ in range(3):
            unknown = await chat.say("what is the airspeed of a swallow")
            assert "rephrase" in unknown["text"] and unknown["buttons"] == []


class Unsure:
    """A stage that answers but does not help (as the LLM does when it is not sure)."""

    name = "unsure"

    async def __call__(self, turn: Turn) -> Decision | None:
        return Decision(stage=self.name, reason="not sure", text="I'm not sure.", helped=False)


@asynccontextmanager
async def hub_with_unsure_bot(
    slack: FakeSlack, config: Config
) -> AsyncIterator[tuple[Hub, RecordingChannel]]:
    """A hub whose only answering stage never helps, wired to the desk as the service does."""
    store = MemoryStore()
    desk = HandoffDesk(store)
    hub = Hub(config, store, [HandoffGate(desk), Unsure(), HandoffStage(desk)])
    channel = RecordingChannel()
    hub.register(channel)
    desk.connect(hub, SlackAgents(AsyncWebClient(token=slack.token, base_url=slack.api_base), desk))
    hub.middleware.append(offer_middleware(desk))
    hub.decision_listeners.append(desk.on_decision)
    try:
        yield hub, channel
    finally:
        await hub.close()


def said(text: str, n: int) -> InboundMessage:
    return InboundMessage(channel="test", conversation_id="c1", user_id="u1", message_id=f"m{n}",
                          text=text, user_name="Robin")


async def test_talk_to_a_person_is_offered_after_two_unhelpful_answers(slack: FakeSlack) -> None:
    async with hub_with_unsure_bot(slack, handoff_config(slack)) as (hub, channel):
        await hub.handle(said("where is my parcel", 1))
        assert channel.sent[-1].buttons == ()
        await hub.handle(said("my parcel, where is it", 2))
        offered = channel.sent[-1]
        assert [b.label for b in offered.buttons] == ["Talk to a person"]

        await hub.handle(said(offered.buttons[0].value, 3))
        assert "15 minutes" in channel.sent[-1].text
        posted = await slack.wait_for("chat.postMessage", lambda p: p["channel"] == AGENTS)
        assert "Robin on test needs a person" in str(posted["blocks"])
        assert "pressed the button" in str(posted["blocks"])


def test_queue_text_outside_business_hours() -> None:
    config = make_config(handoff={"business_hours": "09:00-17:00", "timezone": "Europe/Paris"},
                         messages={"expected_wait": "10 minutes"})
    tuesday_noon_paris = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    tuesday_night_paris = datetime(2026, 3, 3, 22, 0, tzinfo=UTC)
    saturday_noon_paris = datetime(2026, 3, 7, 11, 0, tzinfo=UTC)
    assert "10 minutes" in queue_text(config, tuesday_noon_paris)
    assert "09:00-17:00" in queue_text(config, tuesday_night_paris)
    assert "09:00-17:00" in queue_text(config, saturday_noon_paris)
    assert "15 minutes" in queue_text(make_config(), tuesday_night_paris)  # no hours: always
