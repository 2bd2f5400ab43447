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

import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from aiogram.enums import ContentType
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from pydantic import ValidationError

from feedback.buttons import split_rating
from hub.envelope import Attachment, Button, InboundMessage, OutboundMessage, Source

__all__ = [
    "ALLOWED_UPDATES",
    "CHANNEL",
    "MAX_TEXT",
    "BotIdentity",
    "split_text",
    "to_envelope",
    "to_platform",
    "utf16_len",
    "validation_summary",
]

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # Telegram counts UTF-16 code units
_Part = tuple[str, str | None]  # a message's text and its parse mode (None: plain)
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
    """The envelope for one update, or None if the hub should not see it.

    A message's id is Telegram's own identity of it, ``<chat id>:<message id>``;
    an edit or a button press (no message of their own) is ``u<update id>``,
    and an edit's ``edit_of`` names the message it edits.
    """
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    edited = update.edited_message is not None
    message = update.edited_message or update.message
    if message is None:
        logger.info("telegram update %s: a %s update, not one the hub handles",
                    update.update_id, _kind(update))
        return None
    if message.from_user is None or message.from_user.is_bot:
        logger.debug("telegram update %s: not from a person", update.update_id)
        return None
    if edited and message.content_type == ContentType.LOCATION:
        logger.debug("telegram update %s: a live location moved", update.update_id)
        return None
    content = _content(update.update_id, message)
    if content is None:
        return None
    text = _text_for(message, content[0], me)
    if text is None:
        logger.debug("telegram update %s: not addressed to the bot", update.update_id)
        return None
    if not text:
        logger.info("telegram update %s: a message with no text and no media; not passed on",
                    update.update_id)
        return None
    original = f"{message.chat.id}:{message.message_id}"
    return InboundMessage(
        channel=CHANNEL,
        conversation_id=str(message.chat.id),
        user_id=str(message.from_user.id),
        user_name=message.from_user.full_name,
        message_id=f"u{update.update_id}" if edited else original,
        text=text,
        thread=_thread(message),
        timestamp=float(message.edit_date or 0) or message.date.timestamp(),
        attachments=content[1],
        edit_of=original if edited else None,
        metadata={
            "update_id": update.update_id,
            "chat_type": message.chat.type,
            "telegram_message_id": message.message_id,
            "edited": edited,
        },
    )


def _kind(update: Update) -> str:
    """The update's kind (``message_reaction``, ``poll_answer``, ...), known or not."""
    extra = [key for key in (update.model_extra or {}) if key != "update_id"]
    try:
        return update.event_type
    except LookupError:  # a kind newer than aiogram
        return "/".join(extra) or "empty"


def _from_callback(update_id: int, query: CallbackQuery) -> InboundMessage | None:
    if not query.data or query.message is None:
        logger.info("telegram update %s: a button press without data or message", update_id)
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


def _text_for(message: Message, text: str, me: BotIdentity) -> str | None:
    """The customer's words (with the @mention gone in groups); None if not for us."""
    if message.chat.type in GROUP_TYPES:
        return _addressed_text(message, text, me)
    if message.chat.type != "private":
        return None
    return text.strip()


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
    return " ".join(text.split())


# -- what a customer can send: the text the hub reads, and references to the media

Content = tuple[str, tuple[Attachment, ...]]


def _content(update_id: int, message: Message) -> Content | None:
    """Text (the caption, or a placeholder for media) and attachments; None, logged,
    for a kind the hub cannot use (a game, a payment, a service message...)."""
    kind = ContentType(message.content_type).value
    convert = _CONVERTERS.get(kind)
    if kind == ContentType.UNKNOWN:
        logger.info("telegram update %s: a message with no text and no media; not passed on",
                    update_id)
        return None
    if convert is None:
        logger.info("telegram update %s: a %s message, which the hub cannot use; not passed on",
                    update_id, kind)
        return None
    placeholder, attachments = convert(message)
    return (message.text or message.caption or placeholder), attachments


def _text(message: Message) -> Content:
    return "", ()


def _named(label: str, name: str | None) -> str:
    return f"[{label}: {name}]" if name else f"[{label}]"


def _photo(message: Message) -> Content:
    largest = (message.photo or [])[-1]
    return "[photo]", (Attachment("photo", largest.file_id, mime_type="image/jpeg",
                                  size=largest.file_size),)


def _live_photo(message: Message) -> Content:
    live = message.live_photo
    assert live is not None
    return "[live photo]", (Attachment("live_photo", live.file_id, mime_type=live.mime_type or "",
                                       size=live.file_size),)


def _document(message: Message) -> Content:
    doc = message.document
    assert doc is not None
    name = doc.file_name or ""
    return _named("document", name or "file"), (
        Attachment("document", doc.file_id, name, doc.mime_type or "", doc.file_size),)


def _voice(message: Message) -> Content:
    voice = message.voice
    assert voice is not None
    return "[voice message]", (Attachment("voice", voice.file_id, mime_type=voice.mime_type or "",
                                          size=voice.file_size),)


def _sticker(message: Message) -> Content:
    sticker = message.sticker
    assert sticker is not None
    emoji = sticker.emoji or ""
    return f"[sticker {emoji}]".replace(" ]", "]"), (
        Attachment("sticker", sticker.file_id, emoji, size=sticker.file_size),)


def _video(message: Message) -> Content:
    video = message.video
    assert video is not None
    name = video.file_name or ""
    return _named("video", name), (
        Attachment("video", video.file_id, name, video.mime_type or "", video.file_size),)


