"""The OpenAI chat-completions wire protocol, spoken directly over aiohttp.

litellm is our multi-provider layer: it resolves every deployment (provider,
model name, base URL, key) once, when the tiers are built, and it serves every
provider whose wire format is its own (Anthropic, Ollama's native API, ...).
Its per-call machinery (logging objects, cost lookups, a pydantic object per
streamed chunk, a thread hop for its success handlers) costs 15-40 ms of CPU per
call here, though (docs/bench.md), which caps a process at a few dozen answers a
second. Deployments that litellm resolves to plain OpenAI (``gpt-4o-mini``,
``openai/<model>`` with an ``api_base``: OpenAI itself, vLLM, LM Studio,
llama.cpp, Ollama's ``/v1``) are therefore called with this small client, on
the same pre-built session: one POST to ``{api_base}/chat/completions``, the
JSON answer (or its ``data:`` SSE events) parsed with :mod:`json`, nothing else.

Failures are typed: :class:`HTTPStatus` carries the HTTP status (never the
body, which may hold anything), and malformed answers raise :class:`BadAnswer`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = ["BadAnswer", "HTTPStatus", "OpenAIWire", "Reply", "ToolCall", "Usage", "WireError"]

OPENAI_BASE = "https://api.openai.com/v1"


class WireError(Exception):
    """A direct call failed at the wire (the router turns it into :class:`TierFailed`)."""


class HTTPStatus(WireError):
    """The provider answered with an HTTP error status."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"provider answered HTTP {status_code}")
        self.status_code = status_code


class BadAnswer(WireError):
    """The provider's answer is not the chat-completions shape."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for; ``arguments`` is its JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole (not streamed) answer."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    usage: Usage


class OpenAIWire:
    """One OpenAI-compatible deployment: its base URL, model name and key."""

    def __init__(self, *, model: str, api_base: str | None, api_key: str | None) -> None:
        self.model = model
        self.url = f"{(api_base or OPENAI_BASE).rstrip('/')}/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    async def reply(
        self, session: aiohttp.ClientSession, messages: list[dict[str, Any]], timeout_s: float,
        **extra: Any,
    ) -> Reply:
        body = {"model": self.model, "messages": messages, **extra}
        async with self._post(session, body, timeout_s) as response:
            data = await _json(response)
        try:
            message = data["choices"][0]["message"]
            calls = tuple(_tool_call(c) for c in message.get("tool_calls") or ())
            return Reply(message.get("content") or "", calls, _usage(data.get("usage")))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BadAnswer(f"no choices[0].message in the answer ({type(exc).__name__})") from None

    async def stream(
        self, session: aiohttp.ClientSession, messages: list[dict[str, Any]], timeout_s: float
    ) -> AsyncIterator[str | Usage]:
        """The answer's text deltas as they arrive, then its :class:`Usage` if the provider sent one."""
        body = {"model": self.model, "messages": messages, "stream": True,
                "stream_options": {"include_usage": True}}
        async with self._post(session, body, timeout_s) as response:
            if response.status >= 400:
                raise HTTPStatus(response.status)
            async for line in response.content:
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, "event:" lines
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    return
                for item in _chunk(payload):
                    yield item

    def _post(
        self, session: aiohttp.ClientSession, body: dict[str, Any], timeout_s: float
    ) -> Any:
        return session.post(
            self.url, data=json.dumps(body, ensure_ascii=False), headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    if response.status >= 400:
        raise HTTPStatus(response.status)
    try:
        data = json.loads(await response.read())
    except ValueError:
        raise BadAnswer("the answer is not JSON") from None
    if not isinstance(data, dict):
        raise BadAnswer("the answer is not a JSON object")
    return data


def _chunk(payload: bytes) -> list[str | Usage]:
    try:
        event = json.loads(payload)
        out: list[str | Usage] = []
        for choice in event.get("choices") or ():
            text = (choice.get("delta") or {}).get("content")
            if text:
                out.append(text)
        if event.get("usage"):
            out.append(_usage(event["usage"]))
        return out
    except (ValueError, AttributeError, TypeError):
        raise BadAnswer("a streamed event is not a chat-completions chunk") from None


def _usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def _tool_call(call: dict[str, Any]) -> ToolCall:
    function = call["function"]
    return ToolCall(str(call["id"]), str(function["name"]), function.get("arguments") or "{}")
