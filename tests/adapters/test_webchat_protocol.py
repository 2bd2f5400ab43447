"""The webchat protocol through a real WebSocket against a running hub."""

from __future__ import annotations

import asyncio
import json

import aiohttp

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
            token = chat.session
        async with WebchatClient.connect(hub.url, session=token) as again:
            assert again.session == token
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
