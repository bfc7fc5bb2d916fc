"""Loyalty card and points ledger types and inputs (seeds 001, 003)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.domain import loyalty
from app.schema.pagination import Connection

strawberry.enum(loyalty.CardStatus)
strawberry.enum(loyalty.PointsKind)


@strawberry.type(
    description="A membership card; its number is also the scannable code. Never changes."
)
class LoyaltyCard:
    card_number: str = strawberry.field(description="Upper-cased as stored; search finds it.")
    discount_percent: Decimal
    status: loyalty.CardStatus
    issued_at: datetime
    issued_by: str

    @classmethod
    def from_record(cls, r: loyalty.LoyaltyCardRecord) -> LoyaltyCard:
        return cls(
            card_number=r.card_number,
            discount_percent=r.discount_percent,
            status=r.status,
            issued_at=r.issued_at,
            issued_by=r.issued_by,
        )


@strawberry.type(description="One movement of a customer's points; the balance is their sum.")
class PointsEntry:
    id: strawberry.ID
    kind: loyalty.PointsKind
    points: int = strawberry.field(description="Signed: redeemed and expired points are negative.")
    reason: str | None
    sale_id: strawberry.ID | None
    card_number: str | None = strawberry.field(description="The card active at the time.")
    at: datetime
    actor: str

    @classmethod
    def from_record(cls, r: loyalty.PointsEntryRecord) -> PointsEntry:
        return cls(
            id=strawberry.ID(str(r.id)),
            kind=r.kind,
            points=r.points,
            reason=r.reason,
            sale_id=strawberry.ID(str(r.sale_id)) if r.sale_id else None,
            card_number=r.card_number,
            at=r.at,
            actor=r.actor_label,
        )


PointsEntryConnection = Connection[PointsEntry]


@strawberry.input
class LoyaltyCardInput:
    card_number: str = strawberry.field(
        description="4-64 letters, digits or '-'; any case. Never reused once issued."
    )
    discount_percent: Decimal = strawberry.field(description="0 to 100, two decimals.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key gets the first result back, never a second card.",
    )


@strawberry.input
class LoyaltyCardReplaceInput:
    new_card_number: str = strawberry.field(description="The new card; the old one stops working.")
    reason: str = strawberry.field(description="e.g. lost, stolen, damaged.")


@strawberry.input
class LoyaltyPointsAdjustInput:
    points: int = strawberry.field(description="Signed, not zero; the balance never goes below 0.")
    reason: str
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key gets the first result back; the points move once.",
    )
