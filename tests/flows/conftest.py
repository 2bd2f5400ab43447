"""The demo's flows (from the shipped config.toml) against a fake shop on 127.0.0.1."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hub.config import Config
from tests.fakes.shop_api import FakeShop
from tests.harness import make_config

ROOT = Path(__file__).resolve().parents[2]
SECRET = "shh-shared-with-the-shop"


def demo_sections() -> dict[str, Any]:
    """The shipped config.toml's rules, [flows] and [actions]."""
    data = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    return {"rules": data["rules"], "flows": data["flows"], "actions": data["actions"]}


def shop_actions(shop: FakeShop, **overrides: Any) -> dict[str, Any]:
    """The demo's two actions as HTTP calls to the fake shop, signed."""
    common = {"secret_env": "SHOP_SECRET", "timeout_s": 0.5, "retries": 1, **overrides}
    return {
        "order_status": {"url": f"{shop.url}/api/orders/{{order_id}}", **common,
                         "description": "Look up an order", "params": {"order_id": "NW-12345"}},
        "create_return": {"url": f"{shop.url}/api/returns", "method": "POST", **common},
    }


def shop_config(shop: FakeShop, data: dict[str, Any] | None = None, **overrides: Any) -> Config:
    sections = demo_sections()
    sections["actions"] = shop_actions(shop, **overrides)
    sections.update(data or {})
    return make_config(sections)


@pytest.fixture
async def shop(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeShop]:
    monkeypatch.setenv("SHOP_SECRET", SECRET)
    async with FakeShop() as server:
        yield server


from tests.handoff.conftest import slack, slack_env  # noqa: E402, F401  (fixtures)
