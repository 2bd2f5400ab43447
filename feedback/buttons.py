"""Rating prompts as buttons: one reserved value format every channel carries.

A rating prompt is a set of :class:`~hub.envelope.Button` on the bot reply it
rates, each valued ``rate:<kind>:<value>:<message id>`` (``rate:thumbs:-1:<id>``,
``rate:csat:4:<id>``: at most 43 bytes, within Telegram's 64 of callback data).
Pressing one sends the value back as the customer's text, through each channel's
own button path (Telegram ``callback_query``, Slack ``block_actions``); the
webchat page shows them as a 👍/👎 (or 1–5) widget and sends a ``rating`` frame,
which its adapter turns into the same text. :func:`press_of` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedback.rating import RatingKind
from hub.envelope import Button

__all__ = [
    "COMMENT_CHARS",
    "PREFIX",
    "Press",
    "is_rating_button",
    "press_of",
    "press_text",
    "rating_buttons",
    "rating_kind",
    "split_rating",
]

PREFIX = "rate:"
COMMENT_CHARS = 1000  # a CSAT comment is kept up to this long
THUMBS: tuple[tuple[str, int], ...] = (("👍", 1), ("👎", -1))
CSAT: tuple[tuple[str, int], ...] = tuple((str(n), n) for n in range(1, 6))
_PRESS = re.compile(r"rate:(thumbs|csat):([+-]?\d):(\S{1,64})")


@dataclass(frozen=True, slots=True)
class Press:
    """A customer's press on a rating prompt (``comment`` from webchat's CSAT form)."""

    kind: RatingKind
    value: int
    message_id: str
    comment: str = ""


def press_text(kind: RatingKind, value: int, message_id: str) -> str:
    """The value of a rating button (what a press sends back)."""
    return f"{PREFIX}{kind}:{value:d}:{message_id}"


def rating_buttons(kind: RatingKind, message_id: str) -> tuple[Button, ...]:
    """The prompt's buttons for the reply ``message_id``."""
    choices = THUMBS if kind == "thumbs" else CSAT
    return tuple(Button(label, press_text(kind, value, message_id)) for label, value in choices)


def press_of(text: str, comment: str = "") -> Press | None:
    """The press a customer's text is, or None for an ordinary message."""
    if not text.startswith(PREFIX):
        return None
    match = _PRESS.fullmatch(text)
    if match is None:
        return None
    kind, value = match.group(1), int(match.group(2))
    if (kind == "thumbs" and value not in (1, -1)) or (kind == "csat" and not 1 <= value <= 5):
        return None
    return Press(kind, value, match.group(3), comment)  # type: ignore[arg-type]


def is_rating_button(button: Button) -> bool:
    return press_of(button.value) is not None


def rating_kind(buttons: tuple[Button, ...]) -> RatingKind | None:
    """The kind of rating prompt among ``buttons``, if any."""
    for button in buttons:
        press = press_of(button.value)
        if press is not None:
            return press.kind
    return None


def split_rating(buttons: tuple[Button, ...]) -> tuple[tuple[Button, ...], tuple[Button, ...]]:
    """(the ordinary buttons, the rating prompt's): for channels with their own widget.
    The prompt's kind is ``rating_kind`` of the second."""
    plain: list[Button] = []
    rating: list[Button] = []
    for button in buttons:
        (rating if is_rating_button(button) else plain).append(button)
    return tuple(plain), tuple(rating)
