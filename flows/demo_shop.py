"""The demo shop's order system, as two plugin actions (no server needed).

``make run`` wires them in config.toml as ``[actions.order_status]`` and
``[actions.create_return]`` with ``python = "flows.demo_shop:..."``. They read
``flows/demo_orders.toml`` (or the file named by ``$SWITCHBOARD_DEMO_ORDERS``)
on every call, so an edit shows at once. A plugin is an async function that
gets the slots (or the LLM's tool arguments) and returns a JSON-like dict; it
raises :class:`~flows.errors.NotFound` for an order that does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tomllib
from pathlib import Path
from typing import Any

from flows.errors import NotFound

__all__ = ["RETURN_WINDOW_DAYS", "create_return", "order_status"]

RETURN_WINDOW_DAYS = 30
_DEFAULT_FILE = Path(__file__).with_name("demo_orders.toml")


def _orders_file() -> Path:
    return Path(os.environ.get("SWITCHBOARD_DEMO_ORDERS") or _DEFAULT_FILE)


def _read_orders() -> dict[str, dict[str, Any]]:
    data = tomllib.loads(_orders_file().read_text(encoding="utf-8"))
    return {str(o["id"]).upper(): dict(o) for o in data.get("orders", [])}


async def _order(order_id: Any) -> dict[str, Any]:
    orders = await asyncio.to_thread(_read_orders)
    found = orders.get(str(order_id or "").strip().upper())
    if found is None:
        raise NotFound(f"no order {order_id!r}")
    return found


async def order_status(args: dict[str, Any]) -> dict[str, Any]:
    """The order's status, ETA and carrier; for delivered orders, whether it can be returned."""
    order = await _order(args.get("order_id"))
    days = order.get("delivered_days_ago")
    return {
        "order_id": order["id"],
        "status": order["status"],
        "eta": order.get("eta", ""),
        "carrier": order.get("carrier", ""),
        "tracking": order.get("tracking", ""),
        "items": list(order.get("items", [])),
        "delivered_days_ago": days,
        "returnable": order["status"] == "delivered" and days is not None
        and days <= RETURN_WINDOW_DAYS,
        "return_window_days": RETURN_WINDOW_DAYS,
    }


async def create_return(args: dict[str, Any]) -> dict[str, Any]:
    """Open a return; the same order and reason always give the same return number."""
    order = await _order(args.get("order_id"))
    reason = str(args.get("reason", ""))
    digest = hashlib.sha256(f"{order['id']}:{reason}".encode()).hexdigest()
    number = int(digest[:8], 16) % 100_000
    return {
        "return_id": f"RMA-{number:05d}",
        "order_id": order["id"],
        "reason": reason,
        "free_label": reason in ("damaged", "not as described"),
    }
