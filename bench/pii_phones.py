"""Phone detection in providers/pii.py: libphonenumber against the regexes it replaced.

    .venv/bin/python -m bench.pii_phones

Scores both on the personal-data table (``tests/abuse/pii_cases.py``): a
placeholder in the output counts as found when the expected output has it
too (per case and kind), as a false alarm when it does not. Everything but the
phone step is the same in both runs.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

from providers import pii
from tests.abuse.pii_cases import CASES

# The phone step before libphonenumber (providers/pii.py until issue 19).
_LEGACY = re.compile(
    r"(?<![\w+])(?:\+\d[\d ().-]{6,18}\d"
    r"|\(?\d{2,5}\)?[ .-]\d{2,4}[ .-]\d{2,5}(?:[ .-]\d{2,4})?"
    r"|0\d{9,10})(?![\w-])"
)


def _legacy(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    shortest = 8 if found.startswith("+") else 9
    return pii.PHONE if shortest <= len(digits) <= 15 else found


def _scrub_with(phones: Callable[[str], str]) -> Callable[[str], str]:
    def scrub(text: str) -> str:
        text = pii._EMAIL.sub(pii._email, text)
        text = pii._IBAN.sub(pii._iban, text)
        text = pii._CARD.sub(pii._card, text)
        return phones(text)

    return scrub


KINDS = (pii.EMAIL, pii.IBAN, pii.CARD, pii.PHONE)


def score(scrub: Callable[[str], str]) -> dict[str, Counter[str]]:
    tally = {kind: Counter() for kind in KINDS}
    for text, expected in CASES:
        got = scrub(text)
        for kind in KINDS:
            want, have = expected.count(kind), got.count(kind)
            tally[kind]["tp"] += min(want, have)
            tally[kind]["fp"] += max(0, have - want)
            tally[kind]["fn"] += max(0, want - have)
    return tally


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def main() -> None:
    runs = {
        "regex (before)": _scrub_with(lambda t: _LEGACY.sub(_legacy, t)),
        "phonenumbers (now)": _scrub_with(lambda t: pii._PHONE.sub(pii._phone, t)),
    }
    print(f"{len(CASES)} cases")
    print(f"{'phone step':<20} {'kind':<8} {'tp':>3} {'fp':>3} {'fn':>3} {'precision':>9} {'recall':>7}"
          f" {'us/case':>8}")
    for name, scrub in runs.items():
        started = time.perf_counter()
        for _ in range(20):
            for text, _expected in CASES:
                scrub(text)
        per_case = (time.perf_counter() - started) / (20 * len(CASES)) * 1e6
        for kind, c in score(scrub).items():
            print(f"{name:<20} {kind:<8} {c['tp']:>3} {c['fp']:>3} {c['fn']:>3} "
                  f"{_ratio(c['tp'], c['tp'] + c['fp']):>9} {_ratio(c['tp'], c['tp'] + c['fn']):>7}"
                  f" {per_case:>8.1f}")


if __name__ == "__main__":
    main()
