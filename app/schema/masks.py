"""How personal data looks to a role without CUSTOMER_VIEW_PII: enough to recognise, not to use."""

from __future__ import annotations

from typing import Any


def phone(value: str | None) -> str | None:
    """``+12125550123`` → ``+1•••••••0123``: a cashier can confirm the last digits."""
    if not value:
        return value
    return value[:2] + "•" * max(len(value) - 6, 0) + value[-4:]


def email(value: str | None) -> str | None:
    """``ada@example.com`` → ``a•••@example.com``."""
    if not value or "@" not in value:
        return value
    local, _, domain = value.partition("@")
    return f"{local[:1]}•••@{domain}"


def hidden(value: Any) -> None:
    return None


def nothing(value: Any) -> list[Any]:
    return []


def _other_phones(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    # Updates record [{"phone", "label"}]; merges record the moved numbers as strings.
    return [
        {**item, "phone": phone(item.get("phone"))} if isinstance(item, dict) else phone(item)
        for item in value
    ]


# The personal keys of an audit snapshot (API field names) and how each is masked.
AUDIT_MASKS: dict[str, Any] = {
    "phone": phone,
    "email": email,
    "birthDate": hidden,
    "pan": hidden,
    "gstin": hidden,
    "regNo": hidden,
    "vatNo": hidden,
    "addresses": nothing,
    "otherPhones": _other_phones,
}


def audit_values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """An audit entry's before/after as a role without CUSTOMER_VIEW_PII may see it."""
    if values is None:
        return None
    return {k: AUDIT_MASKS[k](v) if k in AUDIT_MASKS else v for k, v in values.items()}
