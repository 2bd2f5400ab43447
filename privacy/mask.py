"""Masking what customers said before it is stored: the LLM scrubber's detectors.

``[privacy] mask_transcripts = true`` stores transcript text through
:func:`mask`; the conversation index's ``last_text`` is always masked. The
detectors are :func:`providers.pii.scrub`'s (e-mails, phones, Luhn-valid card
numbers, IBANs), imported on first use.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

from hub.inbox import preview

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.conversation import TranscriptEntry

__all__ = ["mask", "masked_entry", "masked_preview"]


@cache
def _scrubber() -> Callable[[str], str]:
    from providers.pii import scrub

    return scrub


def mask(text: str) -> str:
    """``text`` with e-mails, phones, cards and IBANs replaced by ``[email]``, ..."""
    return _scrubber()(text) if text else text


def masked_entry(entry: TranscriptEntry) -> TranscriptEntry:
    """The transcript entry with its text masked (the same entry if nothing changed)."""
    text = mask(entry.text)
    return entry if text == entry.text else replace(entry, text=text)


def masked_preview(text: str) -> str:
    """The index's ``last_text`` for a line: masked, then cut (a cut first could
    leave half a card number the detectors no longer recognise)."""
    return preview(mask(text))
