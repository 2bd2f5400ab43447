"""The Telegram channel: aiogram against the Bot API, polling or webhook."""

from adapters.telegram.adapter import SECRET_HEADER, TelegramAdapter, build_bot
from adapters.telegram.convert import BotIdentity, split_text, to_envelope, to_platform
from adapters.telegram.ratelimit import SendPacer

__all__ = [
    "SECRET_HEADER",
    "BotIdentity",
    "SendPacer",
    "TelegramAdapter",
    "build_bot",
    "split_text",
    "to_envelope",
    "to_platform",
]
