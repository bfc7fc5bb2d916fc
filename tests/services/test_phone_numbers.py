"""Phone normalisation and search prefixes, with examples and properties."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.services.phones import InvalidPhone, is_phone_like, normalize_phone, phone_search_prefixes
from app.services.text import name_key

FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


@st.composite
def us_numbers(draw: st.DrawFn) -> phonenumbers.PhoneNumber:
    area = draw(st.integers(200, 989))
    exchange = draw(st.integers(200, 999))
    line = draw(st.integers(0, 9999))
    number = phonenumbers.parse(f"+1{area}{exchange}{line:04d}")
    assume(phonenumbers.is_valid_number(number))
    return number


@given(us_numbers(), st.sampled_from(FORMATS))
def test_every_format_normalises_to_the_same_e164(number, fmt) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    typed = phonenumbers.format_number(number, fmt)
    assert normalize_phone(typed, "US") == e164
    assert normalize_phone(e164, "US") == e164  # idempotent
    digits = "".join(c for c in typed if c.isdigit())
    assert normalize_phone(digits, "US") == e164


@given(us_numbers(), st.integers(3, 9))
def test_every_typed_beginning_finds_the_number(number, length) -> None:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = e164[2:]
    prefixes = phone_search_prefixes(national[:length], "US")
    assert any(e164.startswith(p) for p in prefixes)
    spaced = " ".join(national[:length])
    assert any(e164.startswith(p) for p in phone_search_prefixes(spaced, "US"))


def test_national_trunk_prefix_is_dropped_for_partial_numbers() -> None:
    # A UK cashier types "07400 1…" for +44 7400 1…
    assert phone_search_prefixes("07400 1", "GB") == ("+4474001",)
    assert normalize_phone("07400 123456", "GB") == "+447400123456"


@pytest.mark.parametrize("raw", ["", "12", "call me", "+999 123"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw, "US")


@pytest.mark.parametrize(
    ("term", "expected"),
    [("212 555", True), ("(212)", True), ("+1", False), ("ada", False), ("C-77", False)],
)
def test_what_looks_like_a_phone(term: str, expected: bool) -> None:
    assert is_phone_like(term) is expected


@given(st.text())
def test_name_keys_are_folded_and_stable(text: str) -> None:
    key = name_key(text)
    assert name_key(key) == key
    assert key == key.strip()
    assert "  " not in key
    assert name_key(text.upper()) == name_key(text.lower()) or not text.isascii()


def test_name_key_examples() -> None:
    assert name_key("  José   ÁLVAREZ ") == "jose alvarez"
    assert name_key("Straße") == "strasse"
