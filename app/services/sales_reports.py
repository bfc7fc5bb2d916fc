"""Sales reports for analysts (issue 11 §4), from the daily aggregates.

Store scope (app/services/store_scope.py): a store-bound caller's sales reports and
discount usage are narrowed to their own store whatever they ask; points liability and
consent rates are chain-wide figures (points and consent belong to customers, who shop
anywhere), so the schema offers them to chain-wide callers only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.sales_reports import DiscountUsageRow, SalesReportRepository
from app.domain.money import from_cents, to_cents
from app.domain.records import Actor, MarketingChannel
from app.domain.reports import SalesReportQuery, SalesReportRow, grain_of
from app.services.store_scope import scoped_store
from app.services.unit_of_work import Transactions


@dataclass(frozen=True, slots=True)
class DiscountUsage:
    source: str
    cashier_id: uuid.UUID | None
    sales: int
    discount_total: Decimal


@dataclass(frozen=True, slots=True)
class PointsLiability:
    points: int
    point_value: Decimal
    value: Decimal


@dataclass(frozen=True, slots=True)
class ConsentRate:
    channel: MarketingChannel
    customers: int
    subscribed: int
    rate: Decimal


class SalesReportService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def sales_report(self, query: SalesReportQuery) -> list[SalesReportRow]:
        """Rows per the dimensions asked, summed over days ``start`` to ``end``."""
        scoped = replace(
            query, store_id=scoped_store(self.actor, query.store_id, "filter", "storeId")
        )
        grain = grain_of(scoped)
        async with self.tx.db.read() as session:
            return await SalesReportRepository(session).sales_report(scoped, grain)

    async def discount_usage(
        self, start: date, end: date, store_id: uuid.UUID | None
    ) -> list[DiscountUsage]:
        """Applied discounts by source (CODE, LOYALTY_CARD, GROUP) and cashier."""
        store = scoped_store(self.actor, store_id, "storeId")
        grain_of(SalesReportQuery(start, end, ()))  # the same date checks as salesReport
        async with self.tx.db.read() as session:
            rows = await SalesReportRepository(session).discount_usage(start, end, store)
        return [_usage(r) for r in rows]

    async def points_liability(self) -> PointsLiability:
        """Points customers hold now, at today's point value: what the shop owes in kind."""
        async with self.tx.db.read() as session:
            points = await SalesReportRepository(session).points_outstanding()
            value = (await BusinessSettingsRepository(session).get()).point_value
        return PointsLiability(points, value, to_cents(value * points))

    async def consent_rates(self) -> list[ConsentRate]:
        """Per channel: live customers, those subscribed, and the share subscribed."""
        async with self.tx.db.read() as session:
            customers, subscribed = await SalesReportRepository(session).consent_counts()
        return [
            ConsentRate(
                channel,
                customers,
                subscribed.get(channel.value, 0),
                _share(subscribed.get(channel.value, 0), customers),
            )
            for channel in MarketingChannel
        ]


def _usage(row: DiscountUsageRow) -> DiscountUsage:
    return DiscountUsage(row.source, row.cashier_id, row.sales, from_cents(row.discount_cents))


def _share(part: int, whole: int) -> Decimal:
    if whole == 0:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))
