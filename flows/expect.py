"""Reading a slot's value out of what the customer wrote.

``pattern``: the first match of the regex anywhere in the text, ignoring
case (so "where is order nw-12345?" gives ``NW-12345``: a pattern whose own
letters are all capitals gives the value in capitals). ``choice``: one of the values, as whole words, ignoring
case and accents (a button press sends the value itself). ``kind = "email"``:
the first e-mail address; ``kind = "number"``: the first number.
"""

from __future__ import annotations

import re
from functools import lru_cache

from flows.config import ExpectConfig
from hub.text import fold, phrase_regex

__all__ = ["read_slot"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)?(?![\w])")

SlotValue = str | int | float


@lru_cache(maxsize=256)
def _pattern(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


def read_slot(expect: ExpectConfig | None, text: str) -> SlotValue | None:
    """The slot value found in ``text``, or None if there is none."""
    text = text.strip()
    if expect is None:
        return text or None
    if expect.pattern is not None:
        found = _pattern(expect.pattern).search(text)
        if found is None:
            return None
        return found.group(0).upper() if _capitals(expect.pattern) else found.group(0)
    if expect.choice is not None:
        return _choice(expect.choice, text)
    if expect.kind == "email":
        found = _EMAIL.search(text)
        return found.group(0) if found else None
    found = _NUMBER.search(text)
    if found is None:
        return None
    number = found.group(0).replace(",", ".")
    return float(number) if "." in number else int(number)


@lru_cache(maxsize=256)
def _capitals(pattern: str) -> bool:
    """True if the pattern's own letters (escapes aside) are all capitals: ``NW-\\d{5}``."""
    letters = [c for c in re.sub(r"\\.", "", pattern) if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _choice(choices: tuple[str, ...], text: str) -> str | None:
    folded = fold(text)
    for choice in choices:
        if fold(choice) == folded:
            return choice
    for choice in sorted(choices, key=len, reverse=True):
        regex = phrase_regex((choice,))
        if regex is not None and regex.search(folded):
            return choice
    return None
