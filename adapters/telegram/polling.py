"""Long polling with getUpdates, and an offset that survives restarts.

The offset (the next update id wanted) lives in the store under
``Keys.telegram_offset()`` (``telegram:offset``). It moves past an update only once the hub accepted it
(or the update was not for the hub), so a restart with the Redis store neither
answers an update twice nor skips one. If the store cannot take a message the
offset stays where it is and the same updates are fetched again after a pause.
An update that does not fit the Bot API (aiogram cannot read it) is logged at
WARNING with its id and skipped, so it never holds back the updates after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.exceptions import AiogramError, ClientDecodeError, TelegramRetryAfter
from aiogram.types import Update
from pydantic import ValidationError

from adapters.telegram.convert import validation_summary
from hub.errors import StoreError
from hub.ingress import Leader, LocalLeader
from hub.store import Keys, Store

__all__ = ["Backoff", "Poller"]

logger = logging.getLogger(__name__)

REQUEST_SLACK_S = 10


class Backoff:
    """Exponential pauses after consecutive failures: 0.5 s doubling up to ``cap``."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class Poller:
    """getUpdates in a loop; ``receive`` handles one update or raises StoreError."""

    def __init__(
        self,
        bot: Bot,
        store: Store,
        receive: Callable[[Update], Awaitable[None]],
        *,
        timeout_s: int,
        allowed_updates: list[str],
        leader: Leader | None = None,
    ) -> None:
        self.bot = bot
        self.leader = leader or LocalLeader()  # with several hubs, only one may poll
        self.store = store
        self.receive = receive
        self.timeout_s = timeout_s
        self.allowed_updates = allowed_updates
        self.offset: int | None = None
        self.last_error: str | None = None
        self._backoff = Backoff()

    async def load(self) -> None:
        """Pick up where the last run stopped."""
        stored = await self.store.get(Keys.telegram_offset())
        self.offset = int(stored) if isinstance(stored, int | float | str) else None
        logger.info("telegram polling resumes at offset %s", self.offset)

    async def run(self) -> None:
        """Poll until cancelled, while this process holds the poll lease."""
        while True:
            if not self.leader.leading:
                logger.info("telegram polling waits for the poll lease")
                await self.leader.wait_elected()
                await self._load_when_elected()
            try:
                pause = await self._poll_once()
            except Exception:  # a bug must not stop polling; the offset has not moved
                logger.exception("telegram polling failed unexpectedly")
                self.last_error = "unexpected error"
                pause = self._backoff.next()
            if pause:
                await asyncio.sleep(pause)

    async def _load_when_elected(self) -> None:
        """Resume from the offset the last leader stored (retried while the store is down)."""
        while True:
            try:
                await self.load()
                return
            except StoreError as exc:
                self._failed(f"store unavailable: {exc}", 0)
                await asyncio.sleep(self._backoff.next())

    async def _fetch_while_leading(self) -> list[tuple[int, Update | None]] | None:
        """getUpdates, abandoned the moment the lease is lost (None then)."""
        fetch = asyncio.ensure_future(self._fetch())
        deposed = asyncio.ensure_future(self.leader.wait_deposed())
        try:
            done, _ = await asyncio.wait({fetch, deposed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deposed.cancel()
            if not fetch.done():
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
        if fetch in done:
            return fetch.result()
        logger.warning("telegram polling stopped: the poll lease was lost")
        return None

    async def _poll_once(self) -> float:
        """One getUpdates round; how long to pause before the next one."""
        try:
            batch = await self._fetch_while_leading()
            for update_id, update in batch or ():
                if not self.leader.leading:
                    break  # the next leader starts from the offset stored so far
                if update is not None:
                    await self.receive(update)
                await self._advance(update_id + 1)
        except TelegramRetryAfter as exc:
            return self._failed(f"rate limited for {exc.retry_after} s", exc.retry_after)
        except AiogramError as exc:
            return self._failed(f"{type(exc).__name__}: {exc}", self._backoff.next())
        except StoreError as exc:
            return self._failed(f"store unavailable: {exc}", self._backoff.next())
        self._backoff.reset()
        self.last_error = None
        return 0.0

    async def _fetch(self) -> list[tuple[int, Update | None]]:
        """The next batch: (update id, update), None for an update no one can read."""
        try:
            updates = await self.bot.get_updates(
                offset=self.offset,
                timeout=self.timeout_s,
                allowed_updates=self.allowed_updates,
                request_timeout=self.timeout_s + REQUEST_SLACK_S,
            )
        except ClientDecodeError as exc:
            return self._salvage(exc)
        return [(update.update_id, update) for update in updates]

    def _salvage(self, exc: ClientDecodeError) -> list[tuple[int, Update | None]]:
        """A batch aiogram cannot read as a whole, read update by update.

        An update that does not fit the Bot API is logged and skipped: keeping
        the offset before it would hold back every later customer for good.
        """
        result = exc.data.get("result") if isinstance(exc.data, dict) else None
        if not isinstance(result, list):
            raise exc
        batch: list[tuple[int, Update | None]] = []
        for raw in result:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                raise exc  # not even its id can be read: nothing to skip safely
            try:
                batch.append((update_id, Update.model_validate(raw, context={"bot": self.bot})))
            except ValidationError as error:
                logger.warning("telegram update %s cannot be read, skipped: %s",
                               update_id, validation_summary(error))
                batch.append((update_id, None))
        return batch

    async def _advance(self, offset: int) -> None:
        self.offset = offset
        await self.store.set(Keys.telegram_offset(), offset)

    def _failed(self, reason: str, pause: float) -> float:
        self.last_error = reason
        logger.warning("telegram polling: %s; next try in %.1f s", reason, pause)
        return pause
