"""The personal-data table (tests/abuse/pii_cases.py): what must be masked, and what must not."""

from __future__ import annotations

import pytest

from providers.pii import has_pii, iban_ok, luhn_ok, scrub
from tests.abuse.pii_cases import CASES, NEAR_MISSES


def test_the_table_is_big_enough_and_has_near_misses() -> None:
    assert len(CASES) >= 60 and len(NEAR_MISSES) >= 25


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected
    assert scrub(expected) == expected  # placeholders and what was kept stay as they are
    assert has_pii(text) == (text != expected)


def test_a_redis_stream_id_that_passes_luhn_is_not_a_card() -> None:
    assert luhn_ok("17961578366001")  # the shape, not the checksum, keeps it
    assert scrub("read up to 1796157836600-1") == "read up to 1796157836600-1"


def test_iban_any_case_and_country_length() -> None:
    assert iban_ok("gb82 west 1234 5698 7654 32") and iban_ok("GB82-WEST-1234-5698-7654-32")
    assert not iban_ok("GB82 WEST 1234 5698 7654 3")  # a digit short for the UK
