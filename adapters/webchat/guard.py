"""What the webchat lets in: sockets per client address and in all, pages of other
sites, and the headers the chat page is served with.

- ``/ws`` refuses a browser page of another site with 403 (``Origin`` not in
  ``[channels.webchat] allowed_origins``, by default the hub's own host). A request
  without ``Origin`` is not a browser page and cross-site hijacking cannot use it.
- Past ``[server] max_connections`` sockets in all, or ``max_connections_per_ip``
  of one client address, a socket is closed with 1013 (try again later) right after
  its upgrade, so that a browser sees a close code and not an opaque failure.
- The page gets a Content-Security-Policy without inline script or style, with
  ``frame-ancestors`` from ``[channels.webchat] frame_ancestors``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from hub.config import ServerConfig, WebchatConfig

__all__ = ["TRY_AGAIN_LATER", "Admission", "origin_allowed", "page_headers", "static_headers"]

TRY_AGAIN_LATER = 1013
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


class Admission:
    """Counts this process's sockets, in all and per client address."""

    def __init__(self, server: ServerConfig) -> None:
        self.max_total = server.max_connections
        self.max_per_ip = server.max_connections_per_ip
        self.total = 0
        self.per_ip: Counter[str] = Counter()

    def refusal(self, client_ip: str) -> str | None:
        """Why one more socket from ``client_ip`` is refused, or None."""
        if self.total >= self.max_total:
            return "server full"
        if self.per_ip[client_ip] >= self.max_per_ip:
            return "too many connections from your address"
        return None

    @contextmanager
    def holding(self, client_ip: str) -> Iterator[None]:
        """Count one socket of ``client_ip`` for the duration of the block."""
        self.total += 1
        self.per_ip[client_ip] += 1
        try:
            yield
        finally:
            self.total -= 1
            self.per_ip[client_ip] -= 1
            if self.per_ip[client_ip] <= 0:
                del self.per_ip[client_ip]


def origin_allowed(config: WebchatConfig, request: web.BaseRequest) -> bool:
    """No ``Origin``: not a browser page. Else one of ``allowed_origins``, or by default
    the host the page itself was served from (any scheme: TLS may end at a proxy)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if config.allowed_origins:
        return origin in config.allowed_origins
    scheme, sep, host = origin.partition("://")
    return bool(sep) and scheme in ("http", "https") and host == request.host.lower()


def static_headers() -> dict[str, str]:
    """For every webchat response: no type sniffing, no referrer to other sites."""
    return {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def page_headers(config: WebchatConfig, host: str) -> dict[str, str]:
    """The chat page's: only its own script, style and socket (on ``host``, the Host it
    was asked for); framed only by ``frame_ancestors``."""
    ancestors = " ".join(config.frame_ancestors)
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    csp = "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self'{sockets}",  # 'self' covers ws: only in CSP 3 browsers
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {ancestors}",
    ))
    headers = {**static_headers(), "Content-Security-Policy": csp}
    legacy = {("'self'",): "SAMEORIGIN", ("'none'",): "DENY"}.get(config.frame_ancestors)
    if legacy:  # browsers without CSP 3; X-Frame-Options cannot name other sites
        headers["X-Frame-Options"] = legacy
    return headers
