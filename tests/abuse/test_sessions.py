"""Sessions: tokens expire (sliding), two sockets may share one, logs never show it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.envelope import OutboundMessage
from tests.harness import WebchatClient, make_config, running_hub

pytestmark = pytest.mark.timeout(60)

RULES = [{"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."}]


def config(**webchat: object) -> object:
    return make_config(rules=RULES, channels={"webchat": webchat})


async def test_an_expired_token_starts_a_new_session_and_each_welcome_renews_it() -> None:
    async with running_hub(config(session_ttl_s=2)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say("open?")
            token = chat.session
        for _ in range(3):  # sliding: used every second, it lives past its first 2 s
            await asyncio.sleep(1.0)
            async with WebchatClient.connect(hub.url, session=token) as again:
                assert len(again.history) == 2
                token = again.session
        await asyncio.sleep(3.1)
        async with WebchatClient.connect(hub.url) as late:
            await late.ws.send_json({"type": "hello", "session": token})
            assert (await late.expect("error"))["code"] == "session_expired"
            welcome = await late.expect("welcome")
            assert welcome["history"] == [] and welcome["session"] != token


async def test_two_sockets_with_one_token_both_get_the_session_s_frames() -> None:
    async with running_hub(config()) as hub:
        async with WebchatClient.connect(hub.url) as phone:
            async with WebchatClient.connect(hub.url, session=phone.session) as laptop:
                assert (await laptop.say("open?"))["text"] == "We are open 9 to 5."
                session = phone.session_id
                agent = OutboundMessage(channel="webchat", conversation_id=session, text="Hi, Ann here",
                                        sender="agent", sender_name="Ann")
                await hub.hub.adapters["webchat"].send(agent)
                for chat in (phone, laptop):
                    frame = await chat.expect("message", **{"from": "agent"})
                    assert frame["text"] == "Hi, Ann here"


async def test_logs_show_a_short_hash_of_the_session_never_the_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from hub.logs import _ContextFilter, log_address

    handler_filter = _ContextFilter()
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(handler_filter)
    try:
        async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
            await chat.say("open?")
            session = chat.session_id
    finally:
        caplog.handler.removeFilter(handler_filter)
    tags = {getattr(r, "conversation", "-") for r in caplog.records}
    assert log_address(f"webchat:{session}") in tags
    logged = "\n".join(f"{getattr(r, 'conversation', '')} {r.getMessage()}" for r in caplog.records)
    assert session not in logged
