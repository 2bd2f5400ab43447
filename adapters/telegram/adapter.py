"""Telegram: private chats (and groups when addressed) through the Bot API, with aiogram.

Receiving: long polling (``mode = "polling"``, offset kept in the store) or a
webhook on the hub's server (``mode = "webhook"``, checked against the secret
token Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``). Either way an
update becomes an envelope whose message id is ``u<update_id>``, so an update
delivered twice is dropped by the hub's dedupe.

Sending: ``sendMessage`` in plain text, split at 4096 characters, buttons as an
inline keyboard, paced per chat and overall (:mod:`adapters.telegram.ratelimit`),
429s retried after ``retry_after`` a bounded number of times. A chat that
blocked the bot (403) or a request Telegram rejects (400) raises
PermanentDeliveryError, which the hub records on the conversation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import re
from collections.abc import Coroutine
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import Update
from aiogram.utils.token import TokenValidationError, validate_token
from aiohttp import web
from pydantic import ValidationError

from adapters.telegram.convert import (
    ALLOWED_UPDATES,
    CHANNEL,
    BotIdentity,
    to_envelope,
    to_platform,
    validation_summary,
)
from adapters.telegram.polling import Backoff, Poller
from adapters.telegram.ratelimit import SendPacer
from hub.adapter import Ingress
from hub.config import Config, TelegramConfig, required_secret
from hub.envelope import Button, InboundMessage, OutboundMessage
from hub.errors import (
    ConfigError,
    ConfigProblem,
    DeliveryError,
    PermanentDeliveryError,
    StoreError,
)
from hub.ingress import Leader
from hub.locks import KeyedLocks
from hub.store import Keys, Store
from hub.tasks import stop_tasks

__all__ = ["SECRET_HEADER", "TelegramAdapter", "build_bot", "secret_problems"]

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
CALLBACK_MAX_BYTES = 64
CALLBACK_PREFIX = "sb:"
CALLBACK_TTL_S = 90 * 24 * 3600
STARTUP_ATTEMPTS = 4
MAX_RETRY_AFTER_S = 120
PERMANENT = (TelegramForbiddenError, TelegramBadRequest, TelegramMigrateToChat)
TRANSIENT = (TelegramNetworkError, TelegramServerError, TelegramNotFound, TelegramUnauthorizedError)


def build_bot(token: str, api_base: str) -> Bot:
    """An aiogram Bot talking to ``api_base`` (Telegram's, or a self-hosted Bot API server)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(token, session=session)


class TelegramAdapter:
    """The Telegram channel. ``bot`` is passed in; the adapter closes its session on stop."""

    name = CHANNEL

    def __init__(
        self,
        config: TelegramConfig,
        ingress: Ingress,
        store: Store,
        bot: Bot,
        *,
        webhook_secret: str | None = None,
        config_file: str = "config.toml",
        leader: Leader | None = None,
    ) -> None:
        self.config = config
        self.config_file = config_file
        self.ingress = ingress
        self.store = store
        self.bot = bot
        self.webhook_secret = webhook_secret
        self.me = BotIdentity(id=bot.id, username="")
        self.ready = asyncio.Event()  # set once connected to Telegram
        self._pacer = SendPacer(config.per_chat_per_s, config.global_per_s)
        self._locks = KeyedLocks()  # a retried reply is never overtaken in its chat
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller = Poller(
            bot,
            store,
            self.receive,
            timeout_s=config.poll_timeout_s,
            allowed_updates=list(ALLOWED_UPDATES),
            leader=leader,
        )
        self.leader = self._poller.leader

    @classmethod
    def from_config(
        cls,
        config: TelegramConfig,
        ingress: Ingress,
        store: Store,
        *,
        file: str = "config.toml",
        leader: Leader | None = None,
    ) -> TelegramAdapter:
        """Read the token (and webhook secret) from the environment and build the Bot."""
        token = _bot_token(config, file)
        webhook_secret = None
        if config.mode == "webhook":
            webhook_secret = _webhook_secret(config, file)
        bot = build_bot(token, config.api_base)
        return cls(
            config, ingress, store, bot, webhook_secret=webhook_secret, config_file=file,
            leader=leader,
        )

    # -- lifecycle -------------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        if self.config.mode == "webhook":
            app.router.add_post(self.config.webhook_path, self._webhook)

    async def start(self) -> None:
        """getMe, then setWebhook or deleteWebhook; keeps trying in the background if Telegram is down."""
        try:
            if self.config.mode == "polling":
                await self._poller.load()
            if await self._connect(STARTUP_ATTEMPTS):
                return
        except BaseException:
            await self.bot.session.close()
            raise
        logger.error("telegram: not connected yet; retrying in the background")
        self._spawn(self._connect_later())

    async def stop(self) -> None:
        await stop_tasks(list(self._tasks))
        await self.leader.stop()  # another process starts polling at once
        await self.bot.session.close()

    @property
    def connected(self) -> bool:
        return self.ready.is_set()

    def health(self) -> dict[str, Any]:
        problem = self._poller.last_error if self.config.mode == "polling" else None
        status = "ok" if self.connected and problem is None else "degraded"
        return {"status": status, "mode": self.config.mode, "connected": self.connected,
                "last_error": problem}

    async def _connect(self, attempts: int | None) -> bool:
        """Set up with Telegram, honouring 429s; False if ``attempts`` ran out."""
        backoff = Backoff()
        attempt = 0
        while attempts is None or attempt < attempts:
            attempt += 1
            pause = await self._try_setup()
            if pause is None:
                self._connected()
                return True
            if attempts is None or attempt < attempts:
                await asyncio.sleep(max(pause, backoff.next()))
        return False

    async def _connect_later(self) -> None:
        try:
            await self._connect(None)
        except ConfigError as exc:
            logger.error("telegram channel disabled until restart:\n%s", exc)

    async def _try_setup(self) -> float | None:
        """One setup round: None on success, else the pause Telegram asked for (0 = ours)."""
        try:
            await self._setup()
        except TelegramRetryAfter as exc:
            logger.warning("telegram setup rate limited: retry after %s s", exc.retry_after)
            return float(exc.retry_after)
        except (TelegramUnauthorizedError, TelegramNotFound) as exc:
            message = f"Telegram rejected the bot token: {exc.message}"
            raise _config_error(self.config_file, "token_env", message) from None
        except TelegramBadRequest as exc:
            message = f"setWebhook failed: {exc.message}"
            raise _config_error(self.config_file, "webhook_url", message) from None
        except AiogramError as exc:
            logger.warning("telegram setup failed: %s: %s", type(exc).__name__, exc)
            return 0.0
        return None

    async def _setup(self) -> None:
        user = await self.bot.get_me()
        self.me = BotIdentity(id=user.id, username=user.username or "")
        if self.config.mode == "webhook":
            await self.bot.set_webhook(
                url=self.config.webhook_url,
                secret_token=self.webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            logger.info("telegram webhook registered")
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)

    def _connected(self) -> None:
        self.ready.set()
        logger.info("telegram connected as @%s in %s mode", self.me.username, self.config.mode)
        if self.config.mode == "polling":
            self._spawn(self._poller.run())

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- inbound -----------------------------------------------------------------------
    async def receive(self, update: Update) -> None:
        """Hand one update to the hub; raises StoreError if it could not be accepted."""
        envelope = to_envelope(update, self.me)
        if envelope is not None:
            envelope = await self._resolve_button(envelope)
            await self.ingress.submit(envelope)
        if update.callback_query is not None:
            self._spawn(self._answer_callback(update.callback_query.id))

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(callback_query_id=query_id)
        except AiogramError as exc:
            logger.info("telegram: callback query not answered: %s", exc)

    async def _resolve_button(self, envelope: InboundMessage) -> InboundMessage:
        """A button press whose value was too long for callback_data: the stored value."""
        if not envelope.metadata.get("button") or not envelope.text.startswith(CALLBACK_PREFIX):
            return envelope
        value = await self.store.get(Keys.telegram_callback(envelope.text))
        if not isinstance(value, str):
            return envelope
        return dataclasses.replace(envelope, text=value)

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.webhook_secret or not hmac.compare_digest(given, self.webhook_secret):
            logger.warning("telegram webhook: request without the right secret token refused")
            return web.Response(status=401, text="unauthorized")
        body = await _json_body(request)
        update_id = body.get("update_id") if isinstance(body, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            logger.warning("telegram webhook: refused a body that is not an update "
                           "(no integer update_id) (400)")
            return web.Response(status=400, text="not a Telegram update")
        try:
            update = Update.model_validate(body, context={"bot": self.bot})
        except ValidationError as exc:
            return _invalid_update(update_id, exc)
        try:
            await self.receive(update)
        except StoreError as exc:
            logger.error("telegram webhook: store unavailable, Telegram will redeliver: %s", exc)
            return web.Response(status=503, text="try again")
        return web.Response(status=200)

    # -- outbound ----------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> None:
        """Deliver in order (all parts, buttons on the last), paced and retried."""
        data = await self._callback_data(message.buttons)
        calls = to_platform(message, data.__getitem__)
        chat = message.conversation_id
        async with self._locks.hold(chat):
            for call in calls:
                await self._send_one(chat, call)

    async def typing(self, message: InboundMessage, on: bool) -> None:
        """Show "typing..." (Telegram clears it by itself when the reply arrives)."""
        if not on:
            return
        thread = int(message.thread) if message.thread and message.thread.isdigit() else None
        try:
            await self.bot.send_chat_action(
                chat_id=int(message.conversation_id), action="typing", message_thread_id=thread
            )
        except AiogramError as exc:
            logger.info("telegram: typing action not sent: %s", exc)

    async def _send_one(self, chat: str, call: SendMessage) -> None:
        last: AiogramError | None = None
        for attempt in range(self.config.max_send_attempts):
            await self._pacer.wait(chat)
            try:
                await self.bot(call)
            except TelegramRetryAfter as exc:
                if exc.retry_after > MAX_RETRY_AFTER_S:
                    raise DeliveryError(f"telegram asks to wait {exc.retry_after} s") from exc
                logger.info("telegram: 429 for chat %s, retry after %s s", chat, exc.retry_after)
                self._pacer.back_off(chat, exc.retry_after)
                last = exc
            except PERMANENT as exc:
                raise PermanentDeliveryError(f"telegram refused: {exc.message}") from exc
            except TRANSIENT as exc:
                await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
                last = exc
            else:
                self._pacer.sent(chat)
                return
        raise DeliveryError(
            f"telegram: gave up after {self.config.max_send_attempts} attempts: {last}"
        )

    async def _callback_data(self, buttons: tuple[Button, ...]) -> dict[str, str]:
        """callback_data per button value; values over 64 bytes are stored under a short key."""
        data: dict[str, str] = {}
        for button in buttons:
            value = button.value
            if len(value.encode()) <= CALLBACK_MAX_BYTES and not value.startswith(CALLBACK_PREFIX):
                data[value] = value
                continue
            short = CALLBACK_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:32]
            try:
                await self.store.set(Keys.telegram_callback(short), value, ttl_s=CALLBACK_TTL_S)
            except StoreError as exc:
                raise DeliveryError("could not keep a long button value") from exc
            data[value] = short
        return data


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _invalid_update(update_id: int, exc: ValidationError) -> web.Response:
    """400 (logged) for a malformed update of a kind the hub handles; 200 for one of
    another kind, which Telegram would otherwise re-send for hours to no use."""
    kinds = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
    if not set(kinds) & {"update_id", *ALLOWED_UPDATES}:
        logger.info("telegram update %s: a malformed %s update, not a kind the hub handles",
                    update_id, "/".join(kinds))
        return web.Response(status=200)
    logger.warning("telegram webhook: refused update %s (400), %s",
                   update_id, validation_summary(exc))
    return web.Response(status=400, text="not a Telegram update")


def secret_problems(config: Config) -> list[ConfigProblem]:
    """What :meth:`TelegramAdapter.from_config` would refuse, for ``hub check`` and ``hub run``."""
    section, file = config.channels.telegram, str(config.source or "config.toml")
    readers = [_bot_token, _webhook_secret] if section.mode == "webhook" else [_bot_token]
    problems: list[ConfigProblem] = []
    for read in readers:
        try:
            read(section, file)
        except ConfigError as exc:
            problems += exc.problems
    return problems


def _bot_token(config: TelegramConfig, file: str) -> str:
    token = required_secret(file, "channels.telegram.token_env", config.token_env)
    try:
        validate_token(token)
    except TokenValidationError:
        message = f"${config.token_env} is not a bot token (expected 123456:ABC...)"
        raise _config_error(file, "token_env", message) from None
    return token


def _webhook_secret(config: TelegramConfig, file: str) -> str:
    value = required_secret(file, "channels.telegram.secret_token_env", config.secret_token_env)
    if not SECRET_SHAPE.match(value):
        raise _config_error(
            file, "secret_token_env", "the secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    return value


def _config_error(file: str, key: str, message: str) -> ConfigError:
    return ConfigError([ConfigProblem(file, f"channels.telegram.{key}", message)])
