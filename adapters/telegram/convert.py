"""Pure conversions between Telegram updates and the hub's envelopes.

``to_envelope(update, me)`` turns an aiogram ``Update`` into an
:class:`~hub.envelope.InboundMessage`, or None when the update is not for the
hub (a group message that does not address the bot, a service message, a
channel post). ``to_platform(message)`` turns an
:class:`~hub.envelope.OutboundMessage` into the ``sendMessage`` calls that
deliver it: plain text (no parse mode, so Markdown in answers can never break
a send), split at Telegram's 4096-character limit, the inline keyboard on the
last part. No network, no store: tests call both directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from hub.envelope import Attachment, InboundMessage, OutboundMessage

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "MAX_TEXT",
    "BotIdentity",
    "split_text",
    "to_envelope",
    "to_platform",
    "utf16_len",
]

CHANNEL = "telegram"
MAX_TEXT = 4096  # Telegram counts UTF-16 code units
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
GROUP_TYPES = ("group", "supergroup")
EMPTY_TEXT = "Please choose:"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is (from getMe): groups address it by @username or by replying."""

    id: int
    username: str


# -- inbound -------------------------------------------------------------------


def to_envelope(update: Update, me: BotIdentity) -> InboundMessage | None:
    """The envelope for one update, or None if the hub should not see it."""
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    message = update.message or update.edited_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    text = _text_for(message, me)
    if text is None:
        return None
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=str(message.chat.id),
        user_id=str(message.from_user.id),
        user_name=message.from_user.full_name,
        message_id=f"u{update.update_id}",
        text=text,
        thread=_thread(message),
        timestamp=message.date.timestamp(),
        attachments=_attachments(message),
        metadata={
            "update_id": update.update_id,
            "chat_type": message.chat.type,
            "telegram_message_id": message.message_id,
            "edited": update.edited_message is not None,
        },
    )


def _from_callback(update_id: int, query: CallbackQuery) -> InboundMessage | None:
    if not query.data or query.message is None:
        return None
    chat = query.message.chat
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=str(chat.id),
        user_id=str(query.from_user.id),
        user_name=query.from_user.full_name,
        message_id=f"u{update_id}",
        text=query.data,
        thread=_thread(query.message) if isinstance(query.message, Message) else None,
        attachments=(),
        metadata={
            "update_id": update_id,
            "chat_type": chat.type,
            "callback_query_id": query.id,
            "button": True,
        },
    )


def _text_for(message: Message, me: BotIdentity) -> str | None:
    """The customer's words (caption or placeholder for media); None if not for us."""
    text = message.text or message.caption or _placeholder(message)
    if text is None:
        return None
    if message.chat.type in GROUP_TYPES:
        return _addressed_text(message, text, me)
    if message.chat.type != "private":
        return None
    return text.strip() or None


def _addressed_text(message: Message, text: str, me: BotIdentity) -> str | None:
    """In groups: the text without the @mention, if the bot is mentioned or replied to."""
    mention = re.compile(rf"@{re.escape(me.username)}\b", re.IGNORECASE) if me.username else None
    mentioned = bool(mention and mention.search(text))
    replied = message.reply_to_message is not None and (
        message.reply_to_message.from_user is not None
        and message.reply_to_message.from_user.id == me.id
    )
    if not (mentioned or replied):
        return None
    if mention is not None:
        text = mention.sub("", text)
    text = " ".join(text.split())
    return text or None


def _placeholder(message: Message) -> str | None:
    if message.photo:
        return "[photo]"
    if message.document is not None:
        return f"[document: {message.document.file_name or 'file'}]"
    if message.voice is not None:
        return "[voice message]"
    if message.sticker is not None:
        return f"[sticker {message.sticker.emoji or ''}]".replace(" ]", "]")
    return None


def _attachments(message: Message) -> tuple[Attachment, ...]:
    if message.photo:
        largest = message.photo[-1]
        return (Attachment("photo", largest.file_id, mime_type="image/jpeg", size=largest.file_size),)
    if message.document is not None:
        doc = message.document
        return (Attachment("document", doc.file_id, doc.file_name or "", doc.mime_type or "", doc.file_size),)
    if message.voice is not None:
        voice = message.voice
        return (Attachment("voice", voice.file_id, mime_type=voice.mime_type or "", size=voice.file_size),)
    if message.sticker is not None:
        sticker = message.sticker
        return (Attachment("sticker", sticker.file_id, sticker.emoji or "", size=sticker.file_size),)
    return ()


def _thread(message: Message) -> str | None:
    """Forum topics are threads; replies go back to the same topic."""
    if message.is_topic_message and message.message_thread_id is not None:
        return str(message.message_thread_id)
    return None


# -- outbound ------------------------------------------------------------------


def _same(value: str) -> str:
    return value


def to_platform(
    message: OutboundMessage, callback_data: Callable[[str], str] = _same
) -> list[SendMessage]:
    """The sendMessage calls for ``message``, in order; buttons on the last one.

    ``callback_data`` maps a button value to at most 64 bytes of callback data
    (the adapter stores longer values and passes a short key).
    """
    text = _display_text(message)
    if not text.strip() and not message.buttons:
        return []
    parts = split_text(text or EMPTY_TEXT)
    markup = _keyboard(message, callback_data)
    thread = int(message.thread) if message.thread and message.thread.isdigit() else None
    return [
        SendMessage(
            chat_id=int(message.conversation_id),
            text=part,
            parse_mode=None,
            message_thread_id=thread,
            reply_markup=markup if last else None,
        )
        for part, last in _with_last(parts)
    ]


def _display_text(message: OutboundMessage) -> str:
    if message.sender == "agent" and message.sender_name:
        return f"{message.sender_name}: {message.text}"
    return message.text


def _keyboard(
    message: OutboundMessage, callback_data: Callable[[str], str]
) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    rows = [
        [InlineKeyboardButton(text=b.label, callback_data=callback_data(b.value))]
        for b in message.buttons
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _with_last(parts: list[str]) -> list[tuple[str, bool]]:
    return [(part, i == len(parts) - 1) for i, part in enumerate(parts)]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at paragraph, then line, then word boundaries; each part <= ``limit``."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head = _fitting_prefix(rest, limit)
        cut = _boundary(head)
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if part:
            parts.append(part)
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` within ``limit`` UTF-16 units."""
    end = min(len(text), limit)
    while utf16_len(text[:end]) > limit:
        end -= max(1, (utf16_len(text[:end]) - limit) // 2)
    return text[:end]


def _boundary(head: str) -> int:
    """Where to cut ``head``: the last paragraph, line or word break past its middle."""
    for separator in ("\n\n", "\n", " "):
        at = head.rfind(separator)
        if at > len(head) // 2:
            return at + len(separator)
    return len(head)
