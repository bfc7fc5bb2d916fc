"""Opaque IDs on the wire are UUIDs."""

from __future__ import annotations

import uuid

# Names no record (we only ever generate version-4 UUIDs), so a malformed id is
# answered NOT_FOUND like any unknown one instead of failing the request.
NO_SUCH_ID = uuid.UUID(int=0)


def parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return NO_SUCH_ID
