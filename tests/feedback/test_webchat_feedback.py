"""Thumbs on webchat: the page's rating frame, stored with the decision it rates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.config import Config
from tests.channel_faq import PAYMENT_ANSWER, write_channel_faq
from tests.feedback.helpers import RatingsSeen, metrics_text
from tests.harness import WebchatClient, make_config, running_hub

RULES = [{"name": "hello", "keywords": ["hello"], "action": "reply", "text": "Hi there!"}]


def config(tmp_path: Path, **feedback: Any) -> Config:
    faq = write_channel_faq(tmp_path)
    return make_config(rules=RULES, kb={"enabled": True, "path": str(faq)}, feedback=feedback)


async def test_a_kb_answer_offers_thumbs_and_a_press_is_stored(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path)) as service, WebchatClient.connect(service.url) as chat:
        seen = RatingsSeen(service)
        greeting = await chat.say("hello")
        assert "rating" not in greeting  # rules answers are not rated by default (kb_llm)
        answer = await chat.say("can I pay with paypal")
        assert answer["text"].startswith(PAYMENT_ANSWER)
        assert answer["rating"] == "thumbs" and answer["buttons"] == []

        await chat.send({"type": "rating", "message_id": answer["id"], "value": -1})
        [rating] = await seen.wait(1)
        assert (rating.kind, rating.value, rating.stage, rating.decision_index) == ("thumbs", -1, "kb", 3)
        assert await service.hub.store.recent_ratings() == [rating]
        [summary] = await service.hub.store.list_conversations(rating=-1)
        assert summary.messages == 4  # the press is no transcript line
        transcript = await service.hub.store.transcript(summary.id)
        assert [e.text for e in transcript][:3] == ["hello", "Hi there!", "can I pay with paypal"]
        metrics = await metrics_text(service)
        assert 'switchboard_ratings_total{kind="thumbs",stage="kb",value="-1"} 1.0' in metrics

        # Pressed again (or the frame redelivered) it counts once; the other thumb is a new vote.
        await chat.send({"type": "rating", "message_id": answer["id"], "value": -1})
        await chat.send({"type": "rating", "message_id": answer["id"], "value": 1})
        assert [r.value for r in await seen.wait(2)] == [-1, 1]
        assert [r.value for r in await service.hub.store.recent_ratings()] == [1, -1]
        assert (await service.hub.store.conversation_summary(summary.id)).rating == 1  # type: ignore[union-attr]

        # Rated: the next answer offers thumbs again, and the history shows the prompt.
        again = await chat.say("how many days for delivery")
        assert again["rating"] == "thumbs"


async def test_a_customer_who_ignores_the_buttons_is_not_asked_again(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path)) as service, WebchatClient.connect(service.url) as chat:
        seen = RatingsSeen(service)
        first = await chat.say("can I pay with paypal")
        assert first["rating"] == "thumbs"
        second = await chat.say("how many days for delivery")  # no press in between
        assert "rating" not in second
        third = await chat.say("I forgot my password")
        assert "rating" not in third
        # A late press on the first answer is still taken, but asks nothing more.
        await chat.send({"type": "rating", "message_id": first["id"], "value": 1})
        assert [r.value for r in await seen.wait(1)] == [1]
        assert "rating" not in await chat.say("can I pay with paypal")


async def test_ask_all_rates_rules_answers_and_never_rates_nothing(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path, ask="all")) as service, WebchatClient.connect(service.url) as chat:
        assert (await chat.say("hello"))["rating"] == "thumbs"
    async with running_hub(config(tmp_path, ask="never")) as service, WebchatClient.connect(service.url) as chat:
        assert "rating" not in await chat.say("can I pay with paypal")
        assert "rating" not in await chat.say("how many days for delivery")


async def test_a_resumed_session_sees_the_prompt_in_its_history(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path)) as service:
        async with WebchatClient.connect(service.url) as chat:
            answer = await chat.say("can I pay with paypal")
            session = chat.session
        async with WebchatClient.connect(service.url, session=session) as again:
            history = again.history
    [shown] = [f for f in history if f["id"] == answer["id"]]
    assert shown["rating"] == "thumbs" and shown["buttons"] == []


async def test_bad_rating_frames_are_refused_with_an_error_frame(tmp_path: Path) -> None:
    async with running_hub(config(tmp_path)) as service, WebchatClient.connect(service.url) as chat:
        for frame in (
            {"type": "rating", "value": 1},
            {"type": "rating", "message_id": "x", "value": 7},
            {"type": "rating", "message_id": "x", "value": True},
            {"type": "rating", "message_id": "x", "value": 1, "comment": 5},
            {"type": "rating", "message_id": "x", "value": 1, "kind": "stars"},
        ):
            await chat.send(frame)
            error = await chat.expect("error")
            assert error["code"] == "invalid_rating"
        await chat.send({"type": "rating", "message_id": "no-such-answer", "value": 1})
        await chat.say("hello")  # after the press, in the same lane
        assert await service.hub.store.recent_ratings() == []
