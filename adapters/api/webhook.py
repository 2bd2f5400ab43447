"""Messages no request waits for (an agent's reply, a hand-off closing) go to the webhook
URL the client gave for the conversation, signed like flow actions (:mod:`flows.signing`).

``POST <webhook_url>`` with ``{"type": "message", "conversation_id", "message": {...}}``
and the ``X-Switchboard-Timestamp`` / ``X-Switchboard-Signature`` headers. A 2xx is
delivered; a timeout, a connection error, 408, 429 or a 5xx is tried again with
exponential backoff (``webhook_attempts``, ``webhook_backoff_s``); any other status
is permanent.
"""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
from yarl import URL

from adapters.api.errors import ApiError
from adapters.api.replies import Reply
from flows.signing import signature_headers
from hub.config import ApiConfig
from hub.envelope import OutboundMessage
from hub.errors import DeliveryError, PermanentDeliveryError
from hub.store import Keys, Store

__all__ = ["Webhooks", "check_url"]

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
RETRY_STATUSES = frozenset({408, 429})


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; else a 400 ApiError."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ApiError("invalid_webhook_url", "webhook_url must be an absolute http(s) URL")
    return url


class Webhooks:
    """Webhook URLs per API conversation (in the store) and the signed, retried POST."""

    def __init__(self, store: Store, config: ApiConfig, secret: str | None) -> None:
        self.store = store
        self.config = config
        self.secret = secret
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def remember(self, conversation_id: str, url: str) -> None:
        if self.secret is None:
            raise ApiError("webhooks_disabled",
                           f"webhooks are off: ${self.config.webhook_secret_env} is not set")
        await self.store.set(Keys.api_webhook(conversation_id), check_url(url))

    async def deliver(self, message: OutboundMessage) -> None:
        url = await self.store.get(Keys.api_webhook(message.conversation_id))
        if not url or self.secret is None:
            logger.info("api: no webhook for %s; the message stays in the transcript",
                        message.address)
            return
        payload = {"type": "message", "conversation_id": message.conversation_id,
                   "message": Reply.of(message).to_json()}
        await self._post(str(url), json.dumps(payload, ensure_ascii=False).encode())

    async def _post(self, url: str, body: bytes) -> None:
        assert self.secret is not None
        attempts = self.config.webhook_attempts
        for attempt in range(1, attempts + 1):
            headers = {"Content-Type": "application/json",
                       **signature_headers(self.secret, body)}  # fresh timestamp each try
            problem = await self._attempt(url, body, headers)
            if problem is None:
                return
            if attempt < attempts:
                delay = min(MAX_BACKOFF_S, self.config.webhook_backoff_s * 2 ** (attempt - 1))
                logger.info("api webhook: %s (attempt %d of %d); again in %.1f s",
                            problem, attempt, attempts, delay)
                await asyncio.sleep(delay)
        raise DeliveryError(f"webhook gave up after {attempts} attempts: {problem}")

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> str | None:
        """None when delivered; else why not (worth another try)."""
        if self._session is None:
            raise DeliveryError("the API adapter is not started")
        timeout = aiohttp.ClientTimeout(total=self.config.webhook_timeout_s)
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout,
                                          allow_redirects=False) as response:
                status = response.status
        except TimeoutError:
            return f"no answer within {self.config.webhook_timeout_s:g} s"
        except aiohttp.ClientError as exc:
            return f"unreachable ({type(exc).__name__})"
        if 200 <= status < 300:
            return None
        if status in RETRY_STATUSES or status >= 500:
            return f"status {status}"
        raise PermanentDeliveryError(f"webhook refused the message with status {status}")
