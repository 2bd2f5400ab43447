"""Webchat: a chat page at ``/`` and a JSON-over-WebSocket protocol at ``/ws``.

Protocol (JSON text frames; see docs/webchat.md):

client ``{"type":"hello","session":null|"<token>"}``
server ``{"type":"welcome","session":"<token>","history":[message frames]}``
client ``{"type":"message","id":"<client id>","text":"..."}``
server ``{"type":"message","id":"<server id>","reply_to":"<client id>","from":"bot"|"agent"|"system","text":"...","buttons":[{"label","value"}]}``
server ``{"type":"delta","reply_to":"<client id>","text":"..."}`` partial answer, before its message
server ``{"type":"typing","on":true|false}``
client ``{"type":"ping"}`` -> server ``{"type":"pong"}``
server ``{"type":"error","code":"...","message":"..."}`` for any bad input.
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from adapters.webchat.session import SessionSigner, TokenBucket
from hub.adapter import Ingress
from hub.config import WebchatConfig
from hub.conversation import TranscriptEntry
from hub.envelope import InboundMessage, OutboundMessage, new_id
from hub.errors import StoreError
from hub.store import Store

__all__ = ["WebchatAdapter", "to_envelope", "to_frame"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CHANNEL = "webchat"
MAX_FRAME_BYTES = 1024 * 1024  # larger frames close the socket (1009); up to it, error frames


class FrameError(Exception):
    """A client frame the protocol rejects; becomes an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def to_envelope(session: str, frame: dict[str, Any], max_chars: int) -> InboundMessage:
    """Check a client ``message`` frame and turn it into an envelope."""
    text = frame.get("text")
    if text is None:
        raise FrameError("missing_text", 'a message frame needs "text"')
    if not isinstance(text, str):
        raise FrameError("invalid_text", '"text" must be a string')
    if not text.strip():
        raise FrameError("empty_text", "the message is empty")
    if len(text) > max_chars:
        raise FrameError("text_too_long", f"the message is over {max_chars} characters")
    client_id = frame.get("id")
    if client_id is None:
        client_id = new_id()
    if not isinstance(client_id, str | int) or not str(client_id).strip():
        raise FrameError("invalid_id", '"id" must be a non-empty string')
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=session,
        user_id=session,
        user_name=str(frame.get("name") or "Webchat visitor")[:80],
        message_id=f"{session}/{client_id}",
        text=text.strip(),
        metadata={"client_id": str(client_id)},
    )


def _client_id(session: str, message_id: str | None) -> str | None:
    if message_id is None:
        return None
    return message_id.removeprefix(f"{session}/")


def to_frame(message: OutboundMessage) -> dict[str, Any]:
    """An outbound envelope as a server ``message`` frame."""
    return {
        "type": "message",
        "id": message.message_id,
        "reply_to": _client_id(message.conversation_id, message.reply_to),
        "from": message.sender,
        "name": message.sender_name or None,
        "text": message.text,
        "buttons": [{"label": b.label, "value": b.value} for b in message.buttons],
    }


