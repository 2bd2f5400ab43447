"""Slack's side of the Events API: signed requests and payload builders.

``post_event(url, payload, secret)`` posts what Slack posts to a Request URL:
an ``event_callback`` or ``url_verification`` as JSON, an interactive payload
(``block_actions``) as ``payload=<json>`` form data, each signed with
``X-Slack-Signature`` / ``X-Slack-Request-Timestamp`` as Slack signs them
(``v0=`` HMAC-SHA256 of ``v0:<timestamp>:<body>``). ``retry_num`` adds
``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason`` as on Slack's retries.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

__all__ = [
    "SIGNING_SECRET",
    "app_mention_event",
    "block_actions",
    "event_callback",
    "message_event",
    "post_event",
    "sign",
    "signed_headers",
    "url_verification",
]

SIGNING_SECRET = "test-signing-secret"
TEAM_ID = "T1"
API_APP_ID = "A1"

_counter = itertools.count(1)


def _next_ts() -> str:
    micros = 1_700_100_000_000_000 + next(_counter) * 100
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def sign(body: bytes, secret: str, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack signs a request with (now, unless ``timestamp``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign(body, secret, timestamp),
    }


# -- payload builders ------------------------------------------------------------------


def message_event(
    text: str = "hello",
    *,
    channel: str = "D_CUSTOMER",
    user: str | None = "U_CUSTOMER",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
    files: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``message`` event (message.im in D... channels, message.channels in C...)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "text": text,
        "ts": ts or _next_ts(),
        "team": TEAM_ID,
        "channel_type": channel_type or _channel_type(channel),
        "event_ts": "",
    }
    event["event_ts"] = event["ts"]
    if user is not None:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    if bot_id is not None:
        event["bot_id"] = bot_id
    if subtype is not None:
        event["subtype"] = subtype
    if files is not None:
        event["files"] = files
        event.setdefault("subtype", "file_share")
    event.update(extra)
    return event


def app_mention_event(
    text: str = "<@UBOT> hello",
    *,
    channel: str = "C_GENERAL",
    user: str = "U_CUSTOMER",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """An ``app_mention`` event (the bot was @-mentioned in a channel)."""
    event = message_event(text, channel=channel, user=user, ts=ts, thread_ts=thread_ts)
    event["type"] = "app_mention"
    event.pop("channel_type", None)
    return event


def _channel_type(channel: str) -> str:
    return {"D": "im", "G": "group", "C": "channel"}.get(channel[:1], "channel")


def event_callback(event: Mapping[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """The Events API envelope around ``event``."""
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_counter):08d}",
        "event_time": int(time.time()),
        "authorizations": [
            {"enterprise_id": None, "team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}
        ],
        "is_ext_shared_channel": False,
    }


def url_verification(challenge: str = "challenge-abc") -> dict[str, Any]:
    return {"token": "verification-token-unused", "challenge": challenge, "type": "url_verification"}


def block_actions(
    value: str,
    *,
    action_id: str = "sb_button_0",
    channel: str = "D_CUSTOMER",
    user: str = "U_CUSTOMER",
    message_ts: str | None = None,
    thread_ts: str | None = None,
    action_ts: str | None = None,
    label: str | None = None,
    message: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An interactive ``block_actions`` payload for a button press."""
    message_ts = message_ts or _next_ts()
    msg: dict[str, Any] = dict(message or {"type": "message", "user": "UBOT", "bot_id": "BBOT",
                                           "text": "", "ts": message_ts})
    msg.setdefault("ts", message_ts)
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if thread_ts is not None:
        msg["thread_ts"] = thread_ts
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "api_app_id": API_APP_ID,
        "token": "verification-token-unused",
        "container": container,
        "trigger_id": f"trigger-{next(_counter)}",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "channel": {"id": channel, "name": channel.lower()},
        "message": msg,
        "response_url": "https://hooks.slack.invalid/actions/T1/1/xyz",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "sb_actions",
                "text": {"type": "plain_text", "text": label or value, "emoji": True},
                "value": value,
                "action_ts": action_ts or f"{time.time():.6f}",
            }
        ],
    }


# -- posting -----------------------------------------------------------------------


def encode(payload: Mapping[str, Any]) -> tuple[bytes, str]:
    """The body and content type Slack would use for ``payload``."""
    if payload.get("type") in ("block_actions", "view_submission", "shortcut", "message_action"):
        return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"
    return json.dumps(payload).encode(), "application/json"


async def post_event(
    url: str,
    payload: Mapping[str, Any],
    secret: str = SIGNING_SECRET,
    retry_num: int | None = None,
    *,
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
    session: aiohttp.ClientSession | None = None,
) -> tuple[int, str]:
    """POST ``payload`` signed with ``secret``; returns (status, body text).

    ``headers`` override the computed ones (e.g. a forged signature, or drop
    one by giving it as an empty string).
    """
    body, content_type = encode(payload)
    all_headers = {"Content-Type": content_type, **signed_headers(body, secret, timestamp)}
    if retry_num is not None:
        all_headers["X-Slack-Retry-Num"] = str(retry_num)
        all_headers["X-Slack-Retry-Reason"] = "http_timeout"
    all_headers.update(headers or {})
    all_headers = {k: v for k, v in all_headers.items() if v != ""}
    if session is not None:
        return await _post(session, url, body, all_headers)
    async with aiohttp.ClientSession() as own:
        return await _post(own, url, body, all_headers)


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, str]:
    async with session.post(url, data=body, headers=dict(headers)) as response:
        return response.status, await response.text()
