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
