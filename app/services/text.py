"""Search keys for names and emails: case-folded, accents and extra spaces removed."""

from __future__ import annotations

import unicodedata


def name_key(name: str) -> str:
    # Compatibility forms first (a math-italic A is an A), then case, then what casefold made.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def email_key(email: str) -> str:
    return email.strip().casefold()
