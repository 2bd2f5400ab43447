"""CSAT after a resolved hand-off: the 1-5 question, a press with a comment, masked."""

from __future__ import annotations

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.feedback.helpers import RatingsSeen, metrics_text
from tests.handoff.conftest import agents_channel, handoff_config, slack, slack_env  # noqa: F401
from tests.harness import WebchatClient

pytestmark = pytest.mark.usefixtures("slack_env")


async def test_resolved_hand_off_asks_for_csat_and_keeps_the_comment_masked(slack: FakeSlack) -> None:  # noqa: F811
    async with agents_channel(slack, handoff_config(slack)) as agents, WebchatClient.connect(agents.url) as chat:
        seen = RatingsSeen(agents.service)
        await chat.say("I want to talk to a HUMAN please")
        top = await agents.escalated()
        await agents.reply(top, "Hi, Alex here, sorted.")
        await chat.expect("message", **{"from": "agent"})
        await agents.press(top, "resolve")
        await chat.expect("message", **{"from": "system"})  # "resolved"
        question = await chat.expect("message", **{"from": "system"})
        assert question["rating"] == "csat" and "1 (poor) to 5 (great)" in question["text"]

        await chat.send({"type": "rating", "message_id": question["id"], "value": 4,
                         "comment": "Quick! write me at jane@example.com"})
        [rating] = await seen.wait(1)
        thanks = await chat.expect("message", **{"from": "system"})
        assert thanks["text"] == "Thank you for your feedback!"
        assert (rating.kind, rating.value, rating.stage) == ("csat", 4, "handoff")
        assert rating.comment == "Quick! write me at [email]"
        summary = await agents.service.hub.store.conversation_summary(rating.conversation_id)
        assert summary is not None and (summary.status, summary.csat) == ("resolved", 4)
        assert 'switchboard_ratings_total{kind="csat",stage="handoff",value="4"} 1.0' in (
            await metrics_text(agents.service)
        )
        # The next message opens a fresh conversation; the old one keeps its CSAT.
        await chat.say("hello")
        assert [s.status for s in await agents.service.hub.store.list_conversations()] == [
            "bot", "resolved"
        ]


async def test_csat_off_asks_nothing(slack: FakeSlack) -> None:  # noqa: F811
    config = handoff_config(slack, {"feedback": {"csat": False}})
    async with agents_channel(slack, config) as agents, WebchatClient.connect(agents.url) as chat:
        await chat.say("I want to talk to a HUMAN please")
        top = await agents.escalated()
        await agents.press(top, "resolve")
        resolved = await chat.expect("message", **{"from": "system"})
        assert "resolved" in resolved["text"]
        assert await chat.silence(0.3) == []
