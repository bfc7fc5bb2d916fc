"""Idempotency keys (DESIGN.md §3): a till that retries after a dropped connection gets
the first result back, never a second customer, sale or payment."""

from __future__ import annotations

import enum
import hashlib
import json
from decimal import Decimal
from typing import Any

from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor
from app.services.unit_of_work import UnitOfWork


def scope_of(actor: Actor | None) -> str:
    """Keys are the caller's own: one till's key never replays another till's call."""
    if actor is None:
        return "anonymous"
    return actor.caller_key


KEY_MAX = 128  # idempotency_keys.key


class Operation(enum.StrEnum):
    """What a key was used for (``idempotency_keys.operation``): the mutation's name.

    One key may name one call of each operation, so a till can reuse its request counter
    across operations without one replaying another.
    """

    CUSTOMER_CREATE = "customerCreate"
    APPOINTMENT_CREATE = "appointmentCreate"
    SALE_CREATE = "saleCreate"
    SALE_ADD_LINES = "saleAddLines"
    SALE_UPDATE_LINE = "saleUpdateLine"
    SALE_REMOVE_LINE = "saleRemoveLine"
    SALE_COMPLETE = "saleComplete"
    SALE_RETURN = "saleReturn"
    ACCOUNT_PAYMENT = "customerAccountPayment"
    LOYALTY_CARD_ISSUE = "loyaltyCardIssue"
    LOYALTY_POINTS_ADJUST = "loyaltyPointsAdjust"
    DISCOUNT_CODE_CREATE = "discountCodeCreate"
    CUSTOMER_GROUP_CREATE = "customerGroupCreate"
    MARKETING_MESSAGE_SEND = "marketingMessageSend"


def _plain(value: object) -> str:
    # 1.0 and 1.00 are one price: a retry that formats it differently is the same request.
    return str(value.normalize()) if isinstance(value, Decimal) else str(value)


def request_hash(request: dict[str, Any]) -> str:
    text = json.dumps(request, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


async def earlier_result(
    uow: UnitOfWork, operation: Operation, key: str | None, digest: str, *field: str
) -> str | None:
    """The result id of an earlier call with this key, or None for a first call.

    The same key with a different request is refused: replaying it would answer a
    question the caller did not ask.
    """
    if not key:
        return None
    if len(key) > KEY_MAX:
        raise reject(ErrorCode.INVALID, f"A key has at most {KEY_MAX} characters.", *field)
    earlier = await uow.idempotency.find(scope_of(uow.actor), operation, key)
    if earlier is None:
        return None
    if earlier.request_hash != digest:
        raise reject(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for a different request.",
            *field,
        )
    return earlier.result_id


async def remember(
    uow: UnitOfWork, operation: Operation, key: str | None, digest: str, result_id: str
) -> None:
    """Store the result under the key; a racing retry's insert then fails and replays."""
    if key:
        await uow.idempotency.insert(scope_of(uow.actor), operation, key, digest, result_id)


async def replay_or_reserve(
    uow: UnitOfWork,
    operation: Operation,
    key: str | None,
    digest: str,
    result_id: str,
    *field: str,
) -> str | None:
    """The result id of an earlier call with this key, or None once the key is ours.

    The key is written *before* the work rather than after it. A retry racing the first
    call (a till resending while the first answer is still on its way) then waits on the
    key's unique index (PostgreSQL; SQLite has one writer anyway) until the first call
    commits, fails on it, and replays it when ``Transactions.run`` runs it again. Were the
    key written last, the retry would first do the work again: add a second mug, or find
    the points the first call spent gone and answer INSUFFICIENT_POINTS instead of the
    first result. A first call that is refused rolls its key back with everything else,
    so its retry is checked afresh. Only for calls whose result id is known beforehand.
    A first call costs one statement: the insert that finds no key in its way.
    """
    if not key:
        return None
    if len(key) <= KEY_MAX and await uow.idempotency.reserve(
        scope_of(uow.actor), operation, key, digest, result_id
    ):
        return None
    earlier = await earlier_result(uow, operation, key, digest, *field)
    assert earlier is not None  # keys are never deleted: the one that stopped the insert
    return earlier
