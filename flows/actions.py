"""Actions: named calls to the shop's own systems, over HTTP or as Python plugins.

:class:`Actions` runs them for flows and for the LLM's tool calls alike:

* **HTTP** (``url``): ``{slot}`` placeholders in the URL are filled with the
  URL-quoted values; other arguments go in the query string (GET, DELETE) or
  as a JSON body. Every request is signed (:mod:`flows.signing`) when
  ``secret_env`` names a secret; non-GET requests carry an ``Idempotency-Key``
  that the caller derives from the conversation, the inbound message and the
  step, so a retry or a re-run never creates two returns. Timeouts,
  connection errors, 429 and 5xx are retried ``retries`` times with the same
  key. 404 and 410 raise :class:`~flows.errors.NotFound`; other 4xx and bad
  JSON raise :class:`~flows.errors.ActionFailed` at once.
* **Python** (``python = "package.module:function"`` or a name registered under
  the entry-point group ``switchboard.actions``): ``await function(args)``
  returns a JSON-like dict, or raises ``NotFound``.

``breaker_failures`` failures in a row open the action's circuit breaker for
``breaker_reset_s``; while open, calls fail at once (``circuit_open``); the
first call after that is a trial that closes it again on success. Every call
is logged (never with argument values, which may be personal data) and
counted in /metrics by action and outcome, with its latency.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from string import Formatter
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from prometheus_client import Counter, Histogram

from flows.config import ActionConfig
from flows.errors import ActionFailed, NotFound
from flows.signing import signature_headers
from hub.config import secret
from hub.metrics import Metrics

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionResult",
    "Actions",
    "CircuitBreaker",
    "idempotency_key",
    "url_fields",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "switchboard.actions"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRYABLE = {408, 425, 429}
_RETRY_OUTCOMES = ("timeout", "unreachable", "http_5xx", "throttled")
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

Plugin = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A successful call: the JSON answer as a mapping, and how it went."""

    action: str
    data: Mapping[str, Any]
    status: int = 200
    attempts: int = 1
    latency_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))


