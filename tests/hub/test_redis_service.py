"""The hub on Redis: transcripts survive a restart; Redis going away is survivable."""

from __future__ import annotations

import aiohttp

from tests.harness import WebchatClient, make_config, running_hub, start_redis

RULES = [{"name": "hours", "keywords": ["hours"], "action": "reply", "text": "Nine to five."}]


async def test_session_and_transcript_survive_a_hub_restart(redis_url: str) -> None:
    config = make_config(rules=RULES, store={"url": redis_url})
    async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
        await chat.say("hours?", id="before")
        token, session = chat.session, chat.session_id
    async with running_hub(config) as hub, WebchatClient.connect(hub.url, session=token) as chat:
        assert chat.session_id == session  # resumed, not a new session
        assert [f["text"] for f in chat.history] == ["hours?", "Nine to five."]
        # The dedupe memory survived too: the same client id is not answered again.
        await chat.send({"type": "message", "id": "before", "text": "hours?"})
        assert await chat.silence(0.3) == []


async def test_redis_going_away_gives_an_error_frame_and_recovers() -> None:
    redis = start_redis()
    try:
        config = make_config(rules=RULES, store={"url": redis.url})
        async with running_hub(config) as hub, WebchatClient.connect(hub.url) as chat:
            assert (await chat.say("hours?"))["text"] == "Nine to five."
            redis.stop()
            await chat.send({"type": "message", "id": "lost?", "text": "hours?"})
            error = await chat.expect("error", timeout=10)
            assert (error["code"], error["reply_to"]) == ("unavailable", "lost?")
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{hub.url}/healthz") as resp:
                    assert resp.status == 503
                    assert (await resp.json())["components"]["store"]["status"] == "down"
            redis.restart()
            # The customer (or the page, automatically) sends it again: answered once.
            reply = await chat.say("hours?", id="lost?")
            assert reply["text"] == "Nine to five."
    finally:
        redis.stop()
