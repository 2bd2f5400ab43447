"""Personal data out of text before it leaves for a provider or reaches a log.

:func:`scrub` replaces e-mail addresses, IBANs (ISO 13616 mod-97 checksum),
card numbers (13 to 19 digits passing Luhn) and phone numbers with
placeholders. Checksums keep order and account numbers, which the model needs
to see, from being mistaken for cards or IBANs.
"""

from __future__ import annotations

import re

__all__ = ["has_pii", "scrub"]

EMAIL = "[email]"
IBAN = "[iban]"
CARD = "[card]"
PHONE = "[phone]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# International (+...), or national numbers written with separators or a trunk 0.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{6,18}\d"
    r"|\(?\d{2,5}\)?[ .-]\d{2,4}[ .-]\d{2,5}(?:[ .-]\d{2,4})?"
    r"|0\d{9,10})(?![\w-])"
)


def luhn_ok(digits: str) -> bool:
    """True if the digit string passes the Luhn checksum."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """True if ``candidate`` (spaces allowed) has a valid IBAN checksum."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _iban(match: re.Match[str]) -> str:
    return IBAN if iban_ok(match.group(0)) else match.group(0)


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return CARD if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    shortest = 8 if found.startswith("+") else 9  # 9+: dates such as 2024-05-01 stay
    return PHONE if shortest <= len(digits) <= 15 else found


def scrub(text: str) -> str:
    """``text`` with personal data replaced by ``[email]``, ``[iban]``, ``[card]``, ``[phone]``."""
    text = _EMAIL.sub(EMAIL, text)
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def has_pii(text: str) -> bool:
    """True if :func:`scrub` would change ``text``."""
    return scrub(text) != text
