"""Customers' display names from ``users.info``, cached in memory with a TTL.

The lookup runs before the event is acknowledged, so it is bounded: a slow or
failing ``users.info`` gives an empty name rather than a late acknowledgement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["UserNames", "display_name"]

logger = logging.getLogger(__name__)


def display_name(user: Mapping[str, Any]) -> str:
    """The name Slack shows: display name, else real name, else handle."""
    profile = user.get("profile") or {}
    for name in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if name:
            return str(name)
    return ""


class UserNames:
    """user id -> display name, cached for ``ttl_s``; misses are retried later."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_s: float = 3600.0,
        timeout_s: float = 1.0,
        max_entries: int = 10_000,
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[str, float]] = {}

    async def get(self, user_id: str) -> str:
        cached = self._cache.get(user_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        name = await self._lookup(user_id)
        if name:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[user_id] = (name, now + self.ttl_s)
        return name

    async def _lookup(self, user_id: str) -> str:
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            logger.info("users.info for %s failed: %s", user_id, exc.response.get("error"))
            return ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.info("users.info for %s failed: %s", user_id, type(exc).__name__)
            return ""
        user = response.get("user")
        return display_name(user) if isinstance(user, Mapping) else ""
