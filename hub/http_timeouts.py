"""HTTP read timeouts: a client that sends its request slowly is cut off.

- Request line and headers: aiohttp arms its keep-alive timer when a connection
  opens and again after each response, and closes the connection if no whole
  request has arrived when it fires. ``keepalive_timeout=[server] header_timeout_s``
  (see :func:`server_settings`) is therefore both the header timeout and the idle
  keep-alive limit; partial headers do not re-arm it.
- Body: :func:`body_timeout` reads a request's body (at most ``client_max_size``)
  before its handler runs, within ``[server] body_timeout_s``, or answers 408.
  WebSocket upgrades have no body and are not affected.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from hub.config import ServerConfig

__all__ = ["body_timeout", "server_settings"]


def server_settings(server: ServerConfig) -> dict[str, Any]:
    """Keyword arguments for ``web.AppRunner`` (passed on to aiohttp's RequestHandler)."""
    return {"keepalive_timeout": server.header_timeout_s}


def body_timeout(seconds: float) -> Middleware:
    """Middleware: the whole body within ``seconds`` (aiohttp keeps it for the handler)."""

    @web.middleware
    async def read_body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                raise web.HTTPRequestTimeout(text="request body too slow") from None
        return await handler(request)

    return read_body_in_time
