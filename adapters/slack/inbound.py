"""Slack events and button presses as envelopes: pure functions, no network.

Conversation ids: a DM is its channel id (``D...``); in a channel with
``thread_replies`` a thread is one conversation, ``C...:<thread ts>``, and
without it the channel is. Message ids come from Slack's own message identity
(``<channel>:<ts>``, and ``<channel>:<message ts>:<action ts>`` for a button
press), so a retried event, or the ``app_mention`` and ``message`` events of
one message, map to one id and the hub's dedupe answers them once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.slack.blocks import unescape
from hub.envelope import Attachment, InboundMessage

__all__ = [
    "CHANNEL",
    "CUSTOMER_SUBTYPES",
    "action_to_envelope",
    "attachments",
    "conversation_of",
    "is_from_bot",
    "to_envelope",
]

CHANNEL = "slack"
# message subtypes that are a person writing; edits, joins, deletions... are not
CUSTOMER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

Event = Mapping[str, Any]


def is_from_bot(event: Event, bot_user_id: str | None = None) -> bool:
    """True for any bot's message, ours included (no reply loops)."""
    return bool(
        event.get("bot_id")
        or event.get("bot_profile")
        or event.get("subtype") == "bot_message"
        or (bot_user_id and event.get("user") == bot_user_id)
    )


def is_dm(channel: str, channel_type: str | None = None) -> bool:
    return channel_type == "im" or channel.startswith("D")


def conversation_of(
    channel: str, ts: str, thread_ts: str | None, *, dm: bool, thread_replies: bool
) -> tuple[str, str | None]:
    """(conversation id, thread ts to answer in) of a message."""
    if dm:
        return channel, thread_ts
    if thread_replies:
        root = thread_ts or ts
        return f"{channel}:{root}", root
    return channel, thread_ts


def _strip_mention(text: str, bot_user_id: str | None) -> str:
    if not bot_user_id:
        return text
    return re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)


def attachments(files: Any) -> tuple[Attachment, ...]:
    """Files shared with a message, as references (never downloaded here)."""
    if not isinstance(files, list):
        return ()
    found = []
    for file in files:
        if not isinstance(file, Mapping) or not file.get("id"):
            continue
        mime = str(file.get("mimetype") or "")
        found.append(
            Attachment(
                kind="photo" if mime.startswith("image/") else "file",
                ref=str(file.get("permalink") or file.get("url_private") or file["id"]),
                name=str(file.get("name") or file.get("title") or ""),
                mime_type=mime,
                size=file.get("size") if isinstance(file.get("size"), int) else None,
            )
        )
    return tuple(found)


def to_envelope(
    event: Event,
    *,
    bot_user_id: str | None = None,
    thread_replies: bool = True,
    user_name: str = "",
) -> InboundMessage | None:
    """A ``message`` or ``app_mention`` event as an envelope; None if not a person's."""
    if event.get("subtype") not in CUSTOMER_SUBTYPES or is_from_bot(event, bot_user_id):
        return None
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not (channel and ts and user):
        return None
    text = unescape(_strip_mention(str(event.get("text") or ""), bot_user_id)).strip()
    files = attachments(event.get("files"))
    if not text and not files:
        return None
    thread_ts = event.get("thread_ts")
    dm = is_dm(channel, event.get("channel_type"))
    conversation_id, thread = conversation_of(
        channel, ts, thread_ts, dm=dm, thread_replies=thread_replies
    )
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=conversation_id,
        user_id=str(user),
        user_name=user_name,
        message_id=f"{channel}:{ts}",
        text=text,
        thread=thread,
        timestamp=float(ts),
        attachments=files,
        metadata={"slack_channel": channel, "slack_ts": ts, "event": event.get("type", "")},
    )


def action_to_envelope(
    body: Event, *, thread_replies: bool = True, user_name: str = ""
) -> InboundMessage | None:
    """A ``block_actions`` button press as a customer message whose text is the value."""
    actions = body.get("actions") or []
    action = actions[0] if actions else {}
    value = action.get("value")
    user = (body.get("user") or {}).get("id")
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or message.get("ts")
    if not (value and user and channel and message_ts):
        return None
    thread_ts = message.get("thread_ts") or container.get("thread_ts")
    conversation_id, thread = conversation_of(
        channel, message_ts, thread_ts, dm=is_dm(channel), thread_replies=thread_replies
    )
    action_ts = str(action.get("action_ts") or "")
    label = (action.get("text") or {}).get("text", "")
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=conversation_id,
        user_id=str(user),
        user_name=user_name,
        message_id=f"{channel}:{message_ts}:{action_ts}",
        text=str(value),
        thread=thread,
        timestamp=float(action_ts) if _is_number(action_ts) else float(message_ts),
        metadata={
            "slack_channel": channel,
            "slack_ts": message_ts,
            "action_id": action.get("action_id", ""),
            "button_label": label,
        },
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
