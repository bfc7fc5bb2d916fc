"""Loyalty tiers (seed 003's membership plans): a rank a customer earns by spending, or by
earning points, over a rolling window, with a points multiplier and a discount.

The rule, in one place:

* Each tier has its own **basis** (SPEND: completed sales less returns; POINTS: points
  earned by sales less those taken back by returns), **threshold** and **window** in
  days, so a chain can mix "Silver: 500 spent in 365 days" with "Gold: 5,000 points in
  90 days". Voided sales count for nothing.
* A customer holds the **highest-ranked** tier whose threshold they reach in its window
  (rank is explicit because tiers of different bases cannot be compared by threshold);
  none when they reach none.
* A tier's discount is one more offer under the best-single-offer rule
  (app/domain/pricing.py, source TIER); its multiplier multiplies the points a sale earns,
  floored once (``pricing.points_earned``).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

WINDOW_DAYS_MAX = 3650
MULTIPLIER_MAX = Decimal(10)
RANK_MAX = 100
TIERS_MAX = 20


class TierBasis(enum.StrEnum):
    SPEND = "SPEND"
    POINTS = "POINTS"


@dataclass(frozen=True, slots=True)
class LoyaltyTierRecord:
    id: uuid.UUID
    name: str
    rank: int
    basis: TierBasis
    # Money for SPEND, whole points for POINTS.
    threshold: Decimal
    window_days: int
    points_multiplier: Decimal
    discount_percent: Decimal | None
    created_at: datetime
    updated_at: datetime

    @property
    def threshold_units(self) -> int:
        """The threshold in what the database sums: cents for SPEND, points for POINTS."""
        if self.basis is TierBasis.SPEND:
            return int(self.threshold * 100)
        return int(self.threshold)


@dataclass(frozen=True, slots=True)
class CustomerTierRecord:
    customer_id: uuid.UUID
    tier: LoyaltyTierRecord
    since: datetime


def tier_for(
    tiers: Sequence[LoyaltyTierRecord], measures: Mapping[uuid.UUID, int]
) -> LoyaltyTierRecord | None:
    """The highest-ranked tier whose threshold ``measures`` (per tier: the customer's spend
    in cents or points over that tier's window) reaches; None when none."""
    reached = [t for t in tiers if measures.get(t.id, 0) >= t.threshold_units]
    return max(reached, key=lambda t: t.rank, default=None)
