"""Waiting for ratings without sleeping: a rating listener that counts."""

from __future__ import annotations

import asyncio

import aiohttp

from feedback import Rating
from hub.service import HubService

__all__ = ["RatingsSeen", "metrics_text"]


class RatingsSeen:
    """Every rating the hub stores, in order; ``wait(n)`` returns once there are ``n``."""

    def __init__(self, service: HubService) -> None:
        self.ratings: list[Rating] = []
        self._changed = asyncio.Event()
        service.hub.rating_listeners.append(self._seen)

    async def _seen(self, rating: Rating) -> None:
        self.ratings.append(rating)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 20.0) -> list[Rating]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.ratings) < count:
                self._changed.clear()
                await self._changed.wait()
        return list(self.ratings)


async def metrics_text(service: HubService) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{service.url}/metrics") as response:
        return await response.text()
