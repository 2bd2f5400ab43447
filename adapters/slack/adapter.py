"""Slack: customers in DMs, mentions and listed channels, over the Events API or Socket Mode.

slack-bolt's ``AsyncApp`` verifies signatures and timestamps (401 otherwise),
answers ``url_verification`` and routes events to the listeners below; the
hub's aiohttp server serves ``events_path`` for events and interactivity.
A listener only converts the event and calls ``ingress.submit`` (quick), then
Slack gets its acknowledgement; the answer is sent later from the hub's lane.
If the store cannot accept the message the answer is a 503, so Slack delivers
it again and nothing is lost; retries of messages the hub already has are
dropped by the hub's dedupe (message ids are Slack's own ``<channel>:<ts>``).

Extension points for the agents' desk (hand-off):

* ``on_agent_event(callback)``: ``message`` events of people in the agents
  channel (``handoff.agents_channel``) go to ``await callback(event)`` instead
  of becoming customer messages;
* ``on_action(prefix, callback)``: button presses whose ``action_id`` starts
  with ``prefix`` go to ``await callback(body)``;
* ``client``: the ``AsyncWebClient`` the adapter posts with.

Both callbacks run after the acknowledgement, in tasks that ``stop()`` waits for.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import BUTTON_ACTION_PREFIX, chosen_blocks, to_platform
from adapters.slack.inbound import (
    CHANNEL,
    action_to_envelope,
    conversation_of,
    edited_message,
    is_dm,
    is_from_bot,
    to_envelope,
)
from adapters.slack.outbound import post
from adapters.slack.users import UserNames
from hub.adapter import Ingress
from hub.config import Config, SlackConfig, required_secret, secret
from hub.envelope import Address, InboundMessage, OutboundMessage
from hub.errors import ConfigError, ConfigProblem, StoreUnavailable
from hub.locks import KeyedLocks
from hub.store import Store
from hub.tasks import stop_tasks

__all__ = ["ActionHandler", "AgentEventHandler", "SlackAdapter", "secret_problems"]

logger = logging.getLogger(__name__)

AgentEventHandler = Callable[[dict[str, Any]], Awaitable[None]]
ActionHandler = Callable[[dict[str, Any]], Awaitable[None]]

SOCKET_CONNECT_WAIT_S = 10.0
STOP_GRACE_S = 5.0


class _TokenNoticeFilter(logging.Filter):
    """Drop bolt's startup notice that $SLACK_BOT_TOKEN is unused: we pass the client."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOGGER = logging.getLogger(f"{__name__}.bolt")
BOLT_LOGGER.addFilter(_TokenNoticeFilter())