@dataclass
class CircuitBreaker:
    """N failures in a row open it for ``reset_s``; then one trial call decides."""

    failures_to_open: int
    reset_s: float
    failures: int = 0
    opened_at: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def succeeded(self) -> None:
        self.failures, self.opened_at = 0, None

    def failed(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.failures_to_open:
            self.opened_at = self.clock()


def idempotency_key(conversation_id: str, message_id: str, flow: str, step: str) -> str:
    """Stable for one step of one inbound message: a retry or a re-run sends the same key."""
    base = "\x1f".join((conversation_id, message_id, flow, step))
    return hashlib.sha256(base.encode()).hexdigest()[:40]


def url_fields(url: str) -> list[str]:
    """The ``{name}`` placeholders of an action URL."""
    return [name for _, name, _, _ in Formatter().parse(url) if name]


class Actions:
    """Runs actions; owns the HTTP session and one circuit breaker per action.

    An async context manager: the HTTP session opens on first use and closes
    on exit.
    """

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry
        self.calls = Counter(
            "switchboard_action_calls", "Action calls, by action and outcome",
            ["action", "outcome"], registry=registry,
        )
        self.latency = Histogram(
            "switchboard_action_latency_seconds", "Action call latency, retries included",
            ["action", "outcome"], buckets=_BUCKETS, registry=registry,
        )
        self.breakers: dict[str, CircuitBreaker] = {}
        self._session: aiohttp.ClientSession | None = None
        self._plugins: dict[str, Plugin] = {}

    async def __aenter__(self) -> Actions:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def breaker(self, name: str, config: ActionConfig) -> CircuitBreaker:
        found = self.breakers.get(name)
        if found is None or (found.failures_to_open, found.reset_s) != (
            config.breaker_failures, config.breaker_reset_s
        ):
            found = self.breakers[name] = CircuitBreaker(
                config.breaker_failures, config.breaker_reset_s
            )
        return found

    async def call(
        self,
        name: str,
        config: ActionConfig,
        args: Mapping[str, Any],
        *,
        idempotency_key: str = "",
    ) -> ActionResult:
        """Run action ``name``; raise ActionFailed or NotFound when it gives no answer."""
        breaker = self.breaker(name, config)
        started = time.perf_counter()
        if not breaker.allow():
            self._count(name, "circuit_open", started, 0)
            raise ActionFailed(name, "circuit_open", f"{breaker.failures} failures in a row")
        try:
            if config.url:
                result = await self._http(name, config, args, idempotency_key)
            else:
                result = await self._python(name, config, args)
        except NotFound:
            breaker.succeeded()  # the system answered: it is up
            self._count(name, "not_found", started, 1)
            raise
        except ActionFailed as exc:
            breaker.failed()
            self._count(name, exc.outcome, started, 1)
            raise
        breaker.succeeded()
        latency = self._count(name, "ok", started, result.attempts)
        return ActionResult(name, result.data, result.status, result.attempts, latency)

    def _count(self, name: str, outcome: str, started: float, attempts: int) -> float:
        latency = time.perf_counter() - started
        self.calls.labels(name, outcome).inc()
        self.latency.labels(name, outcome).observe(latency)
        log = logger.info if outcome in ("ok", "not_found") else logger.warning
        log("action %s: %s in %.0f ms (%d attempts)", name, outcome, latency * 1000, attempts)
        return latency

    # -- HTTP ----------------------------------------------------------------------
    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(raise_for_status=False)
        return self._session

    async def _http(
        self, name: str, config: ActionConfig, args: Mapping[str, Any], key: str
    ) -> ActionResult:
        request = _build_request(name, config, args, key)
        attempts = 0
        while True:
            attempts += 1
            try:
                status, data = await self._send(name, config, request)
            except ActionFailed as exc:
                if exc.outcome not in _RETRY_OUTCOMES or attempts > config.retries:
                    raise
                await asyncio.sleep(min(0.05 * 2**attempts, 1.0))
                continue
            return ActionResult(name, data, status, attempts)

    async def _send(
        self, name: str, config: ActionConfig, request: _Request
    ) -> tuple[int, dict[str, Any]]:
        headers = dict(request.headers)
        if config.secret_env:
            shared = secret(config.secret_env)
            if shared is None:
                raise ActionFailed(name, "error", f"${config.secret_env} (secret_env) is not set")
            headers.update(signature_headers(shared, request.body))
        timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        try:
            async with self._http_session().request(
                config.method, request.url, data=request.body or None, headers=headers,
                timeout=timeout, allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise ActionFailed(name, "timeout", f"no answer within {config.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise ActionFailed(name, "unreachable", type(exc).__name__) from None
        return status, _answer(name, status, raw)

    # -- Python plugins --------------------------------------------------------------
    async def _python(self, name: str, config: ActionConfig, args: Mapping[str, Any]) -> ActionResult:
        plugin = self._plugin(name, config.python)
        try:
            async with asyncio.timeout(config.timeout_s):
                data = await plugin(dict(args))
        except NotFound:
            raise
        except TimeoutError:
            raise ActionFailed(name, "timeout", f"no answer within {config.timeout_s:g} s") from None
        except Exception as exc:  # a plugin is third-party code: its failure is the action's
            logger.warning("action %s: plugin %s raised", name, config.python, exc_info=True)
            raise ActionFailed(name, "error", type(exc).__name__) from exc
        return ActionResult(name, _as_mapping(name, data))

    def _plugin(self, name: str, target: str) -> Plugin:
        found = self._plugins.get(target)
        if found is None:
            found = self._plugins[target] = load_plugin(name, target)
        return found


def load_plugin(name: str, target: str) -> Plugin:
    """The async function ``package.module:function``, or the entry point ``target``."""
    try:
        if ":" in target:
            module, _, attribute = target.partition(":")
            function = getattr(importlib.import_module(module), attribute)
        else:
            (point,) = [p for p in entry_points(group=ENTRY_POINT_GROUP) if p.name == target]
            function = point.load()
    except (ImportError, AttributeError, ValueError) as exc:
        raise ActionFailed(name, "error", f"cannot load plugin {target!r}: {exc}") from None
    if not asyncio.iscoroutinefunction(function):
        raise ActionFailed(name, "error", f"plugin {target!r} is not an async function")
    return function  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Request:
    url: str
    body: bytes
    headers: Mapping[str, str]


def _build_request(name: str, config: ActionConfig, args: Mapping[str, Any], key: str) -> _Request:
    in_path = url_fields(config.url)
    missing = [f for f in in_path if args.get(f) in (None, "")]
    if missing:
        raise ActionFailed(name, "error", f"no value for {', '.join(missing)} in the URL")
    url = config.url.format_map({f: quote(str(args[f]), safe="") for f in in_path})
    rest = {k: v for k, v in args.items() if k not in in_path}
    headers: dict[str, str] = {"Accept": "application/json"}
    for header, env in config.headers_env.items():
        value = secret(env)
        if value is None:
            raise ActionFailed(name, "error", f"${env} (headers_env.{header}) is not set")
        headers[header] = value
    body = b""
    if config.method in ("GET", "DELETE"):
        if rest:
            url += ("&" if "?" in url else "?") + urlencode({k: str(v) for k, v in rest.items()})
    else:
        body = json.dumps(rest, ensure_ascii=False, sort_keys=True).encode()
        headers["Content-Type"] = "application/json"
    if config.method != "GET" and key:
        headers[IDEMPOTENCY_HEADER] = key
    return _Request(url, body, headers)


def _answer(name: str, status: int, raw: bytes) -> dict[str, Any]:
    if status in (404, 410):
        raise NotFound(f"action {name!r}: HTTP {status}")
    if status >= 500:
        raise ActionFailed(name, "http_5xx", f"HTTP {status}")
    if status in _RETRYABLE:
        raise ActionFailed(name, "throttled", f"HTTP {status}")
    if status >= 400:
        raise ActionFailed(name, "http_4xx", f"HTTP {status}")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ActionFailed(name, "bad_json", f"HTTP {status} with a body that is not JSON") from None
    return _as_mapping(name, data)


def _as_mapping(name: str, data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, list):
        return {"items": data}
    if data is None:
        return {}
    if isinstance(data, str | int | float | bool):
        return {"value": data}
    raise ActionFailed(name, "bad_json", f"plugin returned {type(data).__name__}")
