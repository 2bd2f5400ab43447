"""The server API: a shop's own app or backend talks to the hub over HTTP (docs/api.md).

``POST /api/v1/conversations/{id}/messages`` submits the customer's message to the
hub's durable ingress, exactly as webchat does (dedupe, order, outbox), waits for
its answer and returns it as JSON, or as Server-Sent Events with ``stream=true``
(or ``Accept: text/event-stream``). ``GET /api/v1/conversations/{id}`` is the
transcript. ``/api/v1/openapi.json`` describes both. Messages nobody waits for
(agents' replies) go to the conversation's webhook (:mod:`adapters.api.webhook`).
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.api.auth import Authenticator
from adapters.api.errors import ApiError
from adapters.api.openapi import CONVERSATION_ID, MESSAGE_ID, openapi_document
from adapters.api.replies import Answer, Event, Reply, ReplyBook, Waiter
from adapters.api.webhook import Webhooks
from hub.adapter import Ingress
from hub.config import ApiConfig, Config, secret
from hub.conversation import TranscriptEntry
from hub.envelope import Address, InboundMessage, OutboundMessage, new_id
from hub.errors import StoreError, StoreUnavailable
from hub.store import Store

__all__ = ["ApiAdapter", "MessageRequest", "to_envelope", "to_platform"]

logger = logging.getLogger(__name__)

CHANNEL = "api"
PREFIX = "/api/v1"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONVERSATION_ID = re.compile(CONVERSATION_ID)
_STREAM_VALUES = {"true": True, "1": True, "false": False, "0": False}


class UserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str | None = Field(default=None, min_length=1, max_length=128)
    name: str | None = Field(default=None, max_length=80)


class MessageRequest(BaseModel):
    """The body of ``POST .../messages``; the text's length is checked by the adapter (413)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    text: str
    id: str | None = Field(default=None, pattern=MESSAGE_ID)
    user: UserRequest | None = None
    webhook_url: str | None = Field(default=None, max_length=2048)


def _clean(text: str) -> str:
    """NFC, lone surrogates (valid in JSON escapes, not in Unicode) replaced by U+FFFD."""
    return unicodedata.normalize("NFC", _SURROGATE.sub("\ufffd", text))


def to_envelope(conversation_id: str, request: MessageRequest, max_chars: int) -> InboundMessage:
    """A checked request as an envelope; ApiError (400/413) for an empty or long text."""
    text = _clean(request.text).strip()
    if not text:
        raise ApiError("empty_text", "the message is empty")
    if len(text) > max_chars:
        raise ApiError("text_too_long", f"the message is over {max_chars} characters", status=413)
    user = request.user or UserRequest()
    client_id = request.id or new_id()
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=conversation_id,
        user_id=_clean(user.id or conversation_id),
        user_name=_clean(user.name or "API customer")[:80],
        message_id=f"{conversation_id}/{client_id}",
        text=text,
        metadata={"client_id": client_id},
    )


def to_platform(message: OutboundMessage) -> dict[str, Any]:
    """An outbound envelope as the API's reply object (what webhooks carry)."""
    return Reply.of(message).to_json()


def _client_id(conversation_id: str, message_id: str | None) -> str | None:
    return None if message_id is None else message_id.removeprefix(f"{conversation_id}/")


def answer_json(message: InboundMessage, answer: Answer | None, seen: list[Reply]) -> dict[str, Any]:
    replies = answer.replies if answer is not None else tuple(seen)
    return {
        "conversation_id": message.conversation_id,
        "message_id": _client_id(message.conversation_id, message.message_id),
        "status": "done" if answer is not None else "pending",
        "stage": answer.stage if answer else None,
        "reason": answer.reason if answer else None,
        "text": "\n\n".join(r.text for r in replies),
        "buttons": [{"label": b.label, "value": b.value} for r in replies for b in r.buttons],
        "replies": [r.to_json() for r in replies],
    }


