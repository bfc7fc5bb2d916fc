"""What the customer screen shows beside the profile, read in one row per customer."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.loyalty import LoyaltyCardRecord
from app.domain.sales import SalesStatsRecord
from app.domain.tiers import CustomerTierRecord


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    card: LoyaltyCardRecord | None  # the working card
    points: int  # the balance
    stats: SalesStatsRecord | None  # None: never bought
    tier: CustomerTierRecord | None = None  # the loyalty tier held now


NO_FACTS = CustomerFacts(card=None, points=0, stats=None)
