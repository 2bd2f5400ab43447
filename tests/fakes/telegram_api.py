"""A fake Telegram Bot API server: an aiohttp app on 127.0.0.1 that speaks the wire protocol.

It answers ``POST /bot<token>/<method>`` the way api.telegram.org does:
parameters as form fields (what aiogram sends: ``chat_id`` as a string,
``reply_markup`` as a JSON string), a query string or a JSON body; replies
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ...,
"description": ..., "parameters": {"retry_after": n}}``.

Tests queue updates for getUpdates (which confirms updates below ``offset``
and long-polls), post updates to the registered webhook, inject failures
(429 with retry_after, 403 for a blocked bot) and read every call back with
its parsed parameters.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["BOT", "TOKEN", "Call", "FakeTelegram", "Failure"]

TOKEN = "123456:TEST-fake-token_abc"
BOT = {"id": 123456, "is_bot": True, "first_name": "Switchboard", "username": "switchboard_test_bot"}
JSON_FIELDS = {"reply_markup", "allowed_updates", "reply_parameters", "link_preview_options"}
INT_FIELDS = {"chat_id", "offset", "limit", "timeout", "message_thread_id", "max_connections"}
MAX_TEXT = 4096


@dataclass
class Call:
    """One request the fake received, with its parameters parsed as Telegram would."""

    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Failure:
    """An injected error for the next ``times`` calls of ``method`` (to ``chat_id``, if set)."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    times: int = 1
    chat_id: int | None = None

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        if self.times <= 0 or self.method != method:
            return False
        return self.chat_id is None or params.get("chat_id") == self.chat_id

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class FakeTelegram:
    """The fake server. Use ``async with FakeTelegram.running() as tg``."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        self.webhook: dict[str, Any] = {}
        self.base_url = ""
        self.polls = 0  # getUpdates requests started
        self.polling_now = 0  # getUpdates requests in progress
        self.conflicts = 0  # getUpdates started while another was running (409, as Telegram)
        self.delivered: list[int] = []  # update ids handed out by getUpdates, in order
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._next_message_id = 1
        self._changed = asyncio.Event()
        self._closing = False

    @classmethod
    @asynccontextmanager
    async def running(cls, token: str = TOKEN) -> AsyncIterator[FakeTelegram]:
        fake = cls(token)
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", fake._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield fake
        finally:
            await fake._close()
            await runner.cleanup()

    # -- test controls ---------------------------------------------------------------
    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Add an update for getUpdates (an ``update_id`` is assigned); returns it."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        self._pending.append(update)
        self._notify()
        return update

    def new_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """An update with a fresh ``update_id``, not queued (for webhook delivery)."""
        update = {"update_id": self._next_update_id, **update}
        self._next_update_id += 1
        return update

    def redeliver(self, *updates: dict[str, Any]) -> None:
        """Queue already-seen updates again (Telegram redelivers after a crash)."""
        self._pending.extend(updates)
        self._pending.sort(key=lambda u: u["update_id"])
        self._notify()

    def fail(self, method: str, status: int, description: str, **kwargs: Any) -> Failure:
        failure = Failure(method, status, description, **kwargs)
        self.failures.append(failure)
        return failure

    def rate_limit(self, method: str = "sendMessage", retry_after: int = 1, **kwargs: Any) -> Failure:
        description = f"Too Many Requests: retry after {retry_after}"
        return self.fail(method, 429, description, retry_after=retry_after, **kwargs)

    def block(self, chat_id: int) -> Failure:
        """The user blocked the bot: every sendMessage to ``chat_id`` gets 403."""
        return self.fail("sendMessage", 403, "Forbidden: bot was blocked by the user",
                         chat_id=chat_id, times=10**9)

    async def post_webhook(
        self, update: dict[str, Any], secret: str | None = None, url: str | None = None
    ) -> int:
        """POST ``update`` to the registered webhook as Telegram does; the HTTP status."""
        url = url or self.webhook["url"]
        token = self.webhook.get("secret_token") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=update, headers=headers) as resp:
                return resp.status

    # -- reading back ------------------------------------------------------------------
    def called(self, method: str, ok: bool | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage calls (to ``chat_id``), in arrival order."""
        return [c for c in self.called("sendMessage", ok=True)
                if chat_id is None or c.params["chat_id"] == chat_id]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.params["text"] for c in self.sent(chat_id)]

    async def wait_for(self, check: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``check()`` holds (re-checked after every call); TimeoutError if not."""
        async with asyncio.timeout(timeout):
            await self._until(check)

    async def _until(self, check: Callable[[], bool]) -> None:
        while not check():
            await self._changed.wait()

    async def wait_sent(
        self, count: int, chat_id: int | None = None, timeout: float = 10.0  # noqa: ASYNC109
    ) -> list[Call]:
        await self.wait_for(lambda: len(self.sent(chat_id)) >= count, timeout)
        return self.sent(chat_id)

    # -- the API -----------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._reply(None, {}, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.match_info["method"]
        params = await _params(request)
        handler = METHODS.get(method.lower())
        if handler is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
            return self._reply(method, params, 404, body)
        failure = next((f for f in self.failures if f.matches(handler.__name__[1:], params)), None)
        if failure is not None:
            failure.times -= 1
            return self._reply(method, params, failure.status, failure.body())
        status, result = await handler(self, params)
        body = {"ok": True, "result": result} if status == 200 else result
        return self._reply(method, params, status, body)

    def _reply(self, method: str | None, params: dict[str, Any], status: int, body: dict[str, Any]) -> web.Response:
        if method is not None:
            self.calls.append(Call(_canonical(method), params, status))
            self._notify()
        return web.json_response(body, status=status)

    def _notify(self) -> None:
        """Wake everything waiting for a change (each waiter re-checks its condition)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _close(self) -> None:
        self._closing = True
        self._notify()

    def _bad(self, description: str) -> tuple[int, dict[str, Any]]:
        return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}

    # methods (the name after the underscore is the canonical Bot API name)
    async def _getMe(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, {**BOT, "can_join_groups": True, "can_read_all_group_messages": False,
                     "supports_inline_queries": False}

    async def _getUpdates(self, params: dict[str, Any]) -> tuple[int, Any]:
        if self.webhook.get("url"):
            return 409, {"ok": False, "error_code": 409, "description":
                         "Conflict: can't use getUpdates method while webhook is active; "
                         "use deleteWebhook to delete the webhook first"}
        if self.polling_now:
            self.conflicts += 1
            return 409, {"ok": False, "error_code": 409, "description":
                         "Conflict: terminated by other getUpdates request; make sure that "
                         "only one bot instance is running"}
        self.polls += 1
        self.polling_now += 1
        try:
            return await self._long_poll(params)
        finally:
            self.polling_now -= 1

    async def _long_poll(self, params: dict[str, Any]) -> tuple[int, Any]:
        self._notify()
        offset = params.get("offset")
        if offset is not None:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        try:
            async with asyncio.timeout(params.get("timeout") or 0.01):
                await self._until(lambda: bool(self._pending) or self._closing)
        except TimeoutError:
            pass
        batch = self._pending[:limit]
        self.delivered.extend(u["update_id"] for u in batch)
        return 200, batch

    async def _sendMessage(self, params: dict[str, Any]) -> tuple[int, Any]:
        text = params.get("text") or ""
        if not text.strip():
            return self._bad("message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
            return self._bad("message is too long")
        if params.get("parse_mode"):
            return self._bad("this fake expects plain text")
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    return self._bad("BUTTON_DATA_INVALID")
        message_id, self._next_message_id = self._next_message_id, self._next_message_id + 1
        return 200, {"message_id": message_id, "date": int(time.time()), "from": BOT,
                     "chat": {"id": params["chat_id"], "type": "private"}, "text": text}

    async def _sendChatAction(self, params: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, Any]:
        if not params.get("callback_query_id"):
            return self._bad("query is too old and response timeout expired or query ID is invalid")
        return 200, True

    async def _setWebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        url = params.get("url") or ""
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            return self._bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": params.get("secret_token"),
                        "allowed_updates": params.get("allowed_updates")}
        return 200, True

    async def _deleteWebhook(self, params: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._pending = []
        return 200, True


METHODS = {
    name[1:].lower(): getattr(FakeTelegram, name)
    for name in ("_getMe", "_getUpdates", "_sendMessage", "_sendChatAction",
                 "_answerCallbackQuery", "_setWebhook", "_deleteWebhook")
}


def _canonical(method: str) -> str:
    handler = METHODS.get(method.lower())
    return handler.__name__[1:] if handler else method


async def _params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string, a form (urlencoded or multipart) or JSON."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw.update(await request.json())
    elif request.can_read_body:
        raw.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return {key: _decode(key, value) for key, value in raw.items()}


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_FIELDS:
        return json.loads(value)
    if key in INT_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    return value


# -- update builders -----------------------------------------------------------------------

def user(user_id: int, first_name: str = "Ada", **extra: Any) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, **extra}


def message(
    chat_id: int, text: str | None = None, *, chat_type: str = "private", from_id: int | None = None,
    message_id: int = 1, **extra: Any
) -> dict[str, Any]:
    """A ``message`` update body (queue it with ``FakeTelegram.queue``)."""
    body: dict[str, Any] = {
        "message_id": message_id, "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type, **({"title": "Group"} if chat_type != "private" else {})},
        "from": user(from_id or abs(chat_id)), **extra,
    }
    if text is not None:
        body["text"] = text
    return {"message": body}


def button_press(chat_id: int, data: str, *, query_id: str = "cq1", message_id: int = 1) -> dict[str, Any]:
    """A ``callback_query`` update: the customer pressed an inline button."""
    return {"callback_query": {
        "id": query_id, "from": user(chat_id), "chat_instance": "ci1", "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "from": BOT,
                    "chat": {"id": chat_id, "type": "private"}, "text": "..."},
    }}
