"""The running service: store, stages, hub, adapters, HTTP server and hot reload.

``HubService`` is one async context manager; ``hub run`` enters it and waits.
Tests enter it with ``port = 0`` and a config built in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from functools import partial
from typing import Any

from aiohttp import web

from console import PREFIX as CONSOLE_PREFIX
from console import build_console
from experiments import Experiments
from feedback.desk import FeedbackDesk
from flows.actions import Actions
from flows.stage import FlowStage, flow_handoff_middleware
from hub.adapter import Adapter
from hub.config import Config, load_config
from hub.envelope import InboundMessage, OutboundMessage
from hub.errors import ConfigError
from hub.handoff import (
    HandoffDesk,
    HandoffGate,
    HandoffStage,
    offer_middleware,
    unstaffed_middleware,
)
from hub.http_timeouts import body_timeout, server_settings
from hub.hub import Hub
from hub.ingress import IngressLog, LocalLeases, ProcessInfo, new_process_id
from hub.ingress.setup import open_ingress
from hub.metrics import CONTENT_TYPE_LATEST, Metrics
from hub.preflight import preflight
from hub.stages import Stage
from hub.store import Store, open_store
from hub.watch import FileWatcher
from kb import KnowledgeStage
from privacy.retention import RetentionSweeper
from providers import LLMStage
from providers.gist import english_gist
from providers.tools import ToolBox
from routing.rules import RuleStage

__all__ = ["HUB_KEY", "HubService", "build_adapters", "build_app", "build_stages", "enter_stages"]

logger = logging.getLogger(__name__)

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub", Hub)

SHUTDOWN_TIMEOUT_S = 2.0  # HTTP handlers still running at shutdown, after the sockets closed


def build_stages(
    config: Config, store: Store, metrics: Metrics, desk: HandoffDesk | None = None
) -> list[Stage]:
    """The chain, cheapest first: hand-off gate, rules, flows, knowledge base (then the
    flows an FAQ entry starts), LLM, hand-off."""
    desk = desk or HandoffDesk(store)
    flows = FlowStage(store, Actions(metrics))
    return [
        HandoffGate(desk),
        RuleStage(),
        flows,
        KnowledgeStage.from_config(config),
        flows.starter(),
        LLMStage(store, metrics, config.llm, tools=ToolBox(flows.actions)),
        HandoffStage(desk),
    ]


async def enter_stages(stack: AsyncExitStack, stages: list[Stage]) -> None:
    """Start the stages that hold resources (the trained FAQ matcher, its file watch)."""
    for stage in stages:
        if isinstance(stage, AbstractAsyncContextManager):
            await stack.enter_async_context(stage)


def build_adapters(config: Config, hub: Hub, store: Store) -> list[Adapter]:
    """One adapter per enabled channel."""
    adapters: list[Adapter] = []
    if config.channels.webchat.enabled:
        from adapters.webchat import WebchatAdapter

        adapters.append(WebchatAdapter(config.channels.webchat, hub, store, server=config.server))
    if config.channels.telegram.enabled:
        from adapters.telegram import TelegramAdapter

        # reads $token_env (a missing token is a ConfigError naming the key)
        file = str(config.source or "config.toml")
        leader = hub.leases.leader("telegram-poll")  # several hubs: one polls at a time
        adapters.append(TelegramAdapter.from_config(
            config.channels.telegram, hub, store, file=file, leader=leader
        ))
    if config.channels.slack.enabled:
        from adapters.slack import SlackAdapter

        # reads the token env vars (a missing one is a ConfigError naming the key)
        adapters.append(SlackAdapter.from_config(config, hub, store))
    if config.channels.api.enabled:
        from adapters.api import ApiAdapter

        # reads the auth env vars (a missing one is a ConfigError naming the key)
        api = ApiAdapter.from_config(config, hub, store)
        hub.decision_listeners.append(api.book.on_decision)  # the answer, once it is sent
        hub.settled_listeners.setdefault(api.book.channel, []).append(api.book.on_settled)
        adapters.append(api)
    return adapters


def build_app(hub: Hub, adapters: list[Adapter]) -> web.Application:
    middlewares = [body_timeout(hub.config.server.body_timeout_s)]
    app = web.Application(client_max_size=1024 * 1024, middlewares=middlewares)
    app[HUB_KEY] = hub
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    for adapter in adapters:
        adapter.routes(app)
    console = build_console(hub, str(hub.config.source or "config.toml"))
    if console is not None:  # [admin] users: the operators' console at /admin
        app.add_subapp(CONSOLE_PREFIX, console)
    return app


async def _stop_accepting(site: web.BaseSite) -> None:
    await site.stop()
    logger.info("shutdown: no longer accepting connections")


async def _close_server(runner: web.AppRunner) -> None:
    await runner.cleanup()
    logger.info("shutdown: HTTP server closed")


async def _healthz(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    store_ok = await hub.store.ping()
    components: dict[str, Any] = {"store": {"status": "ok" if store_ok else "down"}}
    for name, adapter in hub.adapters.items():
        health = getattr(adapter, "health", None)
        components[name] = health() if health else {"status": "ok"}
    for stage in hub.chain.stages:
        health = getattr(stage, "health", None)
        if health is not None:
            components[stage.name] = health()
    components["ingress"] = await hub.ingress_health()
    status = overall_status(c.get("status") for c in components.values())
    body = {"status": status, "components": components}
    return web.json_response(body, status=503 if status in ("down", "starting") else 200)


def overall_status(statuses: Iterable[object]) -> str:
    """The hub's status from its components': the worst of ok < degraded < starting < down.

    "degraded" (an LLM tier failing, Telegram unreachable) keeps HTTP 200: rules,
    the FAQ and the other channels still answer, so a load balancer must not pull
    the hub; "starting" and "down" (the store) are 503. Anything unknown is down.
    """
    worst = 0
    for status in statuses:
        worst = max(worst, _SEVERITY.get(str(status), len(_SEVERITY) - 1))
    return list(_SEVERITY)[worst]


_SEVERITY = {"ok": 0, "degraded": 1, "starting": 2, "down": 3}


async def _metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    await hub.ingress_health()  # refreshes the lag and pending gauges
    return web.Response(body=hub.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


class HubService:
    """Everything ``hub run`` starts, started and stopped in order."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        log: IngressLog | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.config = config
        self.reuse_port = reuse_port  # several `hub run --workers` processes on one port
        self._given_store = store
        self._given_log = log
        self._stack = AsyncExitStack()
        self.hub: Hub
        self.desk: HandoffDesk
        self.feedback: FeedbackDesk
        self.experiments: Experiments
        self.adapters: list[Adapter] = []
        self.app: web.Application | None = None
        self.port: int = config.server.port
        self.process = ProcessInfo(new_process_id())

    async def __aenter__(self) -> HubService:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        started = time.monotonic()
        logger.info("shutting down")
        await self._stack.aclose()
        logger.info("shut down in %.1f s", time.monotonic() - started)

    async def _start(self) -> None:
        config = self.config
        checked = preflight(config)  # the same checks as `hub check`, before anything opens
        checked.log_warnings()
        checked.raise_errors()
        store = self._given_store or open_store(config.store)
        if self._given_store is None:
            self._stack.push_async_callback(store.close)
        metrics = Metrics()
        self.desk = HandoffDesk(store)
        stages = build_stages(config, store, metrics, desk=self.desk)
        if self._given_log is not None:
            log, leases = self._given_log, LocalLeases(self._given_log.partitions)
        else:
            log, leases = await open_ingress(config, store, self.process, metrics.lease_changed)
        self.hub = Hub(config, store, stages, metrics=metrics, log=log, leases=leases)
        await enter_stages(self._stack, stages)
        self.adapters = build_adapters(config, self.hub, store)
        for adapter in self.adapters:
            self.hub.register(adapter)
        self._connect_desk()
        self.feedback = FeedbackDesk.attach(self.hub, self.desk)  # ratings ([feedback])
        self.experiments = Experiments.attach(self.hub)  # [[experiments]]: per-turn config
        self._connect_notices(stages)
        for stage in stages:  # innermost: a hand-off during a flow carries its slots
            if isinstance(stage, FlowStage):
                self.hub.middleware.append(flow_handoff_middleware(stage))
        app = self.app = build_app(self.hub, self.adapters)
        runner = await self._runner(app)  # unwound after the adapters: their sockets close first
        for adapter in self.adapters:
            await adapter.start()
            self._stack.push_async_callback(adapter.stop)
        await self._serve(runner)  # unwound before the adapters: stop accepting first
        # Unwound before the server and the adapters: stop taking work, drain, release leases.
        self._stack.push_async_callback(self.hub.close)
        await self.hub.start()
        await self._stack.enter_async_context(self.desk.reminders())
        sweeper = RetentionSweeper(store, lambda: self.hub.config)  # [privacy] retention_days
        await self._stack.enter_async_context(sweeper.running())
        if config.source is not None:
            watcher = FileWatcher(config.source, self.reload)
            await self._stack.enter_async_context(watcher)

    def _connect_notices(self, stages: list[Stage]) -> None:
        """Stages that tell a customer something before deciding (the LLM queue's notice);
        the LLM stage also writes the agents' English gist of a hand-off."""
        for stage in stages:
            if hasattr(stage, "notify"):
                stage.notify = self._notify
            if isinstance(stage, LLMStage):
                self.desk.gist = partial(self._gist, stage)

    async def _gist(self, stage: LLMStage, conversation_id: str, lines: Sequence[str], language: str) -> str:
        return await english_gist(stage, self.hub.config.llm, conversation_id, lines, language)

    async def _notify(self, message: InboundMessage, text: str) -> None:
        """Send ``text`` now, outside the decision (not part of the answer or the outbox)."""
        adapter = self.hub.adapters.get(message.channel)
        if adapter is not None:
            await adapter.send(OutboundMessage.reply(message, text))

    def _connect_desk(self) -> None:
        """Hand-off: agents in Slack when configured; the hub applies hand-off decisions."""
        board = None
        slack = self.hub.adapters.get("slack")
        if slack is not None and self.config.handoff.agents_channel:
            from adapters.slack.agents import SlackAgents

            board = SlackAgents.attach(slack, self.desk)
        self.desk.connect(self.hub, board)
        self.hub.action_handler = self.desk.apply  # agents' events, from the ingress
        self.hub.middleware += [unstaffed_middleware(self.desk), offer_middleware(self.desk)]
        self.hub.decision_listeners.append(self.desk.on_decision)

    async def _runner(self, app: web.Application) -> web.AppRunner:
        """The HTTP server, not yet listening. Its cleanup waits at most SHUTDOWN_TIMEOUT_S
        for handlers still running once the adapters have closed their sockets."""
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
            **server_settings(self.config.server),  # header timeout, keep-alive limit
        )
        await runner.setup()
        self._stack.push_async_callback(_close_server, runner)
        return runner

    async def _serve(self, runner: web.AppRunner) -> None:
        server = self.config.server
        site = web.TCPSite(runner, server.host, server.port, reuse_port=self.reuse_port or None)
        await site.start()
        self._stack.push_async_callback(_stop_accepting, site)
        self.port = runner.addresses[0][1]
        self.process.url = self.url
        logger.info("serving on http://%s:%s", self.config.server.host, self.port)

    @property
    def url(self) -> str:
        return f"http://{self.config.server.host}:{self.port}"

    async def reload(self) -> bool:
        """Re-read the config file; keep the last good config if the edit is invalid."""
        assert self.config.source is not None
        try:
            config = load_config(self.config.source)
        except ConfigError as exc:
            logger.error("config not reloaded, the last good config keeps serving:\n%s", exc)
            self.hub.metrics.errors.labels("config").inc()
            return False
        self.config = config
        await self.hub.apply_config(config)
        logger.info("config reloaded from %s", config.source)
        return True
