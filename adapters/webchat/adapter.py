"""Webchat: a chat page at ``/`` and a JSON-over-WebSocket protocol at ``/ws``.

Protocol (JSON text frames; see docs/webchat.md):

client ``{"type":"hello","session":null|"<token>","last_id":null|"<id of the last message frame seen>"}``
server ``{"type":"welcome","session":"<token>","history":[message frames]}``, then for a new
       session the greeting as a ``message`` frame (``id: "greeting"``)
client ``{"type":"message","id":"<client id>","text":"..."}``
server ``{"type":"message","id":"<server id>","reply_to":"<client id>","from":"bot"|"agent"|"system","text":"...","buttons":[{"label","value"}],"language":"zh"}``
       (``language`` only with several ``[languages] supported``: the page's own strings follow it)
       plus ``"sources":[{"n":1|null,"title","url"}]`` when the answer cites articles
       and ``"rating":"thumbs"|"csat"`` when the page should offer 👍/👎 (or 1-5) on it
client ``{"type":"rating","message_id":"<server id>","value":1|-1|1..5,"comment":"..."}``
server ``{"type":"delta","reply_to":"<client id>","text":"..."}`` partial answer, before its message
server ``{"type":"typing","on":true|false}``
client ``{"type":"ping"}`` -> server ``{"type":"pong"}``
server ``{"type":"error","code":"...","message":"...","reply_to":"<client id>"|null}`` for any bad input.

Outbound frames go through the session bus (``adapters/webchat/bus.py``), so a
reply reaches the session's sockets on whichever process holds them.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from adapters.webchat.bus import START, SessionBus, open_bus
from adapters.webchat.frames import FrameError, clean_text, client_id, error_frame, parse_frame
from adapters.webchat.guard import (
    TRY_AGAIN_LATER,
    Admission,
    origin_allowed,
    page_headers,
    static_headers,
)
from adapters.webchat.outlet import Outlet
from adapters.webchat.session import SessionSigner
from feedback.buttons import COMMENT_CHARS, press_text, rating_kind, split_rating
from hub.adapter import Ingress
from hub.clients import ClientAddresses
from hub.config import GreetingConfig, ServerConfig, WebchatConfig
from hub.conversation import TranscriptEntry
from hub.envelope import Address, Button, InboundMessage, OutboundMessage, new_id
from hub.errors import RateLimited, StoreError
from hub.store import Keys, RateLimit, Store
from hub.store.steps import Step

__all__ = [
    "FrameError", "WebchatAdapter", "greeting_frame", "rating_envelope", "to_envelope", "to_frame"
]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CHANNEL = "webchat"
MAX_FRAME_BYTES = 1024 * 1024  # larger frames close the socket (1009); up to it, error frames
CLOSE_TIMEOUT_S = 2.0  # how long a closing socket waits for the client's close frame
GREETING_ID = "greeting"
RATE_LIMITED = "too many messages; slow down a little"


def to_envelope(session: str, frame: dict[str, Any], max_chars: int) -> InboundMessage:
    """Check a client ``message`` frame and turn it into an envelope (NFC text)."""
    text = frame.get("text")
    if text is None:
        raise FrameError("missing_text", 'a message frame needs "text"')
    if not isinstance(text, str):
        raise FrameError("invalid_text", '"text" must be a string')
    text = clean_text(text).strip()
    if not text:
        raise FrameError("empty_text", "the message is empty")
    if len(text) > max_chars:
        raise FrameError("text_too_long", f"the message is over {max_chars} characters")
    if frame.get("id") is None:
        frame = {**frame, "id": new_id()}
    cid = client_id(frame)
    if cid is None:
        raise FrameError("invalid_id", '"id" must be a non-empty string')
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=session,
        user_id=session,
        user_name=clean_text(str(frame.get("name") or "Webchat visitor"))[:80],
        message_id=f"{session}/{cid}",
        text=text,
        metadata={"client_id": cid},
    )


def _client_id(session: str, message_id: str | None) -> str | None:
    if message_id is None:
        return None
    return message_id.removeprefix(f"{session}/")


def to_frame(message: OutboundMessage) -> dict[str, Any]:
    """An outbound envelope as a server ``message`` frame (with ``language``, the
    customer's as detected, when the hub supports several: the page follows it; a
    rating prompt among its buttons becomes ``"rating": "thumbs"|"csat"``)."""
    frame = _with_rating({
        "type": "message",
        "id": message.message_id,
        "reply_to": _client_id(message.conversation_id, message.reply_to),
        "from": message.sender,
        "name": message.sender_name or None,
        "text": message.text,
        **_sources(message),
    }, message.buttons)
    language = message.metadata.get("language")
    if isinstance(language, str) and language:
        frame["language"] = language
    return frame


def _sources(message: OutboundMessage) -> dict[str, Any]:
    """``sources`` (only when the answer has some): the page shows ``text`` without its
    last paragraph, their plain line, and renders them as links instead."""
    if not message.sources:
        return {}
    return {"sources": [{"n": s.number, "title": s.title, "url": s.url} for s in message.sources]}


def _with_rating(frame: dict[str, Any], buttons: tuple[Button, ...]) -> dict[str, Any]:
    plain, rating = split_rating(buttons)
    frame["buttons"] = [{"label": b.label, "value": b.value} for b in plain]
    if rating:
        frame["rating"] = rating_kind(rating)
    return frame


def rating_envelope(session: str, frame: dict[str, Any]) -> InboundMessage:
    """A client ``rating`` frame as the press it stands for (feedback/buttons.py):
    ``{"type":"rating","message_id":"<server id>","value":1|-1|1..5,"comment":"..."}``."""
    rated, value, comment = frame.get("message_id"), frame.get("value"), frame.get("comment")
    if not isinstance(rated, str) or not rated.strip() or len(rated) > 64:
        raise FrameError("invalid_rating", '"message_id" must be the id of a message frame')
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 5 or not value:
        raise FrameError("invalid_rating", '"value" must be 1 or -1, or 1 to 5')
    if comment is not None and not isinstance(comment, str):
        raise FrameError("invalid_rating", '"comment" must be a string')
    kind = frame.get("kind") or ("csat" if value > 1 else "thumbs")  # the hub checks the prompt
    if kind not in ("thumbs", "csat"):
        raise FrameError("invalid_rating", '"kind" must be "thumbs" or "csat"')
    text = press_text(kind, value, rated.strip())
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=session,
        user_id=session,
        message_id=f"{session}/{text}",
        text=text,
        metadata={"comment": clean_text(comment or "")[:COMMENT_CHARS]},
    )


def history_frame(session: str, entry: TranscriptEntry) -> dict[str, Any]:
    """A transcript line as a message frame (customer lines have ``from: customer``)."""
    customer = entry.sender == "customer"
    return _with_rating({
        "type": "message",
        "id": _client_id(session, entry.id) if customer else entry.id,
        "reply_to": _client_id(session, entry.reply_to),
        "from": entry.sender,
        "name": entry.sender_name or None,
        "text": entry.text,
    }, entry.buttons)


def greeting_frame(greeting: GreetingConfig) -> dict[str, Any]:
    """``[channels.webchat] greeting`` as the message frame a new session opens with."""
    return {
        "type": "message",
        "id": GREETING_ID,
        "reply_to": None,
        "from": "bot",
        "name": None,
        "text": greeting.text,
        "buttons": [{"label": b.label, "value": b.value} for b in greeting.buttons],
    }


class _Refused(Exception):
    """The socket was refused something and closed; stop handling its frame."""


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/" or request.path.startswith(("/static/", "/favicon.ico", "/ws")):
        response.headers.update(static_headers())


@dataclass(eq=False)
class Connection:
    """One open socket, its client's address, and its session once welcomed."""

    ws: web.WebSocketResponse
    client_ip: str
    session: str | None = None