class SlackAdapter:
    """The Slack channel. Pass the ``AsyncWebClient`` in; secrets come from the caller."""

    name = CHANNEL

    def __init__(
        self,
        config: SlackConfig,
        ingress: Ingress,
        store: Store,
        *,
        client: AsyncWebClient,
        signing_secret: str = "",
        app_token: str = "",
        agents_channel: str = "",
    ) -> None:
        self.config = config
        self.ingress = ingress
        self.store = store
        self.client = client
        self.app_token = app_token
        self.agents_channel = agents_channel
        self.names = UserNames(client)
        self.app = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            process_before_response=True,  # listeners only submit; see module docstring
            name="switchboard",
            logger=BOLT_LOGGER,
        )
        self._agent_handlers: list[AgentEventHandler] = []
        self._action_handlers: list[tuple[str, ActionHandler]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._locks = KeyedLocks()
        self._socket: AsyncSocketModeHandler | None = None
        self._listen()

    @classmethod
    def from_config(cls, config: Config, ingress: Ingress, store: Store) -> SlackAdapter:
        """Build from the whole config, reading tokens from the environment."""
        section = config.channels.slack
        file = str(config.source or "config.toml")
        token = _required_secret(file, "bot_token_env", section.bot_token_env)
        if section.mode == "socket":
            signing_secret = secret(section.signing_secret_env) or ""
            app_token = _required_secret(file, "app_token_env", section.app_token_env)
        else:
            signing_secret = _required_secret(file, "signing_secret_env", section.signing_secret_env)
            app_token = ""
        client = AsyncWebClient(token=token, base_url=section.api_base)
        return cls(
            section,
            ingress,
            store,
            client=client,
            signing_secret=signing_secret,
            app_token=app_token,
            agents_channel=config.handoff.agents_channel,
        )

    # -- extension points ----------------------------------------------------------
    def on_agent_event(self, callback: AgentEventHandler) -> None:
        """Receive people's ``message`` events from the agents channel."""
        self._agent_handlers.append(callback)

    def on_action(self, prefix: str, callback: ActionHandler) -> None:
        """Receive ``block_actions`` bodies whose action_id starts with ``prefix``."""
        self._action_handlers.append((prefix, callback))

    # -- lifecycle -----------------------------------------------------------------
    def routes(self, app: web.Application) -> None:
        if self.config.mode == "events":
            app.router.add_post(self.config.events_path, self._events)

    async def start(self) -> None:
        if self.config.mode != "socket":
            return
        self._socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.client)
        connecting = asyncio.create_task(self._socket.connect_async())
        done, _ = await asyncio.wait({connecting}, timeout=SOCKET_CONNECT_WAIT_S)
        if connecting in done:
            connecting.result()
        else:
            logger.warning("slack socket mode not connected yet; still trying")
            self._track(connecting)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_S)
            await stop_tasks(pending)

    def health(self) -> dict[str, Any]:
        status = "ok"
        if self.config.mode == "socket":
            session = self._socket.client.current_session if self._socket else None
            status = "ok" if session is not None and not session.closed else "down"
        return {"status": status, "mode": self.config.mode}

    # -- outbound ------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> None:
        """Post ``message`` (split if long) in order with the conversation's others."""
        async with self._locks.hold(message.conversation_id):
            for call in to_platform(message):
                await post(self.client, call)

    async def typing(self, message: InboundMessage, on: bool) -> None:
        """Slack has no typing indicator for bots in conversations."""

    # -- inbound -------------------------------------------------------------------
    async def _events(self, request: web.Request) -> web.Response:
        """Events API and interactivity endpoint: bolt verifies, routes and acks."""
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, AttributeError, TypeError):
            # bolt parses the body (and reads it as an object) before checking anything
            logger.warning("slack: refused a request whose body is not a JSON object or a form")
            return web.Response(status=400, text="malformed body")
        response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    def _listen(self) -> None:
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_message)
        self.app.action(re.compile(".*"))(self._on_action)
        self.app.event(re.compile(".*"))(self._on_other_event)

    async def _on_message(
        self, event: dict[str, Any], context: AsyncBoltContext
    ) -> BoltResponse | None:
        bot_user_id = context.bot_user_id
        edited = edited_message(event, bot_user_id)
        if edited is None and is_from_bot(event, bot_user_id):
            return None  # bots, Slackbot, joins, deletions, unfurls...: no customer wrote
        if self.agents_channel and event.get("channel") == self.agents_channel:
            if event.get("type") == "message" and edited is None:
                return await self._agents_first(event)  # durable before Slack's 200
            return None
        if not await self._is_customers(edited or event, mention=bot_user_id if edited else None):
            return None
        name = await self.names.get(str((edited or event).get("user", "")))
        message = to_envelope(
            event,
            bot_user_id=bot_user_id,
            thread_replies=self.config.thread_replies,
            user_name=name,
        )
        return await self._submit(message) if message is not None else None

    async def _is_customers(self, event: dict[str, Any], mention: str | None = None) -> bool:
        """DMs, mentions, listed channels, and threads the bot already serves.

        An edit comes as a ``message`` event only, so ``mention`` (the bot's user
        id) makes an edited text that mentions the bot count as a mention.
        """
        channel = str(event.get("channel") or "")
        if event.get("type") == "app_mention" or is_dm(channel, event.get("channel_type")):
            return True
        if mention and f"<@{mention}" in str(event.get("text") or ""):
            return True
        if channel in self.config.channels:
            return True
        thread_ts = event.get("thread_ts")
        if not thread_ts or not self.config.thread_replies:
            return False
        root = str(thread_ts)
        thread, _ = conversation_of(channel, root, root, dm=False, thread_replies=True)
        return await self.store.conversation_at(str(Address(CHANNEL, thread))) is not None

    async def _on_action(
        self, ack: Any, body: dict[str, Any]
    ) -> BoltResponse | None:
        actions = body.get("actions") or [{}]
        action_id = str(actions[0].get("action_id", ""))
        for prefix, handler in self._action_handlers:
            if action_id.startswith(prefix):
                refused = await self._agents_first(body, handler)
                if refused is None:
                    await ack()
                return refused
        if not action_id.startswith(BUTTON_ACTION_PREFIX):
            await ack()
            return None
        user = str((body.get("user") or {}).get("id", ""))
        message = action_to_envelope(
            body, thread_replies=self.config.thread_replies, user_name=await self.names.get(user)
        )
        refused = await self._submit(message) if message is not None else None
        if refused is None:
            await ack()
            if message is not None:
                self._track(asyncio.create_task(self._mark_chosen(body)))
        return refused

    async def _mark_chosen(self, body: dict[str, Any]) -> None:
        """Replace the pressed message's buttons with the choice (no double presses)."""
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        blocks, ts = message.get("blocks"), message.get("ts")
        if not (isinstance(blocks, list) and channel and ts):
            return
        label = str(((body.get("actions") or [{}])[0].get("text") or {}).get("text", ""))
        try:
            await self.client.chat_update(
                channel=channel, ts=ts, text=message.get("text") or label,
                blocks=chosen_blocks(blocks, label),
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            logger.info("could not mark the choice on %s/%s: %s", channel, ts, type(exc).__name__)

    async def _on_other_event(self) -> None:
        """Events we are subscribed to but do not use are acknowledged, not retried."""

    async def _agents_first(
        self, payload: dict[str, Any], handler: Any = None
    ) -> BoltResponse | None:
        """Run the agents' handlers (they submit to the durable ingress) before the ack;
        a 503 if the ingress cannot take it, so Slack sends it again."""
        handlers = [handler] if handler is not None else self._agent_handlers
        try:
            for run in handlers:
                await run(payload)
        except StoreUnavailable as exc:
            logger.error("slack agent event not accepted, Slack will retry: %s", exc)
            return BoltResponse(status=503, body="store unavailable, retry later")
        return None

    async def _submit(self, message: InboundMessage) -> BoltResponse | None:
        """Hand to the hub; a 503 (not an ack) if it cannot accept, so Slack retries."""
        try:
            accepted = await self.ingress.submit(message)
        except StoreUnavailable as exc:
            logger.error("slack message %s not accepted, Slack will retry: %s",
                         message.message_id, exc)
            return BoltResponse(status=503, body="store unavailable, retry later")
        if not accepted:
            logger.info("slack message %s already handled", message.message_id)
        return None

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("slack handler failed", exc_info=task.exception())


def secret_problems(config: Config) -> list[ConfigProblem]:
    """What :meth:`SlackAdapter.from_config` would refuse, for ``hub check`` and ``hub run``."""
    section, file = config.channels.slack, str(config.source or "config.toml")
    second = "app_token_env" if section.mode == "socket" else "signing_secret_env"
    problems: list[ConfigProblem] = []
    for key in ("bot_token_env", second):
        try:
            _required_secret(file, key, getattr(section, key))
        except ConfigError as exc:
            problems += exc.problems
    return problems


def _required_secret(file: str, key: str, env_name: str) -> str:
    return required_secret(file, f"channels.slack.{key}", env_name)