def _entry_json(conversation_id: str, entry: TranscriptEntry) -> dict[str, Any]:
    customer = entry.sender == "customer"
    return {
        "id": _client_id(conversation_id, entry.id) if customer else entry.id,
        "from": entry.sender,
        "name": entry.sender_name or None,
        "text": entry.text,
        "timestamp": entry.timestamp,
        "reply_to": _client_id(conversation_id, entry.reply_to),
        "buttons": [{"label": b.label, "value": b.value} for b in entry.buttons],
        "stage": entry.stage,
    }


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every API failure is a JSON error body; other paths are left alone."""
    if not request.path.startswith(PREFIX + "/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:  # aiohttp's own refusals (a body past client_max_size)
        if exc.status < 400:
            raise
        code = "body_too_large" if exc.status == 413 else "bad_request"
        return ApiError(code, exc.reason, status=exc.status).response()
    except StoreError as exc:
        logger.warning("api: store unavailable: %s", exc)
        return ApiError("unavailable", "the hub cannot take this now; send it again",
                        status=503).response()


class ApiAdapter:
    """The ``api`` channel: JSON over HTTP, SSE, and webhooks for agents' replies."""

    name = CHANNEL

    def __init__(self, config: ApiConfig, ingress: Ingress, store: Store, *,
                 auth: Authenticator, webhook_secret: str | None) -> None:
        self.config = config
        self.ingress = ingress
        self.store = store
        self.auth = auth
        self.book = ReplyBook(store, CHANNEL)
        self.webhooks = Webhooks(store, config, webhook_secret)

    @classmethod
    def from_config(cls, config: Config, ingress: Ingress, store: Store) -> ApiAdapter:
        """Reads the secrets (a missing one is a ConfigError naming its key)."""
        section = config.channels.api
        return cls(section, ingress, store, auth=Authenticator.from_config(config),
                   webhook_secret=secret(section.webhook_secret_env))

    # -- lifecycle -----------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.middlewares.insert(0, _json_errors)  # outermost: every API error is JSON
        app.router.add_get(f"{PREFIX}/openapi.json", self._openapi)
        messages = app.router.add_resource(f"{PREFIX}/conversations/{{id:[^/]*}}/messages")
        messages.add_route("POST", self._post_message)
        messages.add_route("*", self._not_allowed)
        conversation = app.router.add_resource(f"{PREFIX}/conversations/{{id:[^/]*}}")
        conversation.add_route("GET", self._get_conversation)
        conversation.add_route("*", self._not_allowed)
        app.router.add_route("*", f"{PREFIX}/{{tail:.*}}", self._not_found)

    async def start(self) -> None:
        await self.webhooks.start()

    async def stop(self) -> None:
        await self.webhooks.stop()

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> None:
        """An answer goes to the request waiting for it (it is in the transcript too);
        anything else (agents, hand-off notices) to the conversation's webhook."""
        if message.reply_to is not None:
            self.book.sent(message)
            return
        await self.webhooks.deliver(message)

    async def send_delta(self, message: InboundMessage, text: str) -> None:
        self.book.delta(message.message_id, text)

    async def typing(self, message: InboundMessage, on: bool) -> None:
        return None

    # -- HTTP ----------------------------------------------------------------------
    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.config))

    async def _not_allowed(self, request: web.Request) -> web.Response:
        self.auth.check(request.headers.get("Authorization"))
        allowed = "POST" if request.path.endswith("/messages") else "GET"
        error = ApiError("method_not_allowed", f"use {allowed} here", status=405)
        return web.json_response(error.body(), status=405, headers={"Allow": allowed})

    async def _not_found(self, request: web.Request) -> web.Response:
        raise ApiError("not_found", f"no API endpoint at {request.path}", status=404)

    async def _post_message(self, request: web.Request) -> web.StreamResponse:
        self.auth.check(request.headers.get("Authorization"))
        conversation_id = _conversation_id(request)
        stream = _wants_stream(request)
        body = await self._body(request)
        message = to_envelope(conversation_id, body, self.config.max_chars)
        if body.webhook_url is not None:
            await self.webhooks.remember(conversation_id, body.webhook_url)
        with self.book.watch(message.message_id) as waiter:
            answer = await self.book.answer(message.message_id)  # a retry of an answered one
            if answer is None:
                await self._submit(message)
            if stream:
                return await self._stream(request, message, waiter, answer)
            if answer is None:
                async for event in self.book.events(waiter, self.config.reply_timeout_s):
                    answer = event.answer
            status = 200 if answer is not None else 202
            return web.json_response(answer_json(message, answer, waiter.seen), status=status)

    async def _submit(self, message: InboundMessage) -> None:
        try:
            accepted = await self.ingress.submit(message)
        except StoreUnavailable as exc:
            logger.warning("api: message not taken: %s", exc)
            raise ApiError("unavailable", "the hub cannot take the message now; send it again",
                           status=503) from None
        if not accepted:
            logger.info("api: message %s is a retry; waiting for its answer", message.message_id)

    async def _body(self, request: web.Request) -> MessageRequest:
        limit = self.config.max_chars * 6 + 4096  # a JSON-escaped text of max_chars fits
        if request.content_length is not None and request.content_length > limit:
            raise ApiError("body_too_large", f"the body is over {limit} bytes", status=413)
        raw = await request.read()  # at most the server's client_max_size (413 past it)
        if len(raw) > limit:
            raise ApiError("body_too_large", f"the body is over {limit} bytes", status=413)
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError("invalid_json", "the body must be a JSON object") from None
        if not isinstance(data, dict):
            raise ApiError("invalid_json", "the body must be a JSON object")
        try:
            return MessageRequest.model_validate(data)
        except ValidationError as exc:
            raise ApiError("invalid_body", _validation_summary(exc)) from None

    async def _stream(self, request: web.Request, message: InboundMessage, waiter: Waiter,
                      answer: Answer | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        if answer is None:
            async for event in self.book.events(waiter, self.config.reply_timeout_s):
                await _write_event(response, event)
                answer = event.answer
        final = answer_json(message, answer, waiter.seen)
        await response.write(_sse("done" if answer is not None else "pending", final))
        await response.write_eof()
        return response

    async def _get_conversation(self, request: web.Request) -> web.Response:
        self.auth.check(request.headers.get("Authorization"))
        conversation_id = _conversation_id(request)
        _only_query(request)
        conversation = await self.store.conversation_at(str(Address(CHANNEL, conversation_id)))
        if conversation is None:
            raise ApiError("not_found", f"no conversation {conversation_id!r}", status=404)
        entries = await self.store.transcript(conversation.id)
        return web.json_response({
            "conversation_id": conversation_id,
            "status": conversation.status,
            "linked_from": conversation.linked_from,
            "transcript": [_entry_json(conversation_id, e) for e in entries],
        })


async def _write_event(response: web.StreamResponse, event: Event) -> None:
    if event.kind == "delta":
        await response.write(_sse("delta", {"text": event.text}))
    elif event.kind == "settled" and event.answer is not None:
        for reply in event.answer.replies:
            await response.write(_sse("message", reply.to_json()))


def _conversation_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not _CONVERSATION_ID.fullmatch(value):
        raise ApiError("invalid_conversation_id",
                       "a conversation id is 1 to 128 of A-Z a-z 0-9 . _ -")
    return value


def _only_query(request: web.Request, *allowed: str) -> None:
    unknown = sorted(set(request.query) - set(allowed))
    if unknown:
        raise ApiError("unknown_query_parameter", f"unknown query parameter {unknown[0]!r}")


def _wants_stream(request: web.Request) -> bool:
    _only_query(request, "stream")
    raw = request.query.get("stream")
    if raw is not None:
        if raw.lower() not in _STREAM_VALUES:
            raise ApiError("invalid_stream", "stream must be true or false")
        return _STREAM_VALUES[raw.lower()]
    return "text/event-stream" in request.headers.get("Accept", "")


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
