"""Checks for each customer profile field: the normalised value, or ``Rejected`` naming the field.

One table, ``FIELD_CHECKS``, serves create, update and import, so a rule written once
holds for all three.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.records import AddressRecord, ContactChannel, Gender, PhoneRecord
from app.services import statutory
from app.services.checks import required_text, two_decimals
from app.services.phones import InvalidPhone, normalize_phone

NAME_MAX = 200
PART_MAX = 100
CODE_MAX = 64
REMARKS_MAX = 2000
LIST_MAX = 10
CREDIT_MAX = Decimal("999999999999.99")  # what NUMERIC(14, 2) holds
EARLIEST_BIRTH = date(1900, 1, 1)

# Domain field -> input field, for error paths (``["input", "creditLimit"]``).
INPUT_NAMES = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "customer_code": "customerCode",
    "first_name": "firstName",
    "last_name": "lastName",
    "birth_date": "birthDate",
    "gender": "gender",
    "pan": "pan",
    "gstin": "gstin",
    "state_code": "state",
    "reg_no": "regNo",
    "vat_no": "vatNo",
    "allow_credit_sale": "allowCreditSale",
    "credit_limit": "creditLimit",
    "preferred_channel": "preferredChannel",
    "willing_to_receive": "willingToReceive",
    "loyalty_opt_out": "loyaltyOptOut",
    "remarks": "remarks",
    "addresses": "addresses",
    "phones": "otherPhones",
}


def _optional(check: Callable[[Any], Any]) -> Callable[[Any, str], Any]:
    """Blank or None clears the field; anything else must pass ``check``."""

    def run(raw: Any, region: str) -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        return check(raw)

    return run


def name(raw: Any, region: str) -> str:
    if raw is None:
        raise reject(ErrorCode.REQUIRED, "A name is required.", "input", "name")
    return required_text(raw, max_length=NAME_MAX, what="A name", field="name")


def phone(raw: Any, region: str, field: tuple[str, ...] = ("input", "phone")) -> str:
    if raw is None or not raw.strip():
        raise reject(ErrorCode.REQUIRED, "A phone number is required.", *field)
    try:
        return normalize_phone(raw, region)
    except InvalidPhone:
        raise reject(ErrorCode.PHONE_INVALID, "This is not a valid phone number.", *field) from None


def email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise reject(ErrorCode.EMAIL_INVALID, str(exc), "input", "email") from None


def customer_code(raw: str) -> str:
    code = raw.strip()
    if len(code) > CODE_MAX:
        raise reject(
            ErrorCode.INVALID,
            f"A customer code has at most {CODE_MAX} characters.",
            "input",
            "customerCode",
        )
    return code


def _part(field: str, what: str) -> Callable[[str], str]:
    return lambda raw: required_text(raw, max_length=PART_MAX, what=what, field=field)


def birth_date(raw: date, today: date | None = None) -> date:
    today = today or date.today()
    if not EARLIEST_BIRTH <= raw <= today:
        raise reject(
            ErrorCode.INVALID,
            f"A date of birth is between {EARLIEST_BIRTH.isoformat()} and today.",
            "input",
            "birthDate",
        )
    return raw


def credit_limit(raw: Decimal) -> Decimal:
    return two_decimals(raw, upper=CREDIT_MAX, field="creditLimit")


def remarks(raw: str) -> str:
    text = raw.strip()
    if len(text) > REMARKS_MAX:
        raise reject(
            ErrorCode.INVALID,
            f"Remarks have at most {REMARKS_MAX} characters.",
            "input",
            "remarks",
        )
    return text


def _label(raw: str | None, *field: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    return required_text(raw, max_length=50, what="A label", field=field[-1])


def addresses(raw: Any, region: str) -> tuple[AddressRecord, ...]:
    items = list(raw or ())
    if len(items) > LIST_MAX:
        raise reject(ErrorCode.INVALID, f"At most {LIST_MAX} addresses.", "input", "addresses")
    errors: list[UserError] = []
    found: list[AddressRecord] = []
    for index, item in enumerate(items):
        at = ("input", "addresses", str(index))
        try:
            country = (item.country or "").strip().upper() or None
            if country is not None and country not in phonenumbers.SUPPORTED_REGIONS:
                raise reject(
                    ErrorCode.INVALID,
                    "A country is its ISO 3166 two-letter code, e.g. IN, MU, GB.",
                    *at,
                    "country",
                )
            found.append(
                AddressRecord(
                    line1=required_text(
                        item.line1 or "", max_length=200, what="Address line 1", field="line1"
                    ),
                    line2=_text(item.line2, 200, "line2"),
                    city=_text(item.city, 100, "city"),
                    region=_text(item.region, 100, "region"),
                    postal_code=_text(item.postal_code, 20, "postalCode"),
                    country=country,
                    label=_label(item.label, *at, "label"),
                )
            )
        except Rejected as rejected:
            # Point each error at its address: ["input", "addresses", "0", "line1"].
            errors.extend(
                UserError(e.code, e.message, (*at, (e.field or ("",))[-1])) for e in rejected.errors
            )
    if errors:
        raise Rejected(*errors)
    return tuple(found)


def _text(raw: str | None, max_length: int, field: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    return required_text(raw, max_length=max_length, what="This", field=field)


def phones(raw: Any, region: str) -> tuple[PhoneRecord, ...]:
    items = list(raw or ())
    if len(items) > LIST_MAX:
        raise reject(ErrorCode.INVALID, f"At most {LIST_MAX} extra phones.", "input", "otherPhones")
    errors: list[UserError] = []
    found: dict[str, PhoneRecord] = {}
    for index, item in enumerate(items):
        at = ("input", "otherPhones", str(index))
        try:
            number = phone(item.number, region, (*at, "number"))
            if number in found:
                raise reject(ErrorCode.DUPLICATE, "This number is listed twice.", *at, "number")
            found[number] = PhoneRecord(phone=number, label=_label(item.label, *at, "label"))
        except Rejected as rejected:
            errors.extend(rejected.errors)
    if errors:
        raise Rejected(*errors)
    return tuple(found.values())


def _enum(kind: type[Gender] | type[ContactChannel]) -> Callable[[Any, str], Any]:
    return lambda raw, region: None if raw is None else kind(raw)


def _flag(raw: Any, region: str) -> bool:
    return bool(raw)


FIELD_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "name": name,
    "phone": phone,
    "email": _optional(email),
    "customer_code": _optional(customer_code),
    "first_name": _optional(_part("firstName", "A first name")),
    "last_name": _optional(_part("lastName", "A last name")),
    "birth_date": _optional(birth_date),
    "gender": _enum(Gender),
    "pan": _optional(statutory.pan),
    "gstin": _optional(statutory.gstin),
    "state_code": _optional(statutory.state),
    "reg_no": _optional(statutory.reg_no),
    "vat_no": _optional(statutory.vat_no),
    "allow_credit_sale": _flag,
    "credit_limit": _optional(credit_limit),
    "preferred_channel": _enum(ContactChannel),
    "willing_to_receive": _flag,
    "loyalty_opt_out": _flag,
    "remarks": _optional(remarks),
    "addresses": addresses,
    "phones": phones,
}


def check_fields(raw: dict[str, Any], region: str) -> dict[str, Any]:
    """Check every given field and report all failures at once, not just the first."""
    values: dict[str, Any] = {}
    errors: list[UserError] = []
    for key, value in raw.items():
        try:
            values[key] = FIELD_CHECKS[key](value, region)
        except Rejected as rejected:
            errors.extend(rejected.errors)
    if errors:
        raise Rejected(*errors)
    return values


def check_profile(profile: dict[str, Any], changed: set[str]) -> dict[str, Any]:
    """Rules across fields, on the whole profile as it would be saved.

    Returns fields to set as a consequence (a state read from the GSTIN; a preference
    for a channel whose address was just removed is cleared, as consent is).
    """
    consequences: dict[str, Any] = {}
    gstin = profile.get("gstin")
    if gstin is not None and profile.get("state_code") is None:
        consequences["state_code"] = gstin[:2]
    statutory.cross_check(profile.get("pan"), gstin, profile.get("state_code"))
    if profile.get("allow_credit_sale") and profile.get("credit_limit") is None:
        raise reject(
            ErrorCode.REQUIRED,
            "Allowing credit sales needs a credit limit (0 or more).",
            "input",
            "creditLimit",
        )
    channel = profile.get("preferred_channel")
    missing = (channel is ContactChannel.EMAIL and not profile.get("email")) or (
        channel is ContactChannel.POST and not profile.get("addresses")
    )
    if missing:
        if "preferred_channel" in changed:
            raise reject(
                ErrorCode.INVALID,
                "The preferred channel needs its address: an email, or a postal address.",
                "input",
                "preferredChannel",
            )
        consequences["preferred_channel"] = None
    return consequences
