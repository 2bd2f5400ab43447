"""A fake shop API on 127.0.0.1: the system a shop's actions call.

``GET /api/orders/{order_id}`` answers an order as JSON (404 for an unknown
one); ``POST /api/returns`` opens a return, once per ``Idempotency-Key`` (the
same key gives back the same return). It records every request (method, raw
path, headers, body) and can be told to misbehave for the next requests:
:meth:`FakeShop.fail` (an HTTP status), :meth:`FakeShop.hang` (answer after
``seconds``), :meth:`FakeShop.garble` (a 200 whose body is not JSON).

    async with FakeShop() as shop:
        url = f"{shop.url}/api/orders/{{order_id}}"
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["ORDERS", "FakeShop", "Seen"]

ORDERS: dict[str, dict[str, Any]] = {
    "NW-10042": {"status": "shipped", "eta": "in 2 working days", "carrier": "DHL",
                 "tracking": "JD014600006452190042"},
    "NW-10043": {"status": "delivered", "delivered_days_ago": 12, "returnable": True,
                 "return_window_days": 30},
    "NW-10044": {"status": "delivered", "delivered_days_ago": 45, "returnable": False,
                 "return_window_days": 30},
    "NW-10045": {"status": "delayed", "eta": "next week", "carrier": "UPS"},
}


@dataclass
class Seen:
    """One request the shop received."""

    method: str
    path: str  # raw, still percent-encoded
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class FakeShop:
    orders: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(ORDERS))
    requests: list[Seen] = field(default_factory=list)
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency key
    port: int = 0
    _faults: list[tuple[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, status: int = 500, times: int = 1) -> None:
        self._faults += [("status", status)] * times

    def hang(self, seconds: float, times: int = 1) -> None:
        self._faults += [("hang", seconds)] * times

    def garble(self, times: int = 1) -> None:
        self._faults += [("garble", None)] * times

    def for_path(self, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    async def __aenter__(self) -> FakeShop:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/api/orders/{order_id}", self._order)
        app.router.add_post("/api/returns", self._return)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Seen(request.method, request.raw_path, headers, body))
        if self._faults:
            kind, value = self._faults.pop(0)
            if kind == "status":
                return web.json_response({"error": "exploded"}, status=value)
            if kind == "hang":
                await asyncio.sleep(value)
            if kind == "garble":
                return web.Response(text="<html>Bad gateway</html>", content_type="text/html")
        return await handler(request)

    async def _order(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        order = self.orders.get(order_id)
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"order_id": order_id, **order})

    async def _return(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        data = json.loads(await request.read() or b"{}")
        if data.get("order_id") not in self.orders:
            return web.json_response({"error": "no such order"}, status=404)
        if key not in self.returns:
            number = f"RMA-{len(self.returns) + 1:05d}"
            self.returns[key] = {"return_id": number, "order_id": data["order_id"],
                                 "free_label": data.get("reason") == "damaged"}
        return web.json_response(self.returns[key])
