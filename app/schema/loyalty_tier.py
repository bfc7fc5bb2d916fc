"""Loyalty tier types, inputs and payloads (issue 13: seed 003's membership plans)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.domain import tiers
from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.services.loyalty_tiers import TierChangeDraft, TierDraft
from app.services.unit_of_work import Result

strawberry.enum(
    tiers.TierBasis,
    description="SPEND: completed sales less returns; POINTS: points earned less those "
    "taken back; either over the tier's window.",
)


@strawberry.type(
    description="A membership plan a customer earns by spend or points over a rolling window "
    "(seed 003); the highest-ranked tier reached applies (docs/sales.md)."
)
class LoyaltyTier:
    id: strawberry.ID
    name: str
    rank: int = strawberry.field(description="The higher rank wins when several are reached.")
    basis: tiers.TierBasis
    threshold: Decimal = strawberry.field(
        description="Money for SPEND, whole points for POINTS, reached within windowDays."
    )
    window_days: int
    points_multiplier: Decimal = strawberry.field(
        description="Points a holder's sale earns are multiplied by this (1: as usual)."
    )
    discount_percent: Decimal | None = strawberry.field(
        description="One more offer under the best-single-offer rule (source TIER); null: none."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, r: tiers.LoyaltyTierRecord) -> LoyaltyTier:
        return cls(
            id=strawberry.ID(str(r.id)),
            name=r.name,
            rank=r.rank,
            basis=r.basis,
            threshold=r.threshold,
            window_days=r.window_days,
            points_multiplier=r.points_multiplier,
            discount_percent=r.discount_percent,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


@strawberry.type(description="The tier a customer holds, and since when.")
class CustomerLoyaltyTier:
    tier: LoyaltyTier
    since: datetime

    @classmethod
    def from_record(cls, r: tiers.CustomerTierRecord) -> CustomerLoyaltyTier:
        return cls(tier=LoyaltyTier.from_record(r.tier), since=r.since)


@strawberry.input
class LoyaltyTierInput:
    name: str
    rank: int = strawberry.field(description="1-100, unique; the higher rank wins.")
    basis: tiers.TierBasis
    threshold: Decimal = strawberry.field(
        description="Above 0: money (two decimals) for SPEND, whole points for POINTS."
    )
    window_days: int = strawberry.field(description="1-3650 days, ending at the evaluation.")
    points_multiplier: Decimal = strawberry.field(
        default=Decimal(1), description="1 to 10, two decimals."
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="0 to 100, two decimals; null: none."
    )

    def to_draft(self) -> TierDraft:
        return TierDraft(
            name=self.name,
            rank=self.rank,
            basis=self.basis,
            threshold=self.threshold,
            window_days=self.window_days,
            points_multiplier=self.points_multiplier,
            discount_percent=self.discount_percent,
        )


@strawberry.input(description="Only the fields given change; null clears the discount.")
class LoyaltyTierUpdateInput:
    name: str | None = strawberry.UNSET
    rank: int | None = strawberry.UNSET
    basis: tiers.TierBasis | None = strawberry.UNSET
    threshold: Decimal | None = strawberry.UNSET
    window_days: int | None = strawberry.UNSET
    points_multiplier: Decimal | None = strawberry.UNSET
    discount_percent: Decimal | None = strawberry.UNSET

    def to_change(self) -> TierChangeDraft:
        def given(value: object) -> object:
            # A null in a field a tier always has is no change.
            return DOMAIN_UNSET if value is strawberry.UNSET or value is None else value

        return TierChangeDraft(
            name=given(self.name),  # type: ignore[arg-type]
            rank=given(self.rank),  # type: ignore[arg-type]
            basis=given(self.basis),  # type: ignore[arg-type]
            threshold=given(self.threshold),  # type: ignore[arg-type]
            window_days=given(self.window_days),  # type: ignore[arg-type]
            points_multiplier=given(self.points_multiplier),  # type: ignore[arg-type]
            # Null clears the discount, unlike the fields above.
            discount_percent=(
                DOMAIN_UNSET if self.discount_percent is strawberry.UNSET else self.discount_percent
            ),
        )


@strawberry.type
class LoyaltyTierPayload:
    tier: LoyaltyTier | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[tiers.LoyaltyTierRecord]) -> LoyaltyTierPayload:
        tier = LoyaltyTier.from_record(result.value) if result.value else None
        return cls(tier=tier, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> LoyaltyTierPayload:
        return cls(tier=None, errors=user_errors(errors))


@strawberry.type
class LoyaltyTierDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> LoyaltyTierDeletePayload:
        return cls(deleted_id=None, errors=user_errors(errors))
