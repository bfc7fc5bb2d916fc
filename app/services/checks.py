"""Input checks shared by the services; each raises ``Rejected`` naming the input field."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from app.domain.errors import ErrorCode, reject

CENT = Decimal("0.01")


def required_text(raw: str, *, max_length: int, what: str, field: str) -> str:
    """Whitespace-collapsed text that must not be empty nor longer than ``max_length``."""
    text = " ".join(raw.split())
    if not text:
        raise reject(ErrorCode.REQUIRED, f"{what} is required.", "input", field)
    if len(text) > max_length:
        raise reject(
            ErrorCode.INVALID, f"{what} has at most {max_length} characters.", "input", field
        )
    return text


def at_most(text: str, max_length: int, what: str, *field: str) -> None:
    """Refuses text longer than its column: PostgreSQL would fail the insert, SQLite not."""
    if len(text) > max_length:
        raise reject(ErrorCode.INVALID, f"{what} has at most {max_length} characters.", *field)


def optional_text(raw: str | None, max_length: int, what: str, *field: str) -> str | None:
    """Trimmed free text (a note, a description) of at most ``max_length``; empty is None."""
    text = (raw or "").strip()
    if len(text) > max_length:
        raise reject(ErrorCode.INVALID, f"{what} has at most {max_length} characters.", *field)
    return text or None


def identifier(raw: str, pattern: re.Pattern[str], *, what: str, rule: str, field: str) -> str:
    """A code people type and scan (a SKU, a discount code): trimmed, and matching ``pattern``."""
    text = raw.strip()
    if not text:
        raise reject(ErrorCode.REQUIRED, f"{what} is required.", "input", field)
    if not pattern.fullmatch(text):
        raise reject(ErrorCode.INVALID, f"{what} is {rule}.", "input", field)
    return text


def two_decimals(value: Decimal, *, upper: Decimal, field: str) -> Decimal:
    """An exact amount from 0 to ``upper`` with at most two decimals, kept at two decimals."""
    try:
        exact = value.quantize(CENT)
    except InvalidOperation:
        exact = None
    if exact is None or exact != value or not 0 <= value <= upper:
        raise reject(
            ErrorCode.INVALID,
            f"Must be from 0 to {upper} with at most two decimals.",
            "input",
            field,
        )
    return abs(exact) if exact == 0 else exact  # -0 is 0: "-0.00" on a receipt is a bug


def utc_moment(value: datetime, *field: str) -> datetime:
    """An aware time, in UTC; one without its offset, or past the calendar's ends, is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        # A till's local time read as UTC would move the window by hours.
        raise reject(ErrorCode.INVALID, "Give the time with its offset.", *field)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
        raise reject(ErrorCode.INVALID, "The time is out of range.", *field) from None
