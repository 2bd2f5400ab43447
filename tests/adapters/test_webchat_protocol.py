"""The webchat protocol through a real WebSocket against a running hub."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from hub.envelope import OutboundMessage
from hub.errors import ConfigError
from tests.harness import WebchatClient, make_config, running_hub

RULES = [
    {"name": "hours", "keywords": ["opening hours", "open"], "action": "reply",
     "text": "We are open 9 to 5.", "buttons": [{"label": "Thanks", "value": "thanks"}]},
    {"name": "slow", "keywords": ["slow"], "action": "reply", "text": "slow answer"},
]


def config(**webchat: object):
    return make_config(rules=RULES, channels={"webchat": {"max_chars": 50, **webchat}})


async def test_rule_reply_with_buttons() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        assert chat.session and chat.history == []
        reply = await chat.say("When are you OPEN?", id="c1")
        assert reply["from"] == "bot"
        assert reply["text"] == "We are open 9 to 5."
        assert reply["reply_to"] == "c1"
        assert reply["buttons"] == [{"label": "Thanks", "value": "thanks"}]
        assert reply["id"] and reply["id"] != "c1"


async def test_resume_restores_history_and_replays_missed() -> None:
    async with running_hub(config()) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            await chat.say("open?", id="a")
            token, session = chat.session, chat.session_id
        async with WebchatClient.connect(hub.url, session=token) as again:
            assert again.session_id == session
            texts = [(f["from"], f["text"]) for f in again.history]
            assert texts == [("customer", "open?"), ("bot", "We are open 9 to 5.")]
            assert again.history[1]["reply_to"] == "a"


async def test_forged_session_gets_a_new_one() -> None:
    async with running_hub(config()) as hub, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{hub.url}/ws") as ws:
            chat = WebchatClient(ws)
            await ws.send_json({"type": "hello", "session": "deadbeef.forged"})
            error = await chat.expect("error")
            assert error["code"] == "invalid_session"
            welcome = await chat.expect("welcome")
            assert welcome["session"] != "deadbeef.forged" and welcome["history"] == []


async def test_duplicate_message_id_answered_once() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        frame = {"type": "message", "id": "dup", "text": "open?"}
        await chat.send(frame)
        await chat.send(frame)
        await chat.expect("message", reply_to="dup")
        assert await chat.silence(0.3) == []


async def test_bad_frames_get_error_frames_and_the_socket_lives_on() -> None:
    bad = [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        (json.dumps({"type": "shout"}), "unknown_type"),
        (json.dumps({"type": "message", "id": "x"}), "missing_text"),
        (json.dumps({"type": "message", "id": "x", "text": "   "}), "empty_text"),
        (json.dumps({"type": "message", "id": "x", "text": "a" * 51}), "text_too_long"),
        (json.dumps({"type": "message", "id": "x", "text": "a" * 200_000}), "text_too_long"),
        (b"\x00\x01binary", "binary_frame"),
    ]
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        for frame, code in bad:
            await chat.send(frame)
            error = await chat.expect("error")
            assert error["code"] == code, frame
            assert error["message"]
        reply = await chat.say("open?")
        assert reply["text"] == "We are open 9 to 5."


async def test_flood_is_rate_limited_per_session() -> None:
    async with running_hub(config(rate_limit_burst=3, rate_limit_per_s=0.5)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            for i in range(5):
                await chat.send({"type": "message", "id": f"f{i}", "text": "open?"})
            frames = await chat.silence(0.5)
            answered = [f for f in frames if f["type"] == "message"]
            limited = [f for f in frames if f["type"] == "error"]
            assert len(answered) == 3
            assert [f["code"] for f in limited] == ["rate_limited", "rate_limited"]
        async with WebchatClient.connect(hub.url) as other:
            assert (await other.say("open?"))["text"] == "We are open 9 to 5."


async def test_two_conversations_interleaved_keep_their_order() -> None:
    async with running_hub(config()) as hub:
        async with WebchatClient.connect(hub.url) as a, WebchatClient.connect(hub.url) as b:
            for i in range(10):
                await a.send({"type": "message", "id": f"a{i}", "text": "open?"})
                await b.send({"type": "message", "id": f"b{i}", "text": "slow"})
            got_a = [(await a.expect("message"))["reply_to"] for _ in range(10)]
            got_b = [(await b.expect("message"))["reply_to"] for _ in range(10)]
            assert got_a == [f"a{i}" for i in range(10)]
            assert got_b == [f"b{i}" for i in range(10)]


async def test_typing_state_comes_before_a_slow_answer() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        hub.hub.typing_delay_s = 0  # every answer counts as slow
        await chat.send({"type": "message", "id": "t", "text": "open?"})
        first = await chat.recv()
        assert first == {"type": "typing", "on": True}
        assert (await chat.recv())["type"] == "message"


async def test_instant_answers_send_no_typing_frame() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.send({"type": "message", "id": "t", "text": "open?"})
        assert (await chat.recv())["type"] == "message"


async def test_ping_pong_and_implicit_session() -> None:
    async with running_hub(config()) as hub, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{hub.url}/ws") as ws:
            chat = WebchatClient(ws)
            await chat.send({"type": "ping"})
            assert (await chat.expect("pong"))["type"] == "pong"
            await chat.send({"type": "message", "id": "n", "text": "open?"})
            assert (await chat.expect("message", reply_to="n"))["from"] == "bot"


async def test_health_and_metrics() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("open?")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{hub.url}/healthz") as resp:
                assert resp.status == 200
                body = await resp.json()
                assert body["components"]["store"]["status"] == "ok"
            await asyncio.sleep(0.05)
            async with http.get(f"{hub.url}/metrics") as resp:
                text = await resp.text()
        assert 'switchboard_messages_in_total{channel="webchat"} 1.0' in text
        assert 'switchboard_decisions_total{stage="rules"} 1.0' in text
        assert 'switchboard_messages_out_total{channel="webchat",sender="bot"} 1.0' in text
        assert "switchboard_message_latency_seconds_bucket" in text


# -- greeting -----------------------------------------------------------------------
GREETING = {"text": "Hi! How can we help?", "buttons": [{"label": "Hours", "value": "opening hours"}]}


async def test_a_new_session_is_greeted_after_its_welcome_and_a_resumed_one_is_not() -> None:
    async with running_hub(config(greeting=GREETING)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            greeting = await chat.recv()
            assert greeting["type"] == "message" and greeting["from"] == "bot"
            assert greeting["text"] == "Hi! How can we help?" and greeting["reply_to"] is None
            assert greeting["buttons"] == [{"label": "Hours", "value": "opening hours"}]
            reply = await chat.say("opening hours", id="b1")  # its button, pressed
            assert reply["text"] == "We are open 9 to 5."
            token = chat.session
        async with WebchatClient.connect(hub.url, session=token) as again:
            assert [f["text"] for f in again.history] == ["opening hours", "We are open 9 to 5."]
            assert await again.silence(0.3) == []


async def test_without_a_greeting_nothing_follows_the_welcome() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        assert await chat.silence(0.3) == []


def test_the_greeting_may_be_a_plain_text_and_buttons_need_text() -> None:
    assert config(greeting="Hello!").channels.webchat.greeting.text == "Hello!"
    try:
        config(greeting={"buttons": [{"label": "A", "value": "a"}]})
    except ConfigError as exc:
        assert "channels.webchat.greeting" in str(exc)
    else:
        raise AssertionError("buttons without a greeting text were accepted")


# -- error frames name the message they are about --------------------------------------
async def test_every_error_about_a_message_carries_its_client_id() -> None:
    async with running_hub(config(rate_limit_burst=5, rate_limit_per_s=0.01)) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            for frame, code in [
                ({"type": "message", "id": "long", "text": "a" * 51}, "text_too_long"),
                ({"type": "message", "id": "blank", "text": "  "}, "empty_text"),
                ({"type": "message", "id": "none"}, "missing_text"),
                ({"type": "message", "id": 7, "text": ["x"]}, "invalid_text"),
            ]:
                await chat.send(frame)
                error = await chat.expect("error")
                assert (error["code"], error["reply_to"]) == (code, str(frame["id"]))
            await chat.say("open?", id="ok")
            await chat.send({"type": "message", "id": "flood", "text": "open?"})
            error = await chat.expect("error")
            assert (error["code"], error["reply_to"]) == ("rate_limited", "flood")
            await chat.send("not json")
            assert (await chat.expect("error"))["reply_to"] is None


# -- hostile frames -----------------------------------------------------------------
async def test_a_deeply_nested_frame_gets_invalid_json_and_the_socket_stays_open() -> None:
    async with running_hub(config()) as hub, WebchatClient.connect(hub.url) as chat:
        for frame in ("[" * 200_000, '{"a":' * 40_000 + "1" + "}" * 40_000):
            await chat.send(frame)
            error = await chat.expect("error")
            assert error["code"] == "invalid_json"
        deep_text = {"type": "message", "id": "t", "text": "[[[[" * 10 + " open?"}  # brackets in text are fine
        await chat.send(deep_text)
        assert (await chat.expect("message", reply_to="t"))["from"] == "bot"
        assert (await chat.say("open?"))["text"] == "We are open 9 to 5."


async def test_text_is_nfc_and_lone_surrogates_are_replaced_at_the_boundary() -> None:
    async with running_hub(config()) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            # Raw JSON: a lone surrogate escape is valid JSON but not valid Unicode.
            await chat.send('{"type": "message", "id": "s", "text": "open? \\ud800"}')
            reply = await chat.expect("message", reply_to="s")
            assert reply["text"] == "We are open 9 to 5."
            await chat.send({"type": "message", "id": "n", "text": "Cafe\u0301 open?"})
            await chat.expect("message", reply_to="n")
            token = chat.session
        async with WebchatClient.connect(hub.url, session=token) as again:
            said = [f["text"] for f in again.history if f["from"] == "customer"]
            assert said == ["open? \ufffd", "Caf\u00e9 open?"]


# -- socket lifecycle (hello-and-abort: tests/abuse/test_sockets.py) ------------------
async def test_a_reconnect_with_last_id_replays_a_frame_no_history_holds() -> None:
    async with running_hub(config()) as hub:
        async with WebchatClient.connect(hub.url) as chat:
            last = await chat.say("open?", id="q1")
            token = chat.session
        assert token is not None
        away = OutboundMessage(channel="webchat", conversation_id=token.partition(".")[0],
                               text="Sorry, something went wrong.", sender="system")
        await hub.hub.adapters["webchat"].send(away)  # sent to no socket, kept in the outbox
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{hub.url}/ws") as ws:
            again = WebchatClient(ws)
            await ws.send_json({"type": "hello", "session": token, "last_id": last["id"]})
            await again.expect("welcome")
            assert (await again.expect("message"))["text"] == "Sorry, something went wrong."
            assert await again.silence(0.3) == []


# -- the page -------------------------------------------------------------------------
async def test_the_page_takes_max_chars_and_has_a_favicon() -> None:
    async with running_hub(config()) as hub, aiohttp.ClientSession() as http:
        async with http.get(f"{hub.url}/") as resp:
            assert 'maxlength="50"' in await resp.text()
        async with http.get(f"{hub.url}/favicon.ico") as resp:
            assert resp.status == 200
            assert resp.content_type in ("image/x-icon", "image/vnd.microsoft.icon")
            assert (await resp.read())[:4] == b"\x00\x00\x01\x00"  # an ICO header
