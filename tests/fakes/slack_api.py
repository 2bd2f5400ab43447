"""A fake Slack Web API (and Socket Mode WebSocket) on 127.0.0.1, for the real slack_sdk.

``FakeSlack`` is an async context manager serving the Web API methods the hub
uses, answered in Slack's shapes (``{"ok": true, ...}``, errors as
``{"ok": false, "error": "..."}``, 429 with ``Retry-After`` when rate limited).
It accepts query strings, form-encoded and JSON bodies, checks the bearer token,
and records every call in ``calls`` as ``(method, params)`` with ``blocks``
JSON-decoded.

Usage::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.api_base)
        slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
        ...
        posted = await slack.wait_for("chat.postMessage", lambda p: p["channel"] == "D1")

Socket Mode: ``apps.connections.open`` (app token ``xapp-test``) answers a
``ws://`` URL served by the same fake. ``await slack.socket_send(payload)``
pushes an envelope to the connected client and returns its ``envelope_id``;
``await slack.wait_socket_ack(envelope_id)`` returns the client's ack frame.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["FakeSlack", "Failure"]

Params = dict[str, Any]

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
SECTION_TEXT_LIMIT = 3000
MESSAGE_TEXT_LIMIT = 40000
MAX_BLOCKS = 50


class SlackError(Exception):
    """An error answer of a Web API method (``{"ok": false, "error": ...}``)."""

    def __init__(self, error: str, status: int = 200, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.retry_after = retry_after


@dataclass
class Failure:
    """An injected error: answered to the next ``times`` calls of ``method``."""

    method: str
    error: str
    status: int = 200
    retry_after: int | None = None
    times: int = 1


def _default_users() -> dict[str, dict[str, Any]]:
    return {
        "U_CUSTOMER": {"name": "casey", "real_name": "Casey Customer", "is_bot": False},
        "U_AGENT": {"name": "alex", "real_name": "Alex Agent", "is_bot": False},
        "U_STRANGER": {"name": "sam", "real_name": "Sam Stranger", "is_bot": False},
        "UBOT": {"name": "switchboard", "real_name": "Switchboard", "is_bot": True},
    }


class FakeSlack:
    """The Slack Web API methods the hub calls, plus the Socket Mode WebSocket."""

    bot_user_id = "UBOT"
    bot_id = "BBOT"
    team_id = "T1"
    app_id = "A1"
    token = BOT_TOKEN
    app_token = APP_TOKEN

    def __init__(self) -> None:
        self.calls: list[tuple[str, Params]] = []
        self.users: dict[str, dict[str, Any]] = _default_users()
        self.members: dict[str, list[str]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.failures: list[Failure] = []
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._ts = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------
    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/"

    # -- what tests look at --------------------------------------------------------
    def called(self, method: str) -> list[Params]:
        return [params for name, params in self.calls if name == method]

    @property
    def posted(self) -> list[Params]:
        return self.called("chat.postMessage")

    @property
    def updated(self) -> list[Params]:
        return self.called("chat.update")

    @property
    def ephemeral(self) -> list[Params]:
        return self.called("chat.postEphemeral")

    def fail(
        self,
        method: str,
        error: str,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``error``."""
        self.failures.append(Failure(method, error, status, retry_after, times))

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Params], bool] | None = None,
        timeout: float = 5,  # noqa: ASYNC109 (the shared fake's API)
    ) -> Params:
        """The first call of ``method`` (matching ``predicate``), waiting for it."""
        async with asyncio.timeout(timeout):
            while True:
                for params in self.called(method):
                    if predicate is None or predicate(params):
                        return params
                self._changed.clear()
                await self._changed.wait()

    def add_message(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        """Store a message (e.g. a customer's) so conversations.replies returns it."""
        message = {"type": "message", "ts": self.next_ts(), **message}
        self.messages.setdefault(channel, []).append(message)
        return message

    def next_ts(self) -> str:
        micros = 1_700_000_000_000_000 + next(self._ts) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- HTTP ----------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append((method, params))
        self._changed.set()
        try:
            self._check_token(method, request)
            self._injected(method)
            handler = self._methods().get(method)
            if handler is None:
                raise SlackError("unknown_method", status=404)
            body = {"ok": True, **handler(params)}
        except SlackError as exc:
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": exc.error}, status=exc.status, headers=headers
            )
        return web.json_response(body)

    def _check_token(self, method: str, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise SlackError("not_authed")
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if auth.removeprefix("Bearer ") != wanted:
            raise SlackError("invalid_auth")

    def _injected(self, method: str) -> None:
        for failure in self.failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                raise SlackError(failure.error, failure.status, failure.retry_after)

    def _methods(self) -> dict[str, Callable[[Params], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._replies,
            "conversations.members": self._members,
            "apps.connections.open": self._connections_open,
        }

    # -- Web API methods -------------------------------------------------------------
    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake Team",
            "user": "switchboard",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: Params) -> dict[str, Any]:
        channel = _required(params, "channel")
        _check_content(params)
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": params.get("text", ""),
            "ts": ts,
        }
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": message}

    def _update(self, params: Params) -> dict[str, Any]:
        channel = _required(params, "channel")
        ts = _required(params, "ts")
        _check_content(params)
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                message["text"] = params.get("text", message.get("text", ""))
                if "blocks" in params:
                    message["blocks"] = params["blocks"]
                return {"channel": channel, "ts": ts, "text": message["text"], "message": message}
        raise SlackError("message_not_found")

    def _post_ephemeral(self, params: Params) -> dict[str, Any]:
        _required(params, "channel")
        _required(params, "user")
        _check_content(params)
        return {"message_ts": self.next_ts()}

    def _users_info(self, params: Params) -> dict[str, Any]:
        user_id = _required(params, "user")
        user = self.users.get(user_id)
        if user is None:
            raise SlackError("user_not_found")
        real_name = user.get("real_name", "")
        return {
            "user": {
                "id": user_id,
                "team_id": self.team_id,
                "name": user.get("name", ""),
                "real_name": real_name,
                "is_bot": bool(user.get("is_bot", False)),
                "deleted": False,
                "profile": {
                    "real_name": real_name,
                    "display_name": user.get("display_name", ""),
                },
            }
        }

    def _conversations_info(self, params: Params) -> dict[str, Any]:
        channel = _required(params, "channel")
        info = self.channels.get(channel)
        if info is None:
            info = {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_private": not channel.startswith("C"),
                "is_member": True,
            }
        return {"channel": info}

    def _replies(self, params: Params) -> dict[str, Any]:
        channel = _required(params, "channel")
        ts = str(_required(params, "ts"))
        thread = [
            m for m in self.messages.get(channel, [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        if not thread:
            raise SlackError("thread_not_found")
        return {"messages": thread, "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _members(self, params: Params) -> dict[str, Any]:
        channel = _required(params, "channel")
        return {
            "members": list(self.members.get(channel, [])),
            "response_metadata": {"next_cursor": ""},
        }

    def _connections_open(self, params: Params) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={uuid.uuid4().hex}"}

    # -- Socket Mode ---------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self._changed.set()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    ack = json.loads(msg.data)
                    self.socket_acks[str(ack.get("envelope_id"))] = ack
                    self._changed.set()
        finally:
            self._sockets.remove(ws)
        return ws

    @property
    def socket_connections(self) -> int:
        return len(self._sockets)

    async def wait_socket(self, timeout: float = 5) -> None:  # noqa: ASYNC109
        """Wait until a Socket Mode client is connected."""
        async with asyncio.timeout(timeout):
            while not self._sockets:
                self._changed.clear()
                await self._changed.wait()

    async def socket_send(
        self, payload: dict[str, Any], kind: str | None = None, retry_attempt: int = 0
    ) -> str:
        """Push an envelope (``events_api`` or ``interactive``) to the connected client."""
        await self.wait_socket()
        if kind is None:
            kind = "events_api" if payload.get("type") == "event_callback" else "interactive"
        envelope_id = uuid.uuid4().hex
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind == "interactive",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def wait_socket_ack(
        self, envelope_id: str, timeout: float = 5  # noqa: ASYNC109
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while envelope_id not in self.socket_acks:
                self._changed.clear()
                await self._changed.wait()
        return self.socket_acks[envelope_id]


# -- request parsing and checks --------------------------------------------------------


async def _params(request: web.Request) -> Params:
    params: Params = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            params.update(dict(await request.post()))
    for key in ("blocks", "attachments"):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass  # left as a string: _check_content rejects it as invalid_blocks
    return params


def _required(params: Params, key: str) -> Any:
    value = params.get(key)
    if value in (None, ""):
        raise SlackError("channel_not_found" if key == "channel" else "invalid_arguments")
    return value


def _check_content(params: Params) -> None:
    """Slack's own limits: text or blocks required, section text <= 3000, <= 50 blocks."""
    blocks = params.get("blocks")
    if not params.get("text") and not blocks:
        raise SlackError("no_text")
    if len(str(params.get("text", ""))) > MESSAGE_TEXT_LIMIT:
        raise SlackError("msg_too_long")
    if blocks is None:
        return
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            raise SlackError("invalid_blocks")
        text = block.get("text")
        if block["type"] == "section" and isinstance(text, dict):
            if len(str(text.get("text", ""))) > SECTION_TEXT_LIMIT:
                raise SlackError("invalid_blocks")
        if block["type"] == "actions" and len(block.get("elements", [])) > 25:
            raise SlackError("invalid_blocks")
