"""A fake LLM provider: OpenAI ``/v1/chat/completions`` and Anthropic ``/v1/messages``.

One aiohttp app on 127.0.0.1 speaks both wire protocols (plain JSON and SSE
streaming), so the real litellm client can be pointed at it with ``api_base``.
It records every request body and answers per model name with a programmable
:data:`Behaviour`: a :class:`Reply` (text, or a function of the request),
:class:`Fail` (an HTTP error status) or :class:`Hang` (never answers, for
timeouts) or :class:`Held` (answers when the test releases it). Token usage is realistic (about four characters per token) unless
a reply sets it. ``delay_s`` makes every answer take that long (a provider's
latency); ``in_flight`` and ``peak_in_flight`` count the calls being answered.

    async with FakeLLM() as fake:
        fake.on("gpt-4o-mini", Reply(answer_json("Refunds take 5 days.", sources=["refunds"])))
        ... api_base=fake.openai_base ... / api_base=fake.anthropic_base ...
        fake.requests[-1].prompt  # every message text the provider received

As a process (for benchmarks): ``python -m tests.fakes.llm_api --port 8399
--delay 1.0 --answer "Our stores open at nine."``; ``GET /fake/stats`` returns
the number of requests and the peak concurrency, ``POST /fake/stats`` resets them.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "Behaviour",
    "Fail",
    "FakeLLM",
    "Hang",
    "Held",
    "Recorded",
    "Reply",
    "answer_json",
    "citing",
    "grounded_reply",
    "prompt_text",
]


@dataclass(frozen=True)
class Reply:
    """Answer with ``text`` (or ``text(request_body)``); usage estimated unless given."""

    text: str | Callable[[dict[str, Any]], str]
    tokens_in: int | None = None
    tokens_out: int | None = None
    # OpenAI API: tools to call instead of answering, [{"name": ..., "arguments": {...}}]
    # as a function of the request body; an empty list answers with ``text``.
    tool_calls: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error."""

    status: int = 500
    message: str = "internal server error: upstream exploded (trace id 0xdeadbeef)"


@dataclass(frozen=True)
class Hang:
    """Never answer (until the server stops): the client must time out."""


@dataclass(frozen=True)
class Held:
    """Answer as ``then`` once ``release`` is set (a slow provider the test controls);
    ``arrived`` is set when the request is in."""

    then: Reply
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


Behaviour = Reply | Fail | Hang | Held


@dataclass
class Recorded:
    """One request the fake received."""

    api: str  # "openai" or "anthropic"
    model: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        """Every piece of text sent (system prompt included), joined by newlines."""
        parts: list[str] = []
        system = self.body.get("system")
        if system:
            parts.append(_text_of(system))
        for message in self.body.get("messages", []):
            parts.append(_text_of(message.get("content", "")))
        return "\n".join(parts)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def prompt_text(body: dict[str, Any]) -> str:
    """Every text in a request body (system prompt first), in either API's shape."""
    parts = [_text_of(body.get("system", ""))]
    parts += [_text_of(m.get("content", "")) for m in body.get("messages", [])]
    return "\n".join(p for p in parts if p)


def answer_json(answer: str, *, confident: bool = True, sources: tuple[str, ...] | list[str] = ()) -> str:
    """The small JSON object the router asks models to answer with."""
    return json.dumps({"answer": answer, "confident": confident, "sources": list(sources)})


def grounded_reply(body: dict[str, Any]) -> str:
    """A well-behaved model: answer with the first reference answer, citing its id.

    Finds ``[id] ... A: answer`` style lines in the prompt; with none, declines.
    """
    prompt = prompt_text(body)
    for line in prompt.splitlines():
        if line.startswith("[") and "]" in line and " A: " in line:
            source = line[1 : line.index("]")]
            return answer_json(line.split(" A: ", 1)[1].strip(), sources=[source])
    return answer_json("I'm not sure about that.", confident=False)


