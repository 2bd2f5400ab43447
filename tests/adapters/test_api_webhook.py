"""Agents' replies to an API conversation reach the client's webhook, signed, retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from flows.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.adapters.api_client import (
    JWT_SECRET_ENV,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_ENV,
    ApiClient,
    set_api_secrets,
)
from tests.fakes.slack_api import FakeSlack
from tests.handoff.conftest import AGENTS, agents_channel, slack, slack_env  # noqa: F401
from tests.harness import make_config

RULES = [{"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hello!"}]


@pytest.fixture(autouse=True)
def api_env(monkeypatch: pytest.MonkeyPatch) -> None:
    set_api_secrets(monkeypatch)


class Receiver:
    """A client's webhook endpoint on 127.0.0.1 that fails its first ``failures`` calls."""

    def __init__(self, failures: int = 1) -> None:
        self.failures = failures
        self.calls: list[tuple[int, dict[str, str], bytes]] = []
        self.delivered: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 503 if len(self.calls) < self.failures else 200
        self.calls.append((status, dict(request.headers), body))
        if status == 200:
            self.delivered.put_nowait(await request.json())
        return web.Response(status=status)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[Receiver]:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        try:
            yield self
        finally:
            await runner.cleanup()


def _config(fake_slack: FakeSlack) -> Any:
    return make_config(
        rules=RULES,
        channels={"webchat": {"enabled": False},
                  "slack": {"enabled": True, "api_base": fake_slack.api_base},
                  "api": {"enabled": True, "jwt_secret_env": JWT_SECRET_ENV,
                          "webhook_secret_env": WEBHOOK_SECRET_ENV, "webhook_backoff_s": 0.05}},
        handoff={"agents_channel": AGENTS},
    )


async def test_an_agents_reply_reaches_the_webhook_signed_after_a_failed_attempt(
    slack: FakeSlack,  # noqa: F811
) -> None:
    async with Receiver(failures=1).serve() as hook, agents_channel(slack, _config(slack)) as agents:
        async with ApiClient.connect(agents.url) as api:
            queued = await api.say("ticket-9", "I want to talk to a HUMAN please",
                                   webhook_url=hook.url)
            assert queued["stage"] == "handoff" and queued["replies"][0]["from"] == "system"
            top = await agents.escalated()
            await agents.reply(top, "Hi, I'm Alex. Let me check.")
            delivered = await asyncio.wait_for(hook.delivered.get(), 10)
            assert delivered["type"] == "message" and delivered["conversation_id"] == "ticket-9"
            message = delivered["message"]
            assert message["from"] == "agent" and message["name"] == "Alex Agent"
            assert message["text"] == "Hi, I'm Alex. Let me check."
            assert [status for status, _, _ in hook.calls] == [503, 200]
            for _, headers, body in hook.calls:  # each attempt signed, with its own timestamp
                assert verify(WEBHOOK_SECRET, headers[TIMESTAMP_HEADER], body,
                              headers[SIGNATURE_HEADER])
            _, conversation = await api.get("ticket-9")
            senders = [e["from"] for e in conversation["transcript"]]
            assert senders == ["customer", "system", "agent"]


async def test_without_a_webhook_secret_a_webhook_url_is_refused(
    slack: FakeSlack, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.delenv(WEBHOOK_SECRET_ENV)
    async with agents_channel(slack, _config(slack)) as agents, ApiClient.connect(agents.url) as api:
        status, error = await api.post("t2", {"text": "hello", "webhook_url": "http://127.0.0.1:9/x"})
        assert (status, error["error"]["code"]) == (400, "webhooks_disabled")
        assert WEBHOOK_SECRET_ENV in error["error"]["message"]
