"""Personal data out of text before it leaves for a provider or reaches a log.

:func:`scrub` replaces e-mail addresses, IBANs, card numbers and phone numbers
with placeholders. Each detector is strict about shape and checksum, so that
what the model needs to see (order and tracking numbers, dates, prices,
versions, Redis stream ids) stays:

- **e-mail**: ``jane@example.com``, and the obfuscated forms customers type
  (``jane.doe at example dot com``, ``jane [at] example [dot] com``,
  ``jane(at)example(dot)com``). A bare ``at`` counts only with a spelled-out
  "dot", an address-like local part (``j.smith``, ``jane_doe``) or a common
  mail provider: "available at northwind.example" is not an address.
- **IBAN**: any case, with or without spaces or dashes, passing ISO 13616's
  mod-97 checksum and the country's length.
- **card**: 13 to 19 digits, contiguous or in the groups cards are printed in
  (4-4-4-4, 4-4-4-4-3, 4-6-5, 4-6-4), separated by spaces, dashes or dots
  (one kind throughout), with a network's prefix and length, passing Luhn.
  A stream id ``1796157836600-1`` is none of these shapes.
- **phone**: candidates (digits with spaces, dots, dashes, brackets, an
  optional ``+`` or ``00``) confirmed by Google's libphonenumber
  (``phonenumbers``): international numbers for any country, national ones
  for :data:`NATIONAL_REGIONS`. It measured better than the regexes it
  replaced (``bench/pii_phones.py``: on ``tests/abuse/pii_cases.py``).
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["NATIONAL_REGIONS", "has_pii", "iban_ok", "luhn_ok", "scrub"]

EMAIL = "[email]"
IBAN = "[iban]"
CARD = "[card]"
PHONE = "[phone]"

# National numbers (no + or 00) are tried as numbers of these countries, in order.
NATIONAL_REGIONS = ("US", "GB", "DE", "FR")

# -- cheap first looks: most log lines and messages need neither step -------------------
_MAYBE_EMAIL = re.compile(r"@|\bat\b", re.IGNORECASE)
_MAYBE_NUMBER = re.compile(r"\d")

# -- e-mail ------------------------------------------------------------------------------
_BRACKETED = r"\s*(?:\[\s*{w}\s*\]|\(\s*{w}\s*\)|\{{\s*{w}\s*\}}|<\s*{w}\s*>)\s*"
_AT = rf"(?P<at>\s*@\s*|{_BRACKETED.format(w='at')}|\s+at\s+)"
_SPELLED_DOT = rf"(?:{_BRACKETED.format(w='dot')}|\s+dot\s+)"
_DOT = rf"(?:\.|{_SPELLED_DOT})"
_LOCAL = rf"[\w+-]+(?:{_DOT}[\w+-]+)*"
_DOMAIN = rf"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:{_DOT}[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*{_DOT}[a-z]{{2,24}}"
_EMAIL = re.compile(
    rf"(?<![\w.+-])\b(?P<local>{_LOCAL}){_AT}(?P<domain>{_DOMAIN})(?![\w-]|\.[a-z0-9])",
    re.IGNORECASE,
)
_IS_SPELLED_DOT = re.compile(_SPELLED_DOT, re.IGNORECASE)
_ADDRESS_LIKE_LOCAL = re.compile(r"[._+\d]")
MAIL_PROVIDERS = frozenset(
    "gmail googlemail yahoo ymail outlook hotmail live msn icloud me aol proton protonmail "
    "gmx web mail yandex zoho fastmail hey qq 163 126 orange free laposte t-online btinternet".split()
)

# -- IBAN --------------------------------------------------------------------------------
_IBAN = re.compile(
    r"(?<![\w-])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?(?![\w-])",
    re.IGNORECASE,
)
# ISO 13616 registry: the length of each country's IBAN.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

# -- cards -------------------------------------------------------------------------------
_CARD = re.compile(
    r"(?<![\w.,+/-])(?:"
    r"\d{13,19}"
    r"|\d{4}(?P<s>[ .-])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"
    r"|\d{4}(?P<t>[ .-])\d{6}(?P=t)\d{4,5}"
    r")(?![\w-]|[.,/:]\d)"
)

# -- phones ------------------------------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w.,/:+#-])(?:\+|\b00)?\(?\d[\d ().-]{5,22}\d(?![\w/:-]|[.,]\d)"
)
_NOT_A_PHONE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}"  # 2024-05-01
    r"|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}"  # 01/05/2024, 05.01.2024
    r"|\d{1,3}(?:\.\d{1,3}){3}"  # an IPv4 address
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
    """True if ``candidate`` (any case, spaces or dashes allowed) is a valid IBAN."""
    compact = re.sub(r"[ -]", "", candidate).upper()
    if IBAN_LENGTHS.get(compact[:2], 0) != len(compact) or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def card_network_ok(digits: str) -> bool:
    """True if a card network issues numbers with this prefix and length."""
    n, first = len(digits), digits[0]
    if first == "4":  # Visa
        return n in (13, 16, 19)
    if first == "3":
        two = digits[:2]
        if two in ("34", "37"):  # American Express
            return n == 15
        if two in ("30", "36", "38", "39"):  # Diners Club
            return 14 <= n <= 19
        return two == "35" and 16 <= n <= 19  # JCB
    if first == "2":  # Mastercard 2-series, Mir
        return n == 16 or (digits[:3] == "220" and 16 <= n <= 19)
    if first == "5":  # Mastercard, Maestro
        return n == 16 if "51" <= digits[:2] <= "55" else 13 <= n <= 19
    return first == "6" and 13 <= n <= 19  # Discover, UnionPay, Maestro, RuPay


def _email(match: re.Match[str]) -> str:
    local, domain = match.group("local"), match.group("domain")
    if match.group("at").strip().lower() != "at":
        return EMAIL
    spelled = _IS_SPELLED_DOT.search(local) or _IS_SPELLED_DOT.search(domain)
    provider = re.split(r"[.\s\[({<]", domain, maxsplit=1)[0].lower() in MAIL_PROVIDERS
    if spelled or provider or _ADDRESS_LIKE_LOCAL.search(local):
        return EMAIL
    return match.group(0)  # "available at northwind.example": a place, not an address


def _iban(match: re.Match[str]) -> str:
    found = match.group(0)
    parts = re.split(r"(?<=[ -])", found)  # groups, each keeping its separator
    for end in range(len(parts), 0, -1):  # the longest valid prefix: words may follow
        head = "".join(parts[:end])
        if iban_ok(head):
            tail = found[len(head.rstrip(" -")):]
            return IBAN + tail
    return found


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and card_network_ok(digits) and luhn_ok(digits):
        return CARD
    return match.group(0)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    if found.count("(") != found.count(")"):
        return found
    if _NOT_A_PHONE.fullmatch(found):
        return found
    digits = re.sub(r"\D", "", found)
    if not 7 <= len(digits) <= 15:
        return found
    if found.startswith(("+", "00")):
        number = "+" + digits[2:] if found.startswith("00") else found
        return PHONE if _valid(number) else found
    if len(digits) >= 9 and any(_national(found, digits, r) for r in NATIONAL_REGIONS):
        return PHONE
    return found


def _national(found: str, digits: str, region: str) -> bool:
    """A national number of ``region``. Where the country's trunk prefix is 0 (the UK,
    Germany, France), only written with it: a bare run of digits is rarely a phone
    there. North America's trunk prefix 1 is usually left out."""
    trunk = phonenumbers.PhoneMetadata.metadata_for_region(region).national_prefix
    if trunk == "0" and not digits.startswith(trunk):
        return False
    return _valid(found, region)


def _valid(number: str, region: str | None = None) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed)


def scrub(text: str) -> str:
    """``text`` with personal data replaced by ``[email]``, ``[iban]``, ``[card]``, ``[phone]``."""
    if _MAYBE_EMAIL.search(text):
        text = _EMAIL.sub(_email, text)
    if not _MAYBE_NUMBER.search(text):
        return text
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def has_pii(text: str) -> bool:
    """True if :func:`scrub` would change ``text``."""
    return scrub(text) != text