def citing(answer: str) -> Callable[[dict[str, Any]], str]:
    """A model that trusts its grounding: always ``answer``, citing every reference the prompt offers."""

    def reply(body: dict[str, Any]) -> str:
        sources = [line[1 : line.index("]")] for line in prompt_text(body).splitlines()
                   if line.startswith("[") and "]" in line and " A: " in line]
        return answer_json(answer, sources=sources)

    return reply


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class FakeLLM:
    """The fake provider; use as an async context manager."""

    default: Behaviour = field(default_factory=lambda: Reply(grounded_reply))
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    delay_s: float = 0.0
    keep_requests: bool = True
    calls: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, model: str, behaviour: Behaviour) -> None:
        """How to answer requests for ``model`` (the name the provider sees, e.g. gpt-4o-mini)."""
        self.behaviours[model] = behaviour

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url  # litellm appends /v1/messages itself

    def for_model(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if r.model == model]

    # -- lifecycle ---------------------------------------------------------------
    async def __aenter__(self) -> FakeLLM:
        app = web.Application(middlewares=[self._latency])
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_get("/fake/stats", self._stats)
        app.router.add_post("/fake/stats", self._reset_stats)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- handlers ------------------------------------------------------------------
    @web.middleware
    async def _latency(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/fake/"):
            return await handler(request)
        self.calls += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": self.calls, "peak_in_flight": self.peak_in_flight})

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.calls, self.peak_in_flight = 0, self.in_flight
        return web.json_response({"calls": 0, "peak_in_flight": self.peak_in_flight})

    async def _record(self, request: web.Request, api: str) -> tuple[Recorded, Behaviour]:
        body = await request.json()
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = Recorded(api, str(body.get("model", "")), body, headers)
        if self.keep_requests:
            self.requests.append(recorded)
        return recorded, self.behaviours.get(recorded.model, self.default)

    async def _misbehave(self, behaviour: Behaviour) -> web.Response | None:
        if isinstance(behaviour, Hang):
            await self._stopping.wait()
            return web.json_response({"error": {"message": "shutting down"}}, status=503)
        if isinstance(behaviour, Fail):
            error = {"message": behaviour.message, "type": "server_error", "code": None}
            return web.json_response({"error": error}, status=behaviour.status)
        return None

    async def _answer(
        self, request: web.Request, api: str
    ) -> tuple[Recorded, str, int, int] | web.StreamResponse:
        """Record the call, then either misbehave (a response) or say what to answer:
        (the recorded request, the text, prompt tokens, completion tokens)."""
        recorded, behaviour = await self._record(request, api)
        if isinstance(behaviour, Held):
            behaviour.arrived.set()
            await behaviour.release.wait()
            behaviour = behaviour.then
        failed = await self._misbehave(behaviour)
        if failed is not None:
            return failed
        assert isinstance(behaviour, Reply)
        text = behaviour.text(recorded.body) if callable(behaviour.text) else behaviour.text
        tokens_in = behaviour.tokens_in or _tokens(recorded.prompt)
        return recorded, text, tokens_in, behaviour.tokens_out or _tokens(text)

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        answer = await self._answer(request, "openai")
        if isinstance(answer, web.StreamResponse):
            return answer
        recorded, text, tokens_in, tokens_out = answer
        usage = {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        }
        if recorded.stream:
            return await self._openai_stream(request, recorded.model, text, usage)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        calls = self._tool_calls(recorded)
        if calls:
            message = {"role": "assistant", "content": None, "tool_calls": calls}
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": recorded.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if calls else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _tool_calls(self, recorded: Recorded) -> list[dict[str, Any]]:
        behaviour = self.behaviours.get(recorded.model, self.default)
        if isinstance(behaviour, Held):
            behaviour = behaviour.then
        if not isinstance(behaviour, Reply) or behaviour.tool_calls is None:
            return []
        if recorded.body.get("tool_choice") == "none":  # as OpenAI: then it must answer
            return []
        return [
            {"id": f"call_{len(self.requests)}_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
            for i, c in enumerate(behaviour.tool_calls(recorded.body))
        ]

    async def _openai_stream(
        self, request: web.Request, model: str, text: str, usage: dict[str, int]
    ) -> web.StreamResponse:
        response = await _sse(request)

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        await _event(response, chunk({"role": "assistant", "content": ""}, None))
        for piece in _pieces(text):
            await _event(response, chunk({"content": piece}, None))
        await _event(response, chunk({}, "stop"))
        final = chunk({}, None)
        final["choices"], final["usage"] = [], usage
        await _event(response, final)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        answer = await self._answer(request, "anthropic")
        if isinstance(answer, web.StreamResponse):
            return answer
        recorded, text, tokens_in, tokens_out = answer
        if recorded.stream:
            return await self._anthropic_stream(request, recorded.model, text, tokens_in, tokens_out)
        return web.json_response(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": recorded.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
            }
        )

    async def _anthropic_stream(
        self, request: web.Request, model: str, text: str, tokens_in: int, tokens_out: int
    ) -> web.StreamResponse:
        response = await _sse(request)
        message = {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": 1},
        }
        await _event(response, {"type": "message_start", "message": message}, "message_start")
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        await _event(response, block, "content_block_start")
        for piece in _pieces(text):
            delta = {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": piece}}
            await _event(response, delta, "content_block_delta")
        await _event(response, {"type": "content_block_stop", "index": 0}, "content_block_stop")
        end = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
               "usage": {"output_tokens": tokens_out}}
        await _event(response, end, "message_delta")
        await _event(response, {"type": "message_stop"}, "message_stop")
        await response.write_eof()
        return response


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    return response


async def _event(response: web.StreamResponse, data: dict[str, Any], name: str | None = None) -> None:
    prefix = f"event: {name}\n" if name else ""
    await response.write(f"{prefix}data: {json.dumps(data)}\n\n".encode())


@asynccontextmanager
async def fake_llm(**kwargs: Any) -> AsyncIterator[FakeLLM]:
    async with FakeLLM(**kwargs) as fake:
        yield fake


async def _serve(port: int, delay_s: float, answer: str | None) -> None:
    default: Behaviour = Reply(citing(answer)) if answer else Reply(grounded_reply)
    async with FakeLLM(default=default, port=port, delay_s=delay_s, keep_requests=False):
        await asyncio.Event().wait()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="the fake OpenAI/Anthropic provider")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--answer", default=None,
                        help="answer every question with this text (citing the references offered)")
    ns = parser.parse_args()
    asyncio.run(_serve(ns.port, ns.delay, ns.answer))
