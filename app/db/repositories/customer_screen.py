"""The customer screen's profile row: the customer with their working loyalty card, points
balance, running sales stats and loyalty tier, in one statement for one customer or a
whole list."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.models import (
    Customer,
    CustomerLoyaltyTier,
    CustomerSalesStats,
    LoyaltyCard,
    LoyaltyTier,
    PointsBalance,
)
from app.db.repositories.customers import customer_record
from app.db.repositories.loyalty_tiers import tier_record
from app.domain.customer_facts import CustomerFacts
from app.domain.loyalty import CardStatus, LoyaltyCardRecord
from app.domain.money import ZERO, from_cents
from app.domain.records import CustomerRecord
from app.domain.sales import SalesStatsRecord
from app.domain.tiers import CustomerTierRecord

_CUSTOMERS = table_of(Customer)
_CARDS = table_of(LoyaltyCard)
_POINTS = table_of(PointsBalance)
_STATS = table_of(CustomerSalesStats)
_HELD = table_of(CustomerLoyaltyTier)
_TIERS = table_of(LoyaltyTier)

# Labelled: the customers table has its own id, status and created_at.
_FACTS = (
    _CUSTOMERS.c.id.label("facts_customer_id"),
    _CARDS.c.id.label("card_id"),
    _CARDS.c.card_number.label("card_number"),
    _CARDS.c.discount_percent.label("card_percent"),
    _CARDS.c.status.label("card_status"),
    _CARDS.c.issued_at.label("card_issued_at"),
    _CARDS.c.issued_by.label("card_issued_by"),
    _POINTS.c.points.label("points"),
    _STATS.c.visits.label("stats_visits"),
    _STATS.c.spent_cents.label("stats_spent_cents"),
    _STATS.c.credit_cents.label("stats_credit_cents"),
    _STATS.c.first_purchase_at.label("stats_first_purchase_at"),
    _STATS.c.last_purchase_at.label("stats_last_purchase_at"),
    _HELD.c.since.label("tier_since"),
    _TIERS.c.id.label("tier_id"),
    _TIERS.c.name.label("tier_name"),
    _TIERS.c.rank.label("tier_rank"),
    _TIERS.c.basis.label("tier_basis"),
    _TIERS.c.threshold.label("tier_threshold"),
    _TIERS.c.window_days.label("tier_window_days"),
    _TIERS.c.points_multiplier.label("tier_points_multiplier"),
    _TIERS.c.discount_percent.label("tier_discount_percent"),
    _TIERS.c.created_at.label("tier_created_at"),
    _TIERS.c.updated_at.label("tier_updated_at"),
)


def _joined(query: Select[Any]) -> Select[Any]:
    """Each a primary-key or unique-index lookup: at most one row per customer."""
    customer_id = _CUSTOMERS.c.id
    working = and_(_CARDS.c.customer_id == customer_id, _CARDS.c.status == CardStatus.ACTIVE.value)
    return (
        query.select_from(_CUSTOMERS)
        .outerjoin(_CARDS, working)
        .outerjoin(_POINTS, _POINTS.c.customer_id == customer_id)
        .outerjoin(_STATS, _STATS.c.customer_id == customer_id)
        .outerjoin(_HELD, _HELD.c.customer_id == customer_id)
        .outerjoin(_TIERS, _TIERS.c.id == _HELD.c.tier_id)
    )


def _facts(row: Any) -> CustomerFacts:
    customer_id = row.facts_customer_id
    card = None
    if row.card_id is not None:
        card = LoyaltyCardRecord(
            id=row.card_id,
            customer_id=customer_id,
            card_number=row.card_number,
            discount_percent=row.card_percent if row.card_percent is not None else ZERO,
            status=CardStatus(row.card_status),
            issued_at=row.card_issued_at,
            issued_by=row.card_issued_by,
        )
    stats = None
    if row.stats_visits is not None:
        stats = SalesStatsRecord(
            customer_id=customer_id,
            visits=row.stats_visits,
            spent=from_cents(row.stats_spent_cents),
            credit_owed=from_cents(row.stats_credit_cents),
            first_purchase_at=row.stats_first_purchase_at,
            last_purchase_at=row.stats_last_purchase_at,
        )
    tier = None
    if row.tier_id is not None:
        held = tier_record(
            SimpleNamespace(
                **{name: getattr(row, f"tier_{name}") for name in _TIER_FIELDS}, id=row.tier_id
            )
        )
        tier = CustomerTierRecord(customer_id=customer_id, tier=held, since=row.tier_since)
    return CustomerFacts(card=card, points=int(row.points or 0), stats=stats, tier=tier)


_TIER_FIELDS = (
    "name",
    "rank",
    "basis",
    "threshold",
    "window_days",
    "points_multiplier",
    "discount_percent",
    "created_at",
    "updated_at",
)


class CustomerScreenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_with_facts(
        self, customer_id: uuid.UUID
    ) -> tuple[CustomerRecord, CustomerFacts] | None:
        rows = await self.session.execute(
            _joined(select(_CUSTOMERS, *_FACTS)).where(_CUSTOMERS.c.id == customer_id)
        )
        row = rows.first()
        return None if row is None else (customer_record(row), _facts(row))

    async def facts_for(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerFacts]:
        rows = await self.session.execute(
            _joined(select(*_FACTS)).where(_CUSTOMERS.c.id.in_(customer_ids))
        )
        return {row.facts_customer_id: _facts(row) for row in rows}
