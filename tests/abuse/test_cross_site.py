"""Cross-site: other sites' pages cannot open the socket, nor frame the page."""

from __future__ import annotations

import aiohttp
import pytest

from tests.harness import WebchatClient, make_config, running_hub

pytestmark = pytest.mark.timeout(60)

RULES = [{"name": "hours", "keywords": ["open"], "action": "reply", "text": "We are open 9 to 5."}]


async def _upgrade_status(url: str, origin: str | None) -> int:
    headers = {"Origin": origin} if origin is not None else {}
    async with aiohttp.ClientSession() as http:
        try:
            async with http.ws_connect(f"{url}/ws", headers=headers) as ws:
                chat = WebchatClient(ws)
                await chat.hello(None)
                assert (await chat.say("open?"))["text"] == "We are open 9 to 5."
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


async def test_a_foreign_origin_gets_403_and_the_page_s_own_origin_a_welcome() -> None:
    async with running_hub(make_config(rules=RULES)) as hub:
        own = f"http://127.0.0.1:{hub.port}"
        assert await _upgrade_status(hub.url, "https://evil.example") == 403
        assert await _upgrade_status(hub.url, "null") == 403
        assert await _upgrade_status(hub.url, f"http://127.0.0.1:{hub.port + 1}") == 403
        assert await _upgrade_status(hub.url, own) == 101
        assert await _upgrade_status(hub.url, None) == 101  # not a browser: an app, a server


async def test_allowed_origins_replace_the_default() -> None:
    config = make_config(rules=RULES, channels={"webchat": {"allowed_origins": ["https://Shop.example"]}})
    async with running_hub(config) as hub:
        assert await _upgrade_status(hub.url, "https://shop.example") == 101
        assert await _upgrade_status(hub.url, f"http://127.0.0.1:{hub.port}") == 403


async def test_the_page_has_a_strict_policy_and_no_inline_script_or_style() -> None:
    embed = {"frame_ancestors": ["'self'", "https://shop.example"]}
    async with running_hub(make_config(channels={"webchat": embed})) as hub:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{hub.url}/") as resp:
                page = await resp.text()
                csp = resp.headers["Content-Security-Policy"]
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert resp.headers["Referrer-Policy"] == "no-referrer"
                assert "X-Frame-Options" not in resp.headers  # it cannot name shop.example
            async with http.get(f"{hub.url}/static/chat.js") as js:
                assert js.headers["X-Content-Type-Options"] == "nosniff"
        policy = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
        assert policy["default-src"] == "'none'"
        assert policy["frame-ancestors"] == "'self' https://shop.example"
        assert "<script>" not in page and "<style" not in page and " style=" not in page
        assert " on" not in page.replace("\n", " ").split("<body", 1)[1].split(">", 1)[0]


async def test_by_default_only_the_hub_s_own_pages_may_frame_it() -> None:
    async with running_hub(make_config()) as hub, aiohttp.ClientSession() as http:
        async with http.get(f"{hub.url}/") as resp:
            assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
            assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
