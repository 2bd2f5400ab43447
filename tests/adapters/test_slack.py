"""Slack over the Events API: the real slack-bolt and slack_sdk against a fake Slack.

Events are posted, signed as Slack signs them, to the hub's own
``/slack/events``; the adapter answers through the fake Web API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.slack import (
    SlackAdapter,
    action_to_envelope,
    escape,
    split_text,
    to_envelope,
    to_platform,
)
from hub.envelope import Button, OutboundMessage
from hub.errors import ConfigError
from hub.service import HubService
from hub.stages import Decision, Turn
from tests.channel_faq import PAYMENT_ANSWER, write_channel_faq
from tests.fakes.flaky import FlakyLog
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import (
    SIGNING_SECRET,
    app_mention_event,
    block_actions,
    event_callback,
    message_event,
    post_event,
    signed_headers,
    url_verification,
)
from tests.harness import make_config, running_hub

HOURS = "We're open 9-17 & on weekends <10-14>."
RULES = [
    {"name": "hours", "keywords": ["opening hours"], "action": "reply", "text": HOURS},
    {
        "name": "refund",
        "keywords": ["refund"],
        "pattern": "^(?!refund (yes|no))",
        "action": "reply",
        "text": "Do you want a refund?",
        "buttons": [
            {"label": "Yes please", "value": "refund yes"},
            {"label": "No", "value": "refund no"},
        ],
    },
    {"name": "refund-yes", "keywords": ["refund yes"], "action": "reply", "text": "Refund started."},
    {"name": "long", "keywords": ["terms"], "action": "reply", "text": ("Terms & conditions. " * 400)},
]


@pytest.fixture(autouse=True)
def slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FakeSlack.token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


def slack_config(fake: FakeSlack, **section: Any) -> Any:
    return make_config(
        channels={
            "webchat": {"enabled": False},
            "slack": {"enabled": True, "api_base": fake.api_base, **section},
        },
        rules=RULES,
        handoff={"agents_channel": "C_AGENTS"},
    )


@pytest.fixture
async def hub(slack: FakeSlack) -> AsyncIterator[HubService]:
    async with running_hub(slack_config(slack, channels=["C_SUPPORT"])) as service:
        yield service


def events_url(service: HubService) -> str:
    return f"{service.url}/slack/events"


async def say(service: HubService, event: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
    status, body = await post_event(events_url(service), event_callback(event), **kwargs)
    await service.hub.drain()
    return status, body


def delivered(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    """Messages the fake Slack accepted (failed calls are not in here)."""
    return fake.messages.get(channel, [])


# -- customers ---------------------------------------------------------------------------


async def test_dm_is_answered_once_in_the_dm_with_mrkdwn_escaped(
    hub: HubService, slack: FakeSlack
) -> None:
    status, _ = await say(hub, message_event("What are your opening hours?", channel="D_CUSTOMER"))
    assert status == 200
    posted = await slack.wait_for("chat.postMessage")
    assert posted["channel"] == "D_CUSTOMER"
    assert "thread_ts" not in posted
    escaped = "We're open 9-17 &amp; on weekends &lt;10-14&gt;."
    assert posted["text"] == escaped
    assert posted["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": escaped}}
    conversation = await hub.hub.store.conversation_at("slack:D_CUSTOMER")
    assert conversation is not None
    transcript = await hub.hub.store.transcript(conversation.id)
    assert [e.sender for e in transcript] == ["customer", "bot"]
    assert transcript[0].sender_name == "Casey Customer"  # from users.info
    assert transcript[1].text == HOURS


async def test_display_names_are_cached(hub: HubService, slack: FakeSlack) -> None:
    await say(hub, message_event("opening hours?", channel="D_CUSTOMER"))
    await say(hub, message_event("opening hours again?", channel="D_CUSTOMER"))
    assert len(delivered(slack, "D_CUSTOMER")) == 2
    assert len(slack.called("users.info")) == 1


async def test_mention_in_a_thread_is_answered_in_that_thread(
    hub: HubService, slack: FakeSlack
) -> None:
    event = app_mention_event(
        "<@UBOT> what are your opening hours?", channel="C_GENERAL", thread_ts="1700000500.000100"
    )
    status, _ = await say(hub, event)
    assert status == 200
    posted = await slack.wait_for("chat.postMessage")
    assert posted["channel"] == "C_GENERAL"
    assert posted["thread_ts"] == "1700000500.000100"
    conversation = await hub.hub.store.conversation_at("slack:C_GENERAL:1700000500.000100")
    assert conversation is not None
    transcript = await hub.hub.store.transcript(conversation.id)
    assert transcript[0].text == "what are your opening hours?"  # the mention is stripped


async def test_mention_and_message_events_of_one_message_are_answered_once(
    hub: HubService, slack: FakeSlack
) -> None:
    mention = app_mention_event("<@UBOT> opening hours?", channel="C_SUPPORT")
    plain = message_event(mention["text"], channel="C_SUPPORT", ts=mention["ts"])
    await say(hub, mention)
    await say(hub, plain)
    replies = delivered(slack, "C_SUPPORT")
    assert len(replies) == 1
    assert replies[0]["thread_ts"] == mention["ts"]  # a top-level post starts a thread


async def test_thread_follow_ups_without_mention_stay_in_the_conversation(
    hub: HubService, slack: FakeSlack
) -> None:
    first = app_mention_event("<@UBOT> hi, question about refund", channel="C_GENERAL")
    await say(hub, first)
    follow_up = message_event("opening hours?", channel="C_GENERAL", thread_ts=first["ts"])
    await say(hub, follow_up)
    unrelated = message_event("opening hours?", channel="C_GENERAL")
    await say(hub, unrelated)
    replies = delivered(slack, "C_GENERAL")
    assert [r["thread_ts"] for r in replies] == [first["ts"], first["ts"]]
    assert replies[1]["text"].startswith("We're open")


async def test_listed_channel_without_thread_replies_is_one_conversation(
    slack: FakeSlack,
) -> None:
    config = slack_config(slack, channels=["C_SUPPORT"], thread_replies=False)
    async with running_hub(config) as service:
        await say(service, message_event("opening hours?", channel="C_SUPPORT"))
        await say(service, message_event("refund please", channel="C_SUPPORT"))
        replies = delivered(slack, "C_SUPPORT")
        assert len(replies) == 2
        assert all("thread_ts" not in r for r in replies)
        conversation = await service.hub.store.conversation_at("slack:C_SUPPORT")
        assert conversation is not None
        assert len(await service.hub.store.transcript(conversation.id)) == 4


async def test_unlisted_channel_chatter_is_not_answered(hub: HubService, slack: FakeSlack) -> None:
    status, _ = await say(hub, message_event("opening hours?", channel="C_RANDOM"))
    assert status == 200
    assert slack.posted == []


async def test_button_press_comes_back_as_the_customers_message(
    hub: HubService, slack: FakeSlack
) -> None:
    await say(hub, message_event("I want a refund", channel="D_CUSTOMER"))
    offer = await slack.wait_for("chat.postMessage")
    actions = offer["blocks"][-1]
    assert actions["type"] == "actions"
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in actions["elements"]] == [
        ("sb_button_0", "refund yes", "Yes please"),
        ("sb_button_1", "refund no", "No"),
    ]
    assert "1. Yes please" in offer["text"]  # text fallback for notifications
    offer_message = delivered(slack, "D_CUSTOMER")[0]
    press = block_actions(
        "refund yes", label="Yes please", channel="D_CUSTOMER",
        message_ts=offer_message["ts"], message=offer_message,
    )
    status, _ = await post_event(events_url(hub), press)
    await hub.hub.drain()
    assert status == 200
    answer = await slack.wait_for("chat.postMessage", lambda p: p["text"] == "Refund started.")
    assert answer["channel"] == "D_CUSTOMER"
    # the offer's buttons are replaced by the choice, so it cannot be pressed twice
    update = await slack.wait_for("chat.update")
    assert update["ts"] == offer_message["ts"]
    assert [b["type"] for b in update["blocks"]] == ["section", "context"]
    assert "Yes please" in update["blocks"][-1]["elements"][0]["text"]
    conversation = await hub.hub.store.conversation_at("slack:D_CUSTOMER")
    assert conversation is not None
    texts = [e.text for e in await hub.hub.store.transcript(conversation.id)]
    assert texts == ["I want a refund", "Do you want a refund?", "refund yes", "Refund started."]


async def test_button_press_in_a_thread_stays_in_the_thread(
    hub: HubService, slack: FakeSlack
) -> None:
    mention = app_mention_event("<@UBOT> refund?", channel="C_GENERAL")
    await say(hub, mention)
    offer = delivered(slack, "C_GENERAL")[0]
    press = block_actions(
        "refund yes", channel="C_GENERAL", message_ts=offer["ts"], thread_ts=mention["ts"]
    )
    status, _ = await post_event(events_url(hub), press)
    await hub.hub.drain()
    assert status == 200
    replies = delivered(slack, "C_GENERAL")
    assert [r["text"] for r in replies] == [offer["text"], "Refund started."]
    assert replies[1]["thread_ts"] == mention["ts"]


async def test_files_become_attachment_references(hub: HubService, slack: FakeSlack) -> None:
    seen: list[Turn] = []

    async def record(turn: Turn, decision: Decision) -> None:
        seen.append(turn)

    hub.hub.decision_listeners.append(record)
    files = [{
        "id": "F1", "name": "receipt.png", "mimetype": "image/png", "size": 2048,
        "url_private": "https://files.slack.com/files-pri/T1-F1/receipt.png",
        "permalink": "https://fake.slack.com/files/U_CUSTOMER/F1/receipt.png",
    }]
    await say(hub, message_event("", channel="D_CUSTOMER", files=files))
    assert len(seen) == 1
    (attachment,) = seen[0].message.attachments
    assert attachment.kind == "photo"
    assert attachment.name == "receipt.png"
    assert attachment.ref == "https://fake.slack.com/files/U_CUSTOMER/F1/receipt.png"
    assert attachment.size == 2048


async def test_long_text_is_split_at_slacks_section_limit(
    hub: HubService, slack: FakeSlack
) -> None:
    await say(hub, message_event("your terms?", channel="D_CUSTOMER"))
    replies = delivered(slack, "D_CUSTOMER")  # the fake refuses sections over 3000 chars
    assert len(replies) == 4  # 9,600 escaped characters
    sections = [r["blocks"][0]["text"]["text"] for r in replies]
    assert all(len(s) <= 3000 for s in sections)
    assert " ".join(sections).strip() == ("Terms &amp; conditions. " * 400).strip()


# -- no loops -------------------------------------------------------------------------------


async def test_the_bots_own_message_is_ignored(hub: HubService, slack: FakeSlack) -> None:
    own = message_event("opening hours?", channel="D_CUSTOMER", user="UBOT", bot_id="BBOT")
    status, _ = await say(hub, own)
    assert status == 200
    other_bot = message_event(
        "opening hours?", channel="D_CUSTOMER", user=None, bot_id="B_OTHER", subtype="bot_message"
    )
    status, _ = await say(hub, other_bot)
    assert status == 200
    assert slack.posted == []
    assert await hub.hub.store.conversation_at("slack:D_CUSTOMER") is None


async def test_edits_and_joins_are_not_customer_messages(hub: HubService, slack: FakeSlack) -> None:
    await say(hub, message_event("opening hours?", channel="C_SUPPORT", subtype="channel_join"))
    edited = message_event(
        "", channel="D_CUSTOMER", user=None, subtype="message_changed",
        message={"type": "message", "user": "U_CUSTOMER", "text": "opening hours?", "ts": "1.0"},
    )
    status, _ = await say(hub, edited)
    assert status == 200
    assert slack.posted == []


# -- security -------------------------------------------------------------------------------


async def test_bad_or_missing_signature_is_refused(hub: HubService, slack: FakeSlack) -> None:
    event = message_event("opening hours?", channel="D_CUSTOMER")
    status, _ = await say(hub, event, secret="not-the-secret")
    assert status == 401
    status, _ = await say(hub, event, headers={"X-Slack-Signature": ""})
    assert status == 401
    assert slack.posted == []
    assert await hub.hub.store.conversation_at("slack:D_CUSTOMER") is None


async def test_stale_timestamp_is_refused(hub: HubService, slack: FakeSlack) -> None:
    event = message_event("opening hours?", channel="D_CUSTOMER")
    status, _ = await say(hub, event, timestamp=int(time.time()) - 6 * 60)
    assert status == 401
    assert slack.posted == []
    assert await hub.hub.store.conversation_at("slack:D_CUSTOMER") is None


async def test_url_verification_answers_the_challenge_only_when_signed(hub: HubService) -> None:
    status, body = await post_event(events_url(hub), url_verification("xyz"))
    assert status == 200
    assert "xyz" in body
    status, _ = await post_event(events_url(hub), url_verification("xyz"), secret="wrong")
    assert status == 401


# -- reliability ------------------------------------------------------------------------------


async def test_an_event_retried_three_times_is_answered_once(
    hub: HubService, slack: FakeSlack
) -> None:
    payload = event_callback(message_event("opening hours?", channel="D_CUSTOMER"), "Ev1")
    statuses = []
    for retry in (None, 1, 2, 3):
        status, _ = await post_event(events_url(hub), payload, retry_num=retry)
        statuses.append(status)
    await hub.hub.drain()
    assert statuses == [200, 200, 200, 200]
    assert len(delivered(slack, "D_CUSTOMER")) == 1


async def test_a_retry_of_an_event_the_hub_never_got_is_answered(
    hub: HubService, slack: FakeSlack
) -> None:
    payload = event_callback(message_event("opening hours?", channel="D_CUSTOMER"), "Ev2")
    status, _ = await post_event(events_url(hub), payload, retry_num=2)
    await hub.hub.drain()
    assert status == 200
    assert len(delivered(slack, "D_CUSTOMER")) == 1


async def test_store_down_answers_503_so_slack_retries_and_nothing_is_lost(
    slack: FakeSlack,
) -> None:
    log = FlakyLog()
    async with running_hub(slack_config(slack), log=log) as service:
        payload = event_callback(message_event("opening hours?", channel="D_CUSTOMER"), "Ev3")
        log.down = True
        status, _ = await post_event(events_url(service), payload)
        assert status >= 500
        log.down = False
        status, _ = await post_event(events_url(service), payload, retry_num=1)
        await service.hub.drain()
        assert status == 200
        assert len(delivered(slack, "D_CUSTOMER")) == 1


async def test_ratelimited_send_is_retried_after_the_delay_in_order(
    hub: HubService, slack: FakeSlack
) -> None:
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
    first = event_callback(message_event("opening hours?", channel="D_CUSTOMER"))
    second = event_callback(message_event("refund please", channel="D_CUSTOMER"))
    statuses = [
        (await post_event(events_url(hub), first))[0],
        (await post_event(events_url(hub), second))[0],
    ]
    await hub.hub.drain()
    assert statuses == [200, 200]
    assert len(slack.posted) == 3  # one refused with 429, then both replies
    assert [m["text"].split("\n")[0] for m in delivered(slack, "D_CUSTOMER")] == [
        "We're open 9-17 &amp; on weekends &lt;10-14&gt;.",
        "Do you want a refund?",
    ]


async def test_send_to_a_missing_channel_is_recorded_and_logged(
    hub: HubService, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fail("chat.postMessage", "channel_not_found")
    with caplog.at_level(logging.WARNING):
        await say(hub, message_event("opening hours?", channel="D_CUSTOMER"))
    conversation = await hub.hub.store.conversation_at("slack:D_CUSTOMER")
    assert conversation is not None
    assert "channel_not_found" in conversation.data["delivery_failed"]["reason"]
    assert any("channel_not_found" in r.getMessage() for r in caplog.records)


async def test_acknowledgement_does_not_wait_for_the_answer(
    hub: HubService, slack: FakeSlack
) -> None:
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=2)
    status, _ = await post_event(
        events_url(hub), event_callback(message_event("opening hours?", channel="D_CUSTOMER"))
    )
    assert status == 200
    assert delivered(slack, "D_CUSTOMER") == []  # the answer is still waiting out the 429
    await hub.hub.drain()
    assert len(delivered(slack, "D_CUSTOMER")) == 1


# -- the agents' side (extension points for the hand-off desk) --------------------------------


async def test_agents_channel_goes_to_agent_handlers_not_the_hub(
    hub: HubService, slack: FakeSlack
) -> None:
    adapter = hub.hub.adapters["slack"]
    assert isinstance(adapter, SlackAdapter)
    assert adapter.client.base_url == slack.api_base
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def on_agent(event: dict[str, Any]) -> None:
        await got.put(event)

    adapter.on_agent_event(on_agent)
    reply = message_event(
        "refund approved", channel="C_AGENTS", user="U_AGENT", thread_ts="1700000001.000100"
    )
    status, _ = await say(hub, reply)
    assert status == 200
    event = await asyncio.wait_for(got.get(), 5)
    assert (event["user"], event["text"], event["thread_ts"]) == (
        "U_AGENT", "refund approved", "1700000001.000100",
    )
    own = message_event("escalation", channel="C_AGENTS", user="UBOT", bot_id="BBOT")
    await say(hub, own)
    await asyncio.sleep(0.1)
    assert got.empty()
    assert await hub.hub.store.conversation_at("slack:C_AGENTS:1700000001.000100") is None


async def test_registered_action_prefix_gets_the_raw_body(
    hub: HubService, slack: FakeSlack
) -> None:
    adapter = hub.hub.adapters["slack"]
    assert isinstance(adapter, SlackAdapter)
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def on_claim(body: dict[str, Any]) -> None:
        await got.put(body)

    adapter.on_action("survey_", on_claim)
    press = block_actions("5", action_id="survey_score", channel="D_CUSTOMER", user="U_CUSTOMER")
    status, _ = await post_event(events_url(hub), press)
    assert status == 200
    body = await asyncio.wait_for(got.get(), 5)
    assert body["actions"][0]["action_id"] == "survey_score"
    assert body["user"]["id"] == "U_CUSTOMER"
    await hub.hub.drain()
    assert slack.posted == []  # not a customer message
    assert await hub.hub.store.conversation_at("slack:D_CUSTOMER") is None


# -- configuration ------------------------------------------------------------------------------


async def test_missing_token_is_a_startup_error_naming_the_key(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    with pytest.raises(ConfigError) as info:
        async with running_hub(slack_config(slack)):
            pass
    message = str(info.value)
    assert "channels.slack.signing_secret_env" in message
    assert "SLACK_SIGNING_SECRET" in message


async def test_rate_limit_that_never_lifts_gives_up_without_marking_permanent(
    hub: HubService, slack: FakeSlack
) -> None:
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=0, times=10)
    await say(hub, message_event("opening hours?", channel="D_CUSTOMER"))
    assert len(slack.posted) == 4  # bounded attempts
    conversation = await hub.hub.store.conversation_at("slack:D_CUSTOMER")
    assert conversation is not None
    assert "delivery_failed" not in conversation.data


# -- pure conversions (no network) --------------------------------------------------------------


def test_escape_and_split_keep_entities_whole() -> None:
    text = escape("a&b " * 1000)
    pieces = split_text(text, 3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert " ".join(pieces) == text.strip()
    unbroken = split_text(escape("&" * 1000), 3000)
    assert all(p.replace("&amp;", "") == "" for p in unbroken)


def test_conversation_ids() -> None:
    dm = to_envelope(message_event("hi", channel="D1", ts="1.1", thread_ts="1.0"))
    assert dm is not None and (dm.conversation_id, dm.thread, dm.message_id) == ("D1", "1.0", "D1:1.1")
    top = to_envelope(message_event("hi", channel="C1", ts="2.0"))
    assert top is not None and (top.conversation_id, top.thread) == ("C1:2.0", "2.0")
    reply = to_envelope(message_event("hi", channel="C1", ts="2.5", thread_ts="2.0"))
    assert reply is not None and reply.conversation_id == "C1:2.0"
    flat = to_envelope(message_event("hi", channel="C1", ts="3.0"), thread_replies=False)
    assert flat is not None and (flat.conversation_id, flat.thread) == ("C1", None)
    press = action_to_envelope(block_actions("yes", channel="C1", message_ts="4.0",
                                             thread_ts="2.0", action_ts="5.0"))
    assert press is not None
    assert (press.conversation_id, press.text, press.message_id) == ("C1:2.0", "yes", "C1:4.0:5.0")


def test_to_platform_threads_and_falls_back_to_text() -> None:
    message = OutboundMessage(
        channel="slack", conversation_id="C1:2.0", text="<b> & co",
        buttons=(Button("Yes", "y"), Button("No", "n")),
    )
    (call,) = to_platform(message)
    assert (call["channel"], call["thread_ts"]) == ("C1", "2.0")
    assert call["text"] == "&lt;b&gt; &amp; co\n1. Yes\n2. No"
    assert [b["type"] for b in call["blocks"]] == ["section", "actions"]


# -- the knowledge base ---------------------------------------------------------------------



async def test_dm_answered_from_the_faq(slack: FakeSlack, tmp_path: Any) -> None:
    faq = write_channel_faq(tmp_path)
    config = make_config(
        channels={
            "webchat": {"enabled": False},
            "slack": {"enabled": True, "api_base": slack.api_base},
        },
        kb={"enabled": True, "path": str(faq)},
    )
    async with running_hub(config) as service:
        await say(service, message_event("when will my order arrive?", channel="D_CUSTOMER"))
        await say(service, message_event("can I pay with paypal", channel="D_CUSTOMER"))
        first, second = delivered(slack, "D_CUSTOMER")
    assert first["text"].startswith("Two to four working days.")
    choices, rating = first["blocks"][-2:]  # the FAQ's button, then 👍/👎 (feedback/)
    assert [(b["text"]["text"], b["value"]) for b in choices["elements"]] == [
        ("Track my order", "where is my order")
    ]
    assert rating["block_id"] == "sb_rating"
    assert second["text"] == PAYMENT_ANSWER.replace("&", "&amp;")


async def test_signed_but_malformed_body_is_refused_and_the_hub_keeps_serving(
    hub: HubService, slack: FakeSlack
) -> None:
    async with aiohttp.ClientSession() as http:
        for body in (b"{not json", b"[1, 2]", b'{"type": "event_callback"}'):
            headers = {**signed_headers(body, SIGNING_SECRET), "Content-Type": "application/json"}
            async with http.post(events_url(hub), data=body, headers=headers) as response:
                assert 400 <= response.status < 500, (body, response.status)
    status, _ = await say(hub, message_event("hello", channel="D_CUSTOMER"))
    assert status == 200
    assert delivered(slack, "D_CUSTOMER")
