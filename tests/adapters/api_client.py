"""A small client of the server API for tests: real aiohttp requests, real PyJWT tokens."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import jwt
import pytest

from hub.config import Config
from tests.harness import make_config

JWT_SECRET_ENV = "SB_TEST_API_JWT_SECRET"
JWT_SECRET = "test-secret-" + "x" * 64  # long enough for HS512 too (no key-length warning)
API_KEY_ENV = "SB_TEST_API_KEY"
API_KEY = "sk-test-api-key"
WEBHOOK_SECRET_ENV = "SB_TEST_API_WEBHOOK_SECRET"
WEBHOOK_SECRET = "webhook-test-secret"
AUDIENCE = "switchboard"
SECRETS = {JWT_SECRET_ENV: JWT_SECRET, API_KEY_ENV: API_KEY, WEBHOOK_SECRET_ENV: WEBHOOK_SECRET}


def set_api_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment ``api_config()`` names: JWT secret, API key, webhook secret."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
RULES = [
    {"name": "greeting", "keywords": ["hello"], "action": "reply", "text": "Hello! How can I help?",
     "buttons": [{"label": "Returns", "value": "How do I return an item?"}]},
]


def api_config(data: Mapping[str, Any] | None = None, **api: Any) -> Config:
    """Webchat off, the API on with HS256 JWTs and an API key, one greeting rule."""
    section = {"enabled": True, "jwt_secret_env": JWT_SECRET_ENV, "api_key_env": API_KEY_ENV,
               "webhook_secret_env": WEBHOOK_SECRET_ENV, **api}
    merged: dict[str, Any] = {"rules": RULES, **dict(data or {})}
    channels = dict(merged.pop("channels", {}))
    channels.setdefault("webchat", {"enabled": False})
    channels["api"] = section
    return make_config(merged, channels=channels)


def token(*, secret: str = JWT_SECRET, algorithm: str = "HS256", aud: str | None = AUDIENCE,
          exp_in: float | None = 300, **claims: Any) -> str:
    payload: dict[str, Any] = {"sub": "shop-backend", **claims}
    if aud is not None:
        payload["aud"] = aud
    if exp_in is not None:
        payload["exp"] = int(time.time() + exp_in)
    return jwt.encode(payload, secret, algorithm=algorithm)


class ApiClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, bearer: str | None) -> None:
        self.http = http
        self.base_url = base_url
        self.bearer = bearer

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, bearer: str | None = None) -> AsyncIterator[ApiClient]:
        async with aiohttp.ClientSession() as http:
            yield cls(http, base_url, bearer if bearer is not None else token())

    def headers(self, **extra: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}
        return {**auth, **extra}

    async def post(self, conversation: str, body: Any, **headers: str) -> tuple[int, Any]:
        url = f"{self.base_url}/api/v1/conversations/{conversation}/messages"
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        async with self.http.post(url, data=data, headers=self.headers(**headers)) as response:
            return response.status, await response.json()

    async def say(self, conversation: str, text: str, **fields: Any) -> dict[str, Any]:
        status, answer = await self.post(conversation, {"text": text, **fields})
        assert status == 200, answer
        return dict(answer)

    async def get(self, conversation: str) -> tuple[int, Any]:
        url = f"{self.base_url}/api/v1/conversations/{conversation}"
        async with self.http.get(url, headers=self.headers()) as response:
            return response.status, await response.json()

    async def stream(self, conversation: str, text: str, **fields: Any) -> list[tuple[str, Any]]:
        """The Server-Sent Events of one message, as (event, data) pairs."""
        url = f"{self.base_url}/api/v1/conversations/{conversation}/messages"
        headers = self.headers(Accept="text/event-stream")
        events: list[tuple[str, Any]] = []
        async with self.http.post(url, json={"text": text, **fields}, headers=headers) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "text/event-stream"
            event = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((event, json.loads(line.removeprefix("data: "))))
        return events
