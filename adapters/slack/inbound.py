"""Slack events and button presses as envelopes: pure functions, no network.

Conversation ids: a DM is its channel id (``D...``); in a channel with
``thread_replies`` a thread is one conversation, ``C...:<thread ts>``, and
without it the channel is. Message ids come from Slack's own message identity
(``<channel>:<ts>``, and ``<channel>:<message ts>:<action ts>`` for a button
press), so a retried event, or the ``app_mention`` and ``message`` events of
one message, map to one id and the hub's dedupe answers them once.

Only people's messages become envelopes: Slackbot (``USLACKBOT``), any bot
(ours included, so no reply loops) and every ``subtype`` but the few that
carry a person's words (:data:`CUSTOMER_SUBTYPES`) are left out. An edit
(``message_changed`` whose message has ``edited``) becomes an envelope of its
own, ``<channel>:<ts>:edited:<edit ts>``, whose ``edit_of`` names the original;
the other ``message_changed`` events (link unfurls, reply counts, our own
``chat.update``) are not edits and are left out. A shared message becomes a
``shared_message`` attachment, with its text as the message's when the
customer added no comment.
"""

from __future__ import annotations

import logging
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
    "edited_message",
    "is_from_bot",
    "shared_messages",
    "to_envelope",
]

logger = logging.getLogger(__name__)

CHANNEL = "slack"
SLACKBOT = "USLACKBOT"
# message subtypes that are a person writing; everything else (bot_message, joins,
# topics, pins, tombstones, message_changed/deleted/replied, ...) is not. From
# Slack's list of message subtypes: these four carry the author's own text or files.
CUSTOMER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
EDITED = "message_changed"

Event = Mapping[str, Any]


def is_from_bot(event: Event, bot_user_id: str | None = None) -> bool:
    """True for anything that is not a person writing: any bot (ours included, so
    no reply loops), Slackbot, hidden events and every non-customer ``subtype``."""
    return bool(
        event.get("bot_id")
        or event.get("bot_profile")
        or event.get("hidden")
        or event.get("subtype") not in CUSTOMER_SUBTYPES
        or event.get("user") == SLACKBOT
        or (bot_user_id and event.get("user") == bot_user_id)
    )


def edited_message(event: Event, bot_user_id: str | None = None) -> dict[str, Any] | None:
    """The message a person edited, from a ``message_changed`` event; None if it is
    not a person's edit (an unfurl, a reply count, a bot updating its message)."""
    inner = event.get("message")
    if event.get("subtype") != EDITED or not isinstance(inner, Mapping):
        return None
    if not isinstance(inner.get("edited"), Mapping) or is_from_bot(inner, bot_user_id):
        return None
    previous = event.get("previous_message")
    if isinstance(previous, Mapping) and _same_content(previous, inner):
        return None
    return {**inner, "channel": event.get("channel"), "channel_type": event.get("channel_type")}


def _same_content(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return before.get("text") == after.get("text") and before.get("files") == after.get("files")


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


def shared_messages(items: Any) -> tuple[tuple[Attachment, str], ...]:
    """Messages shared into this one (``is_share`` attachments): each as an
    attachment and its text. Link unfurls and bots' attachments are not shares."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        if not isinstance(item, Mapping) or not item.get("is_share"):
            continue
        ref = str(item.get("from_url") or item.get("original_url") or item.get("ts") or "")
        name = str(item.get("author_name") or item.get("author_subname") or "")
        text = unescape(str(item.get("text") or item.get("fallback") or "")).strip()
        found.append((Attachment(kind="shared_message", ref=ref, name=name), text))
    return tuple(found)


def to_envelope(
    event: Event,
    *,
    bot_user_id: str | None = None,
    thread_replies: bool = True,
    user_name: str = "",
) -> InboundMessage | None:
    """A ``message`` or ``app_mention`` event (or a person's edit) as an envelope;
    None if it is not a person's message."""
    if event.get("subtype") == EDITED:
        edited = edited_message(event, bot_user_id)
        if edited is None:
            return None
        edit_ts = str(edited["edited"].get("ts") or event.get("ts") or "")
        return _envelope(edited, bot_user_id, thread_replies, user_name, edit_ts=edit_ts)
    if is_from_bot(event, bot_user_id):
        return None
    return _envelope(event, bot_user_id, thread_replies, user_name)


def _envelope(
    event: Event,
    bot_user_id: str | None,
    thread_replies: bool,
    user_name: str,
    *,
    edit_ts: str | None = None,
) -> InboundMessage | None:
    channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
    if not (channel and ts and user):
        logger.info("slack message %s:%s has no channel, ts or user; not passed on", channel, ts)
        return None
    text = unescape(_strip_mention(str(event.get("text") or ""), bot_user_id)).strip()
    shares = shared_messages(event.get("attachments"))
    files = attachments(event.get("files")) + tuple(share for share, _ in shares)
    if not text and shares:
        text = "\n".join(f"[shared message] {said}".strip() for _, said in shares)
    if not text and not files:
        logger.info("slack message %s:%s has no text, file or shared message; not passed on",
                    channel, ts)
        return None
    dm = is_dm(channel, event.get("channel_type"))
    conversation_id, thread = conversation_of(
        channel, ts, event.get("thread_ts"), dm=dm, thread_replies=thread_replies
    )
    original = f"{channel}:{ts}"
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=conversation_id,
        user_id=str(user),
        user_name=user_name,
        message_id=original if edit_ts is None else f"{original}:edited:{edit_ts}",
        text=text,
        thread=thread,
        timestamp=float(edit_ts or ts),
        attachments=files,
        edit_of=None if edit_ts is None else original,
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
