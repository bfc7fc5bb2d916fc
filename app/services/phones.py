"""Phone numbers: stored as E.164, searchable in any format (DESIGN.md §3)."""

from __future__ import annotations

import re

import phonenumbers

_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str) -> str:
    """E.164 for a number typed in any format; national numbers are read in ``region``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_phone_like(term: str) -> bool:
    return bool(_PHONE_LIKE.match(term)) and sum(c.isdigit() for c in term) >= 2


LAST_DIGITS_MIN = 4


def whole_number(term: str, region: str) -> str | None:
    """The E.164 number ``term`` is, in any format, or None if it is not a whole number."""
    try:
        return normalize_phone(term, region)
    except InvalidPhone:
        return None


def last_digits(term: str) -> str | None:
    """The digits of ``term`` if it can be a number's ending said aloud ("the last four
    digits"): at least four digits and no leading "+", which only a number's start has."""
    if term.strip().startswith("+"):
        return None
    digits = "".join(c for c in term if c.isdigit())
    return digits if len(digits) >= LAST_DIGITS_MIN else None


def phone_search_prefixes(term: str, region: str) -> tuple[str, ...]:
    """E.164 prefixes a typed (possibly partial) number may stand for.

    "+1 212 555", "(212) 555-0100" and "2125550100" all become "+1212555…" ranges, so
    a cashier finds the customer whatever format they type or however much of it.
    """
    digits = "".join(c for c in term if c.isdigit())
    if term.strip().startswith("+"):
        return (f"+{digits}",)
    try:
        return (normalize_phone(term, region),)
    except InvalidPhone:
        pass
    country_code = phonenumbers.country_code_for_region(region)
    national = digits
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    trunk = metadata.national_prefix if metadata is not None else None
    if trunk and national.startswith(trunk):
        national = national[len(trunk) :]
    prefixes = [f"+{country_code}{national}"]
    # Typed with the country code but no "+": "1212555" or "447700".
    if f"+{digits}" != prefixes[0] and not digits.startswith("0"):
        prefixes.append(f"+{digits}")
    return tuple(prefixes)