class WebchatAdapter:
    """The webchat channel: page, WebSocket, sessions."""

    name = CHANNEL

    def __init__(
        self,
        config: WebchatConfig,
        ingress: Ingress,
        store: Store,
        *,
        server: ServerConfig | None = None,
        bus: SessionBus | None = None,
    ) -> None:
        server = server or ServerConfig()
        self.config = config
        self.ingress = ingress
        self.store = store
        self.bus = bus or open_bus(store)
        self.signer = SessionSigner(store, config.secret_env, config.session_ttl_s)
        self.clients = ClientAddresses(server.trusted_proxies)
        self.admission = Admission(server)
        self._open: set[web.WebSocketResponse] = set()  # every socket, registered or not
        self._outlets: dict[str, dict[web.WebSocketResponse, Outlet]] = {}
        self._closing = False
        self._page_html = (STATIC / "index.html").read_text(encoding="utf-8")

    # -- lifecycle -----------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/favicon.ico", self._favicon)
        app.router.add_static("/static/", STATIC, name="webchat-static")
        app.on_response_prepare.append(_static_headers)

    async def start(self) -> None:
        await self.signer.load()
        await self.bus.start()

    async def stop(self) -> None:
        """Refuse new sockets, close the open ones with 1012, stop the bus."""
        self._closing = True
        await self.disconnect_all()
        await self.bus.close()

    async def disconnect_all(self) -> int:
        """Close every socket with 1012 (service restart): the pages reconnect by themselves."""
        sockets = [ws for ws in self._open if not ws.closed]
        if sockets:
            logger.info("webchat: closing %d socket(s) with 1012 (service restart)", len(sockets))
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"service restart") for ws in sockets),
            return_exceptions=True,
        )
        return len(sockets)

    @property
    def connections(self) -> int:
        """Sockets registered to a session (after their welcome)."""
        return sum(len(s) for s in self._outlets.values())

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> None:
        """Into the session's outbox: its sockets get it on any process, now or on resume.

        The outbox lives in the hub's store: when that is down, the StoreError goes
        up, and the hub keeps the entry pending and sends it again later."""
        await self.bus.publish(message.conversation_id, to_frame(message))

    def send_step(self, message: OutboundMessage) -> Step:
        """The same publish, for the hub to make inside the entry's commit (StepSender)."""
        return self.bus.publish_step(message.conversation_id, to_frame(message))

    async def send_delta(self, message: InboundMessage, text: str) -> None:
        """Part of the answer to ``message`` while it is being written (LLM streaming)."""
        reply_to = _client_id(message.conversation_id, message.message_id)
        await self._signal(message.conversation_id, {"type": "delta", "reply_to": reply_to, "text": text})

    async def typing(self, message: InboundMessage, on: bool) -> None:
        await self._signal(message.conversation_id, {"type": "typing", "on": on})

    async def _signal(self, session: str, frame: dict[str, Any]) -> None:
        try:
            await self.bus.signal(session, frame)
        except StoreError as exc:  # ephemeral: the final message still goes through the outbox
            logger.info("webchat: %s frame not sent: %s", frame["type"], exc)

    # -- HTTP ----------------------------------------------------------------------
    async def _page(self, request: web.Request) -> web.StreamResponse:
        page = self._page_html.replace("{{title}}", html.escape(self.config.title))
        page = page.replace("{{max_chars}}", str(self.config.max_chars))
        headers = page_headers(self.config, request.host)
        return web.Response(text=page, content_type="text/html", headers=headers)

    async def _favicon(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "max-age=86400"})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not origin_allowed(self.config, request):
            raise web.HTTPForbidden(text="this page's origin may not open the chat socket")
        ws = web.WebSocketResponse(
            heartbeat=self.config.heartbeat_s, max_msg_size=MAX_FRAME_BYTES, timeout=CLOSE_TIMEOUT_S
        )
        client_ip = self.clients.client_ip(request)
        refusal = "service restart" if self._closing else self.admission.refusal(client_ip)
        if refusal is not None:
            await ws.prepare(request)
            code = WSCloseCode.SERVICE_RESTART if self._closing else TRY_AGAIN_LATER
            await ws.close(code=code, message=refusal.encode())
            return ws
        with self.admission.holding(client_ip):
            await self._serve(ws, request, Connection(ws, client_ip))
        return ws

    async def _serve(
        self, ws: web.WebSocketResponse, request: web.Request, connection: Connection
    ) -> None:
        """Read the socket's frames until it closes; it is unregistered on every path."""
        self._open.add(ws)
        try:
            await ws.prepare(request)
            async for msg in ws:
                await self._on_frame(connection, msg)
        except ConnectionError as exc:  # the client went away while we were answering it
            logger.debug("webchat socket lost: %s", exc)
        finally:
            self._open.discard(ws)
            await self._unregister(connection)

    async def _on_frame(self, connection: Connection, msg: Any) -> None:
        ws = connection.ws
        if msg.type == WSMsgType.BINARY:
            await ws.send_json(error_frame("binary_frame", "only JSON text frames are accepted"))
            return
        if msg.type != WSMsgType.TEXT:
            return
        reply_to: str | None = None
        try:
            frame = parse_frame(msg.data)
            reply_to = client_id(frame) if frame.get("type") == "message" else None
            await self._dispatch(connection, frame)
        except FrameError as exc:
            await ws.send_json(error_frame(exc.code, exc.message, reply_to))
        except _Refused:
            return
        except StoreError as exc:
            logger.error("webchat: store unavailable: %s", exc)
            message = "we could not take your message; please retry"
            await ws.send_json(error_frame("unavailable", message, reply_to))

    async def _dispatch(self, connection: Connection, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "hello":
            await self._hello(connection, frame)
        elif kind == "message":
            if connection.session is None:  # a message before any hello opens a session
                await self._count_hello(connection)
                await self._register(connection, self.signer.new_session(), START)
            assert connection.session is not None
            await self._message(connection, connection.session, frame)
        elif kind == "rating":
            if connection.session is None:
                raise FrameError("no_session", "say hello before rating")
            await self._rate(connection, connection.session, frame)
        elif kind == "ping":
            await connection.ws.send_json({"type": "pong"})
        else:
            raise FrameError("unknown_type", f"unknown frame type {kind!r}")

    async def _count_hello(self, connection: Connection) -> None:
        """At most ``hellos_per_ip_per_min`` sessions opened or resumed per client address;
        past it, a ``rate_limited`` error and the socket closes with 1013."""
        per_min = self.config.hellos_per_ip_per_min
        limit = RateLimit(Keys.webchat_hellos(connection.client_ip), per_min, per_min / 60)
        if not await self.store.take_tokens([limit]):
            ws = connection.ws
            await ws.send_json(error_frame("rate_limited", "too many sessions; try again later"))
            await ws.close(code=TRY_AGAIN_LATER, message=b"too many sessions")
            raise _Refused

    async def _hello(self, connection: Connection, frame: dict[str, Any]) -> None:
        await self._unregister(connection)  # a second hello on a socket starts over
        await self._count_hello(connection)
        ws = connection.ws
        token = frame.get("session")
        check = self.signer.check(token) if isinstance(token, str) and token else None
        resumed = check.session if check is not None else None
        if check is not None and check.expired:
            await ws.send_json(error_frame("session_expired", "the session expired; starting a new one"))
        elif token and resumed is None:
            await ws.send_json(error_frame("invalid_session", "unknown session; starting a new one"))
        current = resumed or self.signer.new_session()
        newest = await self.bus.position(current)  # before the history, so there is no gap
        history = await self._history(current)
        cursor = await self._cursor(current, frame.get("last_id"), newest, bool(history))
        await ws.send_json({"type": "welcome", "session": self.signer.sign(current), "history": history})
        if resumed is None and self.config.greeting.text.strip():
            await ws.send_json(greeting_frame(self.config.greeting))
        await self._register(connection, current, cursor, {f["id"] for f in history})

    async def _cursor(self, session: str, last_id: Any, newest: str, has_history: bool) -> str:
        """Where the socket's feed starts: after the client's last frame if the outbox still
        has it; else after the newest frame, the history covering what came before; with
        no history, the whole outbox (none of it can be in a history)."""
        if isinstance(last_id, str) and last_id:
            found = await self.bus.find(session, last_id)
            if found is not None:
                return found
        return newest if has_history else START

    async def _message(self, connection: Connection, session: str, frame: dict[str, Any]) -> None:
        await self._take(connection, session, lambda: to_envelope(session, frame, self.config.max_chars))

    async def _rate(self, connection: Connection, session: str, frame: dict[str, Any]) -> None:
        """A 👍/👎 or 1-5 press: rate-limited like a message, then into the ingress."""
        await self._take(connection, session, lambda: rating_envelope(session, frame))

    async def _take(
        self, connection: Connection, session: str, envelope_of: Callable[[], InboundMessage]
    ) -> None:
        """Rate-limited per session and per client address (buckets in the store: no
        reconnect or new hello refills them; bad frames count too), then into the
        ingress: the tokens and the enqueue are one step."""
        limits = self._limits(connection.client_ip, session)
        try:
            envelope = envelope_of()
        except FrameError:
            if not await self.store.take_tokens(limits):
                raise FrameError("rate_limited", RATE_LIMITED) from None
            raise
        try:
            await self.ingress.submit(envelope, limits)
        except RateLimited:
            raise FrameError("rate_limited", RATE_LIMITED) from None

    def _limits(self, client_ip: str, session: str) -> list[RateLimit]:
        config = self.config
        return [
            RateLimit(Keys.webchat_rate_session(session), config.rate_limit_burst, config.rate_limit_per_s),
            RateLimit(
                Keys.webchat_rate_ip(client_ip), config.rate_limit_per_ip_burst, config.rate_limit_per_ip_per_s
            ),
        ]

    async def _history(self, session: str) -> list[dict[str, Any]]:
        conversation = await self.store.conversation_at(str(Address(CHANNEL, session)))
        if conversation is None:
            return []
        entries = await self.store.transcript(conversation.id)
        return [history_frame(session, e) for e in entries]

    # -- the sockets of each session ------------------------------------------------
    async def _register(
        self, connection: Connection, session: str, cursor: str, shown: Iterable[str] = ()
    ) -> None:
        """From now on the socket gets the session's frames after ``cursor``, except ``shown``."""
        outlet = Outlet(connection.ws, self.bus, session, cursor, shown)
        self._outlets.setdefault(session, {})[connection.ws] = outlet
        connection.session = session
        await outlet.open()

    async def _unregister(self, connection: Connection) -> None:
        session, connection.session = connection.session, None
        outlets = self._outlets.get(session) if session is not None else None
        if outlets is None:
            return
        outlet = outlets.pop(connection.ws, None)
        if not outlets:
            del self._outlets[session]  # type: ignore[arg-type]
        if outlet is not None:
            await outlet.close()
