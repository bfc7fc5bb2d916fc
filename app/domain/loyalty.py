"""Loyalty records: membership cards and the points ledger (seeds 001, 003)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class CardStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    # Lost or merged away: the number stops working and is never issued again.
    REPLACED = "REPLACED"


class PointsKind(enum.StrEnum):
    EARN = "EARN"
    REDEEM = "REDEEM"
    ADJUST = "ADJUST"
    EXPIRE = "EXPIRE"
    # A void or return: redeemed points given back, earned points taken back.
    RESTORE = "RESTORE"
    REVERSE = "REVERSE"


@dataclass(frozen=True, slots=True)
class LoyaltyCardRecord:
    id: uuid.UUID
    customer_id: uuid.UUID
    card_number: str
    discount_percent: Decimal
    status: CardStatus
    issued_at: datetime
    issued_by: str


@dataclass(frozen=True, slots=True)
class PointsEntryRecord:
    """One ledger entry; ``points`` is signed (redeem and expire are negative)."""

    id: int
    customer_id: uuid.UUID
    kind: PointsKind
    points: int
    reason: str | None
    sale_id: uuid.UUID | None
    card_number: str | None
    at: datetime
    actor_label: str
