"""Opaque keyset cursors: base64 of the JSON sort key, so pages stay stable under inserts."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from app.domain.errors import InvalidCursor


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidCursor("malformed cursor")
    return key
