"""Opaque keyset cursors: base64 of the JSON sort key, so pages stay stable under inserts."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_

from app.domain.errors import InvalidCursor
from app.domain.records import Page

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


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


# The largest id or change number a cursor may name (BIGINT).
MAX_NUMBER = 2**63 - 1


def number_cursor(cursor: str) -> int:
    """A cursor holding one id or change number, checked, or ``InvalidCursor``."""
    (value,) = decode_cursor(cursor, 1)
    # bool is an int in Python: [true] must not pass as 1.
    if type(value) is not int or not 0 <= value <= MAX_NUMBER:
        raise InvalidCursor("malformed cursor")
    return value


def key_and_id_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    """A cursor holding a sort key and a record id, checked, or ``InvalidCursor``."""
    key, raw_id = decode_cursor(cursor, 2)
    # NUL: PostgreSQL cannot compare it, and the schema's NUL guard cannot see into base64.
    if not isinstance(key, str) or not isinstance(raw_id, str) or "\x00" in key:
        raise InvalidCursor("malformed cursor")
    try:
        return key, uuid.UUID(raw_id)
    except ValueError:
        raise InvalidCursor("malformed cursor") from None


def time_and_id_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """A cursor holding an aware time (in UTC) and a record id, or ``InvalidCursor``."""
    raw, record_id = key_and_id_cursor(cursor)
    try:
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None:
            raise ValueError("no offset")
        return at.astimezone(UTC), record_id
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:00-05:00 is past year 9999
        raise InvalidCursor("malformed cursor") from None


def after_rank_key_and_id(rank: Any, key: Any, id_: Any, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor's (rank, key, id) in ``ORDER BY rank, key, id``."""
    last_rank, last_key, raw_id = decode_cursor(cursor, 3)
    if type(last_rank) is not int or not 0 <= last_rank <= 1:
        raise InvalidCursor("malformed cursor")
    last_key, last_id = key_and_id_cursor(encode_cursor(last_key, raw_id))
    return or_(
        rank > last_rank,
        and_(rank == last_rank, or_(key > last_key, and_(key == last_key, id_ > last_id))),
    )


def after_key_and_id(key: Any, id_: Any, cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor's (key, id) in ``ORDER BY key, id``: the keyset condition."""
    last_key, last_id = key_and_id_cursor(cursor)
    return or_(key > last_key, and_(key == last_key, id_ > last_id))


def group_by(items: Iterable[T], key: Callable[[T], K]) -> defaultdict[K, list[T]]:
    """Items per parent, in the order they came (a statement's ORDER BY)."""
    grouped: defaultdict[K, list[T]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def pages_by_parent(
    parent_ids: Sequence[K],
    items: Mapping[K, list[T]],
    first: int,
    totals: Mapping[K, int],
    cursor: Callable[[T], str],
) -> dict[K, Page[T]]:
    """One page per parent from up to ``first + 1`` items each (the extra one: a next page)."""
    pages = {}
    for parent_id in parent_ids:
        found = items.get(parent_id, [])
        pages[parent_id] = Page(
            items=[(cursor(item), item) for item in found[:first]],
            has_next=len(found) > first,
            total=int(totals.get(parent_id, 0)),
        )
    return pages
