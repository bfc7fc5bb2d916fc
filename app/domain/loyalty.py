"""Loyalty: membership cards, the points ledger (seeds 001, 003), and whether the
programme is on for a customer (seed 004)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


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


class LoyaltySwitch(Protocol):
    """The shop's setting (BusinessSettingsRecord)."""

    @property
    def loyalty_enabled(self) -> bool: ...


class LoyaltyMember(Protocol):
    """A customer's own choice (CustomerRecord, or what a sale read with the offers)."""

    @property
    def loyalty_opt_out(self) -> bool: ...


def loyalty_active(settings: LoyaltySwitch, customer: LoyaltyMember | None) -> bool:
    """Whether the loyalty programme works for this customer in this business: the one
    decision behind card discounts, earning and redeeming (seed 004 "Enable loyalty
    function").

    Off for the whole shop (``loyaltyEnabled``) or for a customer who opted out: no card
    discount, no points earned or redeemed. Balances and cards stay as they are and are
    shown; group discounts and discount codes are not loyalty and still apply. A walk-in
    sale (no customer) has no programme to take part in.
    """
    return settings.loyalty_enabled and customer is not None and not customer.loyalty_opt_out
