"""Expected failures are data: one ``ErrorCode`` enum and the ``UserError`` shape."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    TOO_MANY_LOOKUPS = "TOO_MANY_LOOKUPS"
    DUPLICATE = "DUPLICATE"
    PHONE_INVALID = "PHONE_INVALID"
    EMAIL_INVALID = "EMAIL_INVALID"
    PHONE_TAKEN = "PHONE_TAKEN"
    CUSTOMER_CODE_TAKEN = "CUSTOMER_CODE_TAKEN"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    CUSTOMER_HAS_TRANSACTIONS = "CUSTOMER_HAS_TRANSACTIONS"
    CONSENT_CHANNEL_MISSING = "CONSENT_CHANNEL_MISSING"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PAN_INVALID = "PAN_INVALID"
    GSTIN_INVALID = "GSTIN_INVALID"
    STATE_INVALID = "STATE_INVALID"
    REG_NO_INVALID = "REG_NO_INVALID"
    VAT_NO_INVALID = "VAT_NO_INVALID"
    CUSTOMER_MERGED = "CUSTOMER_MERGED"
    DISCOUNT_CODE_TAKEN = "DISCOUNT_CODE_TAKEN"
    DISCOUNT_CODE_INVALID = "DISCOUNT_CODE_INVALID"
    LOYALTY_CARD_IMMUTABLE = "LOYALTY_CARD_IMMUTABLE"
    CARD_NUMBER_TAKEN = "CARD_NUMBER_TAKEN"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    SKU_TAKEN = "SKU_TAKEN"
    PRODUCT_INACTIVE = "PRODUCT_INACTIVE"
    CUSTOMER_INACTIVE = "CUSTOMER_INACTIVE"
    SALE_NOT_OPEN = "SALE_NOT_OPEN"
    SALE_NOT_COMPLETED = "SALE_NOT_COMPLETED"
    SALE_EMPTY = "SALE_EMPTY"
    SALE_HAS_RETURNS = "SALE_HAS_RETURNS"
    CREDIT_NOT_ALLOWED = "CREDIT_NOT_ALLOWED"
    CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"
    POINTS_EXCEED_TOTAL = "POINTS_EXCEED_TOTAL"
    # Seed 004: loyalty is switched off for the shop, or the customer opted out.
    LOYALTY_DISABLED = "LOYALTY_DISABLED"
    RETURN_EXCEEDS_SOLD = "RETURN_EXCEEDS_SOLD"
    APPOINTMENT_CLOSED = "APPOINTMENT_CLOSED"
    ROLE_IN_USE = "ROLE_IN_USE"
    QUERY_TIMEOUT = "QUERY_TIMEOUT"
    WEBHOOK_URL_NOT_ALLOWED = "WEBHOOK_URL_NOT_ALLOWED"
    INVALID_CURSOR = "INVALID_CURSOR"
    # Online-store accounts (issue 10 §3).
    ACCOUNT_ACTIVE = "ACCOUNT_ACTIVE"
    NO_MESSAGE_CHANNEL = "NO_MESSAGE_CHANNEL"
    INVALID_RESET_CODE = "INVALID_RESET_CODE"
    INSUFFICIENT_SMS_CREDITS = "INSUFFICIENT_SMS_CREDITS"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 (an error code, not a password)
    SCENARIO_OFF = "SCENARIO_OFF"
    # A sales report crossing product and sale dimensions no aggregate holds together.
    REPORT_DIMENSIONS_INCOMPATIBLE = "REPORT_DIMENSIONS_INCOMPATIBLE"
    # Profile pictures (issue 13): app/domain/photos.py PhotoProblem, one code each.
    UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_MANY_PIXELS = "IMAGE_TOO_MANY_PIXELS"


@dataclass(frozen=True, slots=True)
class UserError:
    code: ErrorCode
    message: str
    # Path to the input field at fault, e.g. ["input", "phone"]; None for the whole call.
    field: tuple[str, ...] | None = None


class Rejected(Exception):
    """Raised inside a unit of work to roll it back and answer with ``errors``."""

    def __init__(self, *errors: UserError) -> None:
        super().__init__(", ".join(f"{e.code}: {e.message}" for e in errors))
        self.errors = list(errors)


def reject(code: ErrorCode, message: str, *field: str) -> Rejected:
    return Rejected(UserError(code=code, message=message, field=field or None))


class InvalidCursor(ValueError):
    """A paging cursor that this server did not hand out: the caller's mistake, not a bug."""

    code = ErrorCode.INVALID_CURSOR


class StatementTimeout(Exception):
    """A database statement ran past its time budget and was stopped; nothing was changed."""
