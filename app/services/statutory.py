"""Statutory identifiers (seeds 001, 002): PAN, GSTIN and state (India), Reg No and VAT No.

Each check returns the normalised form (upper case, no separators) or raises
``Rejected`` naming the input field, so a cashier sees which box is wrong.
"""

from __future__ import annotations

import re

from app.domain.errors import ErrorCode, reject

# GST state codes (the first two digits of a GSTIN), per the GST Council's list.
GST_STATES: dict[str, str] = {
    "01": "Jammu and Kashmir",
    "02": "Himachal Pradesh",
    "03": "Punjab",
    "04": "Chandigarh",
    "05": "Uttarakhand",
    "06": "Haryana",
    "07": "Delhi",
    "08": "Rajasthan",
    "09": "Uttar Pradesh",
    "10": "Bihar",
    "11": "Sikkim",
    "12": "Arunachal Pradesh",
    "13": "Nagaland",
    "14": "Manipur",
    "15": "Mizoram",
    "16": "Tripura",
    "17": "Meghalaya",
    "18": "Assam",
    "19": "West Bengal",
    "20": "Jharkhand",
    "21": "Odisha",
    "22": "Chhattisgarh",
    "23": "Madhya Pradesh",
    "24": "Gujarat",
    "26": "Dadra and Nagar Haveli and Daman and Diu",
    "27": "Maharashtra",
    "29": "Karnataka",
    "30": "Goa",
    "31": "Lakshadweep",
    "32": "Kerala",
    "33": "Tamil Nadu",
    "34": "Puducherry",
    "35": "Andaman and Nicobar Islands",
    "36": "Telangana",
    "37": "Andhra Pradesh",
    "38": "Ladakh",
    "97": "Other Territory",
    "99": "Centre Jurisdiction",
}
_STATE_BY_NAME = {name.casefold(): code for code, name in GST_STATES.items()}

# The fourth letter of a PAN is the holder's type: P person, C company, H HUF, F firm, ...
_PAN = re.compile(r"[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z]")
_GSTIN = re.compile(r"[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]")
_REG_NO = re.compile(r"[A-Z0-9][A-Z0-9 ./-]{0,31}")
_VAT_NO = re.compile(r"(?:[A-Z]{2})?[0-9A-Z]{6,14}")
_SEPARATORS = re.compile(r"[\s.\-/]")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _compact(raw: str) -> str:
    return _SEPARATORS.sub("", raw).upper()


def gstin_check_character(first14: str) -> str:
    """The GSTIN's 15th character: a Luhn mod-36 checksum of the first 14."""
    total = 0
    for index, char in enumerate(first14):
        product = _BASE36.index(char) * (2 if index % 2 else 1)
        total += product // 36 + product % 36
    return _BASE36[(36 - total % 36) % 36]


def pan(raw: str) -> str:
    value = _compact(raw)
    if not _PAN.fullmatch(value):
        raise reject(
            ErrorCode.PAN_INVALID,
            "A PAN is 10 characters: 5 letters, 4 digits, 1 letter (e.g. ABCPE1234F).",
            "input",
            "pan",
        )
    return value


def gstin(raw: str) -> str:
    value = _compact(raw)
    if (
        not _GSTIN.fullmatch(value)
        or value[:2] not in GST_STATES
        or not _PAN.fullmatch(value[2:12])
        or gstin_check_character(value[:14]) != value[14]
    ):
        raise reject(
            ErrorCode.GSTIN_INVALID,
            "This is not a valid GSTIN (15 characters: state code, PAN, entity, Z, check).",
            "input",
            "gstin",
        )
    return value


def state(raw: str) -> str:
    """A GST state given by code ("27") or name ("Maharashtra"); stored as the code."""
    text = " ".join(raw.split())
    code = text.zfill(2) if text.isdigit() else _STATE_BY_NAME.get(text.casefold())
    if code not in GST_STATES:
        raise reject(
            ErrorCode.STATE_INVALID,
            "Unknown state: give its GST code (e.g. 27) or its name (e.g. Maharashtra).",
            "input",
            "state",
        )
    return code


def reg_no(raw: str) -> str:
    value = " ".join(raw.split()).upper()
    if not _REG_NO.fullmatch(value) or not any(c.isdigit() for c in value):
        raise reject(
            ErrorCode.REG_NO_INVALID,
            "A registration number has 1 to 32 letters, digits, spaces, '.', '/' or '-'"
            " and at least one digit.",
            "input",
            "regNo",
        )
    return value


def vat_no(raw: str) -> str:
    value = _compact(raw)
    if not _VAT_NO.fullmatch(value) or sum(c.isdigit() for c in value) < 6:
        raise reject(
            ErrorCode.VAT_NO_INVALID,
            "A VAT number is an optional 2-letter country prefix and 6 to 14 letters or"
            " digits, at least 6 of them digits (e.g. GB123456789).",
            "input",
            "vatNo",
        )
    return value


def cross_check(pan_value: str | None, gstin_value: str | None, state_code: str | None) -> None:
    """A GSTIN embeds the holder's state and PAN: they must agree with the ones given."""
    if gstin_value is None:
        return
    if state_code is not None and gstin_value[:2] != state_code:
        raise reject(
            ErrorCode.GSTIN_INVALID,
            f"The GSTIN is registered in state {gstin_value[:2]}, not {state_code}.",
            "input",
            "gstin",
        )
    if pan_value is not None and gstin_value[2:12] != pan_value:
        raise reject(
            ErrorCode.GSTIN_INVALID, "The GSTIN does not contain this PAN.", "input", "gstin"
        )