def _video_note(message: Message) -> Content:
    note = message.video_note
    assert note is not None
    return "[video message]", (Attachment("video_note", note.file_id, mime_type="video/mp4",
                                          size=note.file_size),)


def _audio(message: Message) -> Content:
    audio = message.audio
    assert audio is not None
    title = " - ".join(part for part in (audio.performer, audio.title) if part)
    name = title or audio.file_name or ""
    return _named("audio", name), (
        Attachment("audio", audio.file_id, name, audio.mime_type or "", audio.file_size),)


def _animation(message: Message) -> Content:
    gif = message.animation
    assert gif is not None
    return "[GIF]", (Attachment("animation", gif.file_id, gif.file_name or "",
                                gif.mime_type or "", gif.file_size),)


def _contact(message: Message) -> Content:
    contact = message.contact
    assert contact is not None
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    ref = f"tel:{contact.phone_number}"
    return f"[contact: {name}, {contact.phone_number}]", (Attachment("contact", ref, name),)


def _geo(latitude: float, longitude: float) -> str:
    return f"geo:{latitude:.6f},{longitude:.6f}"


def _location(message: Message) -> Content:
    where = message.location
    assert where is not None
    ref = _geo(where.latitude, where.longitude)
    live = "live location" if where.live_period else "location"
    return f"[{live}: {where.latitude:.5f}, {where.longitude:.5f}]", (Attachment("location", ref),)


def _venue(message: Message) -> Content:
    venue = message.venue
    assert venue is not None
    ref = _geo(venue.location.latitude, venue.location.longitude)
    return f"[venue: {venue.title}, {venue.address}]", (Attachment("venue", ref, venue.title),)


def _poll(message: Message) -> Content:
    poll = message.poll
    assert poll is not None
    options = " / ".join(option.text for option in poll.options)
    return f"[poll: {poll.question} ({options})]", (Attachment("poll", poll.id, poll.question),)


def _dice(message: Message) -> Content:
    dice = message.dice
    assert dice is not None
    return f"[dice {dice.emoji} {dice.value}]", ()


def _story(message: Message) -> Content:
    story = message.story
    assert story is not None
    return "[story]", (Attachment("story", f"{story.chat.id}/{story.id}"),)


def _checklist(message: Message) -> Content:
    checklist = message.checklist
    assert checklist is not None
    tasks = " / ".join(task.text for task in checklist.tasks)
    return f"[checklist: {checklist.title} ({tasks})]", ()


_CONVERTERS: dict[str, Callable[[Message], Content]] = {
    ContentType.TEXT: _text,
    ContentType.PHOTO: _photo,
    ContentType.LIVE_PHOTO: _live_photo,
    ContentType.DOCUMENT: _document,
    ContentType.VOICE: _voice,
    ContentType.STICKER: _sticker,
    ContentType.VIDEO: _video,
    ContentType.VIDEO_NOTE: _video_note,
    ContentType.AUDIO: _audio,
    ContentType.ANIMATION: _animation,
    ContentType.CONTACT: _contact,
    ContentType.LOCATION: _location,
    ContentType.VENUE: _venue,
    ContentType.POLL: _poll,
    ContentType.DICE: _dice,
    ContentType.STORY: _story,
    ContentType.CHECKLIST: _checklist,
}


def validation_summary(exc: ValidationError, most: int = 3) -> str:
    """Where an update does not fit the Bot API: field paths and messages, never the
    customer's values (they stay out of the logs)."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
        for error in exc.errors()[:most]
    )
    return f"{exc.error_count()} problem(s): {problems}"


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
    parts = [(part, None) for part in split_text(text or EMPTY_TEXT)]
    if message.sources:
        parts = _with_links(message)
    markup = _keyboard(message, callback_data)
    thread = int(message.thread) if message.thread and message.thread.isdigit() else None
    return [
        SendMessage(
            chat_id=int(message.conversation_id),
            text=part,
            parse_mode=mode,
            message_thread_id=thread,
            reply_markup=markup if last else None,
        )
        for (part, mode), last in _with_last(parts)
    ]


def _with_links(message: OutboundMessage) -> list[tuple[str, str | None]]:
    """An answer with sources: HTML with ``<a href>`` links (everything else escaped), in
    one message when it fits; else the text as plain parts, then the links on their own."""
    label = "Read more" if message.sources[0].number is None else "Sources"
    links = f"{label}: " + ", ".join(_link(s) for s in message.sources)
    whole = f"{html.escape(message.body, quote=False)}\n\n{links}"
    if utf16_len(whole) <= MAX_TEXT:
        return [(whole, "HTML")]
    return [*((part, None) for part in split_text(message.body)), (links[:MAX_TEXT], "HTML")]


def _link(source: Source) -> str:
    title = html.escape(source.label, quote=False)
    if not source.url.startswith(("https://", "http://")):
        return title
    return f'<a href="{html.escape(source.url, quote=True)}">{title}</a>'


def _display_text(message: OutboundMessage) -> str:
    if message.sender == "agent" and message.sender_name:
        return f"{message.sender_name}: {message.text}"
    return message.text


def _keyboard(
    message: OutboundMessage, callback_data: Callable[[str], str]
) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    def key(b: Button) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=b.label, callback_data=callback_data(b.value))

    plain, rating = split_rating(message.buttons)
    rows = [[key(b)] for b in plain]
    if rating:  # the rating prompt on one row, last: 👍 👎 or 1 2 3 4 5
        rows.append([key(b) for b in rating])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _with_last(parts: list[_Part]) -> list[tuple[_Part, bool]]:
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