def history_frame(session: str, entry: TranscriptEntry) -> dict[str, Any]:
    """A transcript line as a message frame (customer lines have ``from: customer``)."""
    customer = entry.sender == "customer"
    return {
        "type": "message",
        "id": _client_id(session, entry.id) if customer else entry.id,
        "reply_to": _client_id(session, entry.reply_to),
        "from": entry.sender,
        "name": entry.sender_name or None,
        "text": entry.text,
        "buttons": [{"label": b.label, "value": b.value} for b in entry.buttons],
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


class WebchatAdapter:
    """The webchat channel: page, WebSocket, sessions."""

    name = CHANNEL

    def __init__(self, config: WebchatConfig, ingress: Ingress, store: Store) -> None:
        self.config = config
        self.ingress = ingress
        self.store = store
        self.signer = SessionSigner(store, config.secret_env)
        self._sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._buckets: dict[str, TokenBucket] = {}
        self._page_html = (STATIC / "index.html").read_text(encoding="utf-8")

    # -- lifecycle -----------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._websocket)
        app.router.add_static("/static/", STATIC, name="webchat-static")

    async def start(self) -> None:
        await self.signer.load()

    async def stop(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await ws.close(code=1001, message=b"server shutting down")

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._sockets.values())

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> None:
        """Send to every open socket of the session; offline sessions get it on resume."""
        await self._broadcast(message.conversation_id, to_frame(message))

    async def send_delta(self, message: InboundMessage, text: str) -> None:
        """Part of the answer to ``message`` while it is being written (LLM streaming)."""
        reply_to = _client_id(message.conversation_id, message.message_id)
        await self._broadcast(message.conversation_id, {"type": "delta", "reply_to": reply_to, "text": text})

    async def typing(self, message: InboundMessage, on: bool) -> None:
        await self._broadcast(message.conversation_id, {"type": "typing", "on": on})

    async def _broadcast(self, session: str, frame: dict[str, Any]) -> None:
        data = json.dumps(frame)
        for ws in list(self._sockets.get(session, ())):
            if ws.closed:
                continue
            try:
                await ws.send_str(data)
            except (ConnectionError, RuntimeError) as exc:
                logger.info("webchat socket closed while sending: %s", exc)

    # -- HTTP ----------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = self._page_html.replace("{{title}}", html.escape(self.config.title))
        return web.Response(text=page, content_type="text/html")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
        await ws.prepare(request)
        session: str | None = None
        try:
            async for msg in ws:
                session = await self._on_frame(ws, session, msg)
        finally:
            if session is not None:
                self._detach(session, ws)
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, session: str | None, msg: Any
    ) -> str | None:
        if msg.type == WSMsgType.BINARY:
            await ws.send_json(_error("binary_frame", "only JSON text frames are accepted"))
            return session
        if msg.type != WSMsgType.TEXT:
            return session
        try:
            frame = json.loads(msg.data)
            if not isinstance(frame, dict):
                raise ValueError("not an object")
        except ValueError:
            await ws.send_json(_error("invalid_json", "frames must be JSON objects"))
            return session
        try:
            return await self._dispatch(ws, session, frame)
        except FrameError as exc:
            await ws.send_json(_error(exc.code, exc.message))
        except StoreError as exc:
            logger.error("webchat: store unavailable: %s", exc)
            await ws.send_json(_error("unavailable", "we could not take your message; please retry"))
        return session

    async def _dispatch(
        self, ws: web.WebSocketResponse, session: str | None, frame: dict[str, Any]
    ) -> str | None:
        kind = frame.get("type")
        if kind == "hello":
            return await self._hello(ws, session, frame.get("session"))
        if kind == "message":
            if session is None:
                session = self._attach(ws, self.signer.new_session())
            await self._message(session, frame)
            return session
        if kind == "ping":
            await ws.send_json({"type": "pong"})
            return session
        raise FrameError("unknown_type", f"unknown frame type {kind!r}")

    async def _hello(self, ws: web.WebSocketResponse, current: str | None, token: Any) -> str:
        if current is not None:
            self._detach(current, ws)
        session = self.signer.verify(token) if isinstance(token, str) and token else None
        if token and session is None:
            await ws.send_json(_error("invalid_session", "unknown session; starting a new one"))
        session = self._attach(ws, session or self.signer.new_session())
        history = await self._history(session)
        await ws.send_json(
            {"type": "welcome", "session": self.signer.sign(session), "history": history}
        )
        return session

    async def _message(self, session: str, frame: dict[str, Any]) -> None:
        bucket = self._buckets.setdefault(
            session, TokenBucket(self.config.rate_limit_burst, self.config.rate_limit_per_s)
        )
        if not bucket.take(time.monotonic()):
            raise FrameError("rate_limited", "too many messages; slow down a little")
        await self.ingress.submit(to_envelope(session, frame, self.config.max_chars))

    async def _history(self, session: str) -> list[dict[str, Any]]:
        conversation = await self.store.conversation_at(f"{CHANNEL}:{session}")
        if conversation is None:
            return []
        entries = await self.store.transcript(conversation.id)
        return [history_frame(session, e) for e in entries]

    def _attach(self, ws: web.WebSocketResponse, session: str) -> str:
        self._sockets[session].add(ws)
        return session

    def _detach(self, session: str, ws: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(session)
        if sockets is None:
            return
        sockets.discard(ws)
        if not sockets:
            del self._sockets[session]
            self._buckets.pop(session, None)
