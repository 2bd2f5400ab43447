"""Block Kit rendering: mrkdwn escaping, splitting at Slack's limits, buttons.

Pure functions, no network: ``to_platform(message)`` turns an outbound envelope
into the keyword arguments of one or more ``chat.postMessage`` calls.
"""

from __future__ import annotations

import re
from typing import Any

from feedback.buttons import split_rating
from hub.envelope import Button, OutboundMessage, Source

__all__ = [
    "BUTTON_ACTION_PREFIX",
    "SECTION_LIMIT",
    "button_blocks",
    "chosen_blocks",
    "destination",
    "escape",
    "rating_block",
    "split_text",
    "to_platform",
    "unescape",
]

BUTTON_ACTION_PREFIX = "sb_button_"
SECTION_LIMIT = 3000  # characters of mrkdwn in one section block
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTONS_PER_BLOCK = 25
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What Slack sends us, back to plain text (the inverse of :func:`escape`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters.

    Prefers paragraph, then line, then word boundaries; never cuts inside an
    ``&amp;``-style entity, so escaped text stays valid in every piece.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest.rstrip())
    return [p for p in pieces if p] or [""]


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > limit // 2:
            return at + len(separator)
    entity = _ENTITY_TAIL.search(window)
    return entity.start() if entity and entity.start() > 0 else limit


def button_blocks(buttons: tuple[Button, ...]) -> list[dict[str, Any]]:
    """Actions blocks of buttons whose action_id is ``sb_button_<n>``."""
    blocks = []
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        chunk = buttons[start:start + BUTTONS_PER_BLOCK]
        blocks.append({
            "type": "actions",
            "block_id": f"sb_actions_{start // BUTTONS_PER_BLOCK}",
            "elements": [_button(start + i, b) for i, b in enumerate(chunk)],
        })
    return blocks


def rating_block(rating: tuple[Button, ...]) -> dict[str, Any]:
    """The rating prompt's buttons (feedback/buttons.py ``split_rating``) in an actions
    block of their own; a press comes back as a customer button (``sb_button_rate_<n>``)."""
    return {
        "type": "actions",
        "block_id": "sb_rating",
        "elements": [_button(f"rate_{i}", b) for i, b in enumerate(rating)],
    }


def _button(index: int | str, button: Button) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{BUTTON_ACTION_PREFIX}{index}",
        "text": {"type": "plain_text", "text": button.label[:BUTTON_LABEL_LIMIT], "emoji": True},
        "value": button.value[:BUTTON_VALUE_LIMIT],
    }


def _fallback(text: str, buttons: tuple[Button, ...]) -> str:
    """The notification / no-blocks text: the message, then the choices numbered."""
    if not buttons:
        return text
    choices = "\n".join(f"{n}. {escape(b.label)}" for n, b in enumerate(buttons, start=1))
    return f"{text}\n{choices}" if text else choices


def destination(message: OutboundMessage) -> tuple[str, str | None]:
    """(channel id, thread ts) of a conversation id ``C1:1700.1`` or ``D1``."""
    channel, _, thread = message.conversation_id.partition(":")
    return channel, message.thread or thread or None


def to_platform(message: OutboundMessage) -> list[dict[str, Any]]:
    """``chat.postMessage`` arguments for ``message``: one call per piece of text.

    Every piece is a mrkdwn section; an agent's name goes in a context block on
    the first piece; buttons go on the last piece. Replies go in the
    conversation's thread (``C1:<thread ts>``) or ``message.thread``.
    """
    channel, thread_ts = destination(message)
    pieces = split_text(_mrkdwn(message))
    calls = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        blocks: list[dict[str, Any]] = []
        if index == 0 and message.sender == "agent" and message.sender_name:
            blocks.append(_context(message.sender_name))
        if piece:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
        buttons, rating = split_rating(message.buttons) if last else ((), ())
        blocks.extend(button_blocks(buttons))
        if rating:  # last, in a block of its own
            blocks.append(rating_block(rating))
        call: dict[str, Any] = {
            "channel": channel,
            "text": _fallback(piece, buttons) or " ",
            "blocks": blocks,
            "unfurl_links": False,
        }
        if thread_ts:
            call["thread_ts"] = thread_ts
        calls.append(call)
    return calls


def _mrkdwn(message: OutboundMessage) -> str:
    """The message's text, escaped; its sources as mrkdwn links ``<url|title>``."""
    if not message.sources:
        return escape(message.text)
    label = "Read more" if message.sources[0].number is None else "Sources"
    links = ", ".join(_link(s) for s in message.sources)
    return f"{escape(message.body)}\n\n{label}: {links}"


def _link(source: Source) -> str:
    text = escape(source.label).replace("|", "¦")  # a | would end the link's address
    return f"<{escape(source.url)}|{text}>" if source.url else text


def _context(name: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{escape(name)}*"}]}


def chosen_blocks(blocks: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """A message's blocks after a press: the buttons replaced by the choice made."""
    kept = [b for b in blocks if isinstance(b, dict) and b.get("type") != "actions"]
    choice = f":white_check_mark: {escape(label)}" if label else ":white_check_mark:"
    kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": choice}]})
    return kept
