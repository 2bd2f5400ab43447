"""Posting to Slack: rate limits waited out, permanent failures told apart.

``post(client, call)`` sends one ``chat.postMessage``. A 429 ``ratelimited``
is retried after ``Retry-After`` (bounded attempts and wait); errors that no
retry can fix (the channel is gone, the bot is not in it) raise
PermanentDeliveryError; anything else raises DeliveryError.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from hub.errors import DeliveryError, PermanentDeliveryError

__all__ = ["MAX_ATTEMPTS", "PERMANENT_ERRORS", "post", "retry_after"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_WAIT_S = 30.0
PERMANENT_ERRORS = frozenset({
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "account_inactive",
    "user_not_found",
    "cannot_dm_bot",
    "restricted_action",
    "team_access_not_granted",
    "invalid_blocks",
    "msg_too_long",
})


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds to wait when ``exc`` is a rate limit, else None."""
    response = exc.response
    if response.status_code != 429 and response.get("error") != "ratelimited":
        return None
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_WAIT_S)


async def post(client: AsyncWebClient, call: dict[str, Any]) -> AsyncSlackResponse:
    """One chat.postMessage, waiting out rate limits; translated errors."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await client.chat_postMessage(**call)
        except SlackApiError as exc:
            wait = retry_after(exc)
            error = str(exc.response.get("error") or exc.response.status_code)
            if wait is None:
                kind = PermanentDeliveryError if error in PERMANENT_ERRORS else DeliveryError
                raise kind(f"slack chat.postMessage: {error}") from exc
            if attempt == MAX_ATTEMPTS:
                raise DeliveryError("slack chat.postMessage: still rate limited") from exc
            logger.info("slack rate limited; retrying in %.1f s (attempt %d)", wait, attempt)
            await asyncio.sleep(wait)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"slack chat.postMessage: {type(exc).__name__}") from exc
    raise DeliveryError("slack chat.postMessage: gave up")  # unreachable, for type checkers
