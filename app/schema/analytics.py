"""Analytics types (issue 11 §3, §4; DESIGN.md §3b): segments and sales reports."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import strawberry

import app.schema.sale  # noqa: F401  (registers PaymentMethod and DiscountSource first)
from app.domain.pricing import DiscountSource
from app.domain.records import MarketingChannel
from app.domain.reports import SalesReportDimension, SalesReportQuery
from app.domain.reports import SalesReportRow as RowRecord
from app.domain.sales import PaymentMethod
from app.schema.ids import parse_id
from app.schema.segment import CustomerSegment
from app.services.sales_reports import ConsentRate as ConsentRateRecord
from app.services.sales_reports import DiscountUsage
from app.services.sales_reports import PointsLiability as PointsLiabilityRecord
from app.services.segments import SegmentCount as SegmentCountRecord

strawberry.enum(
    SalesReportDimension,
    description="PRODUCT and CATEGORY cannot be combined with CASHIER, PAYMENT or SEGMENT.",
)


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


@strawberry.input
class SalesReportFilter:
    store_id: strawberry.ID | None = None
    product_id: strawberry.ID | None = None
    category: str | None = None
    cashier_id: strawberry.ID | None = None
    payment: PaymentMethod | None = None
    segment: CustomerSegment | None = None

    def to_query(
        self, start: date, end: date, group_by: list[SalesReportDimension]
    ) -> SalesReportQuery:
        return SalesReportQuery(
            start=start,
            end=end,
            # Asked twice is asked once; the order asked is the order of the rows.
            group_by=tuple(dict.fromkeys(group_by)),
            store_id=parse_id(self.store_id) if self.store_id else None,
            product_id=parse_id(self.product_id) if self.product_id else None,
            category=self.category,
            cashier_id=parse_id(self.cashier_id) if self.cashier_id else None,
            payment=self.payment.value if self.payment else None,
            segment=self.segment,
        )


@strawberry.type(
    description="One group of a sales report: the dimension values asked for (others null), "
    "then the sums. Returns and voids count on the day of the sale they undo."
)
class SalesReportRow:
    day: date | None = strawberry.field(
        description="The day, or the first day of the week (Monday) or month grouped by."
    )
    store_id: strawberry.ID | None
    product_id: strawberry.ID | None
    category: str | None
    cashier_id: strawberry.ID | None
    payment: PaymentMethod | None
    segment: CustomerSegment | None = strawberry.field(
        description="The customer's segment with the sale; null for walk-in sales."
    )
    sales: int = strawberry.field(
        description="Completed sales; by PRODUCT or CATEGORY, the sales holding the product."
    )
    units: int
    revenue: Decimal = strawberry.field(description="Line totals after discounts.")
    discount_total: Decimal
    points_redeemed: int | None = strawberry.field(
        description="Null by PRODUCT or CATEGORY: points pay for a sale, not for a line."
    )
    returned_units: int | None = strawberry.field(
        description="Only by PRODUCT or CATEGORY (or with their filters)."
    )
    returned_value: Decimal

    @classmethod
    def from_record(cls, r: RowRecord) -> SalesReportRow:
        return cls(
            day=r.day,
            store_id=_id(r.store_id),
            product_id=_id(r.product_id),
            category=r.category,
            cashier_id=_id(r.cashier_id),
            payment=PaymentMethod(r.payment) if r.payment else None,
            segment=r.segment,
            sales=r.sales,
            units=r.units,
            revenue=r.revenue,
            discount_total=r.discount_total,
            points_redeemed=r.points_redeemed,
            returned_units=r.returned_units,
            returned_value=r.returned_value,
        )


@strawberry.type(description="Customers in a segment and what they spent over the window.")
class SegmentCount:
    segment: CustomerSegment
    customers: int
    revenue: Decimal = strawberry.field(
        description="Spent over businessSettings.segmentWindowDays, net of returns."
    )

    @classmethod
    def from_record(cls, r: SegmentCountRecord) -> SegmentCount:
        return cls(segment=r.segment, customers=r.customers, revenue=r.revenue)


@strawberry.type(description="Discounts applied, by source and by the cashier of the sale.")
class DiscountUsageRow:
    source: DiscountSource
    cashier_id: strawberry.ID | None = strawberry.field(description="Null: sold by a till.")
    sales: int
    discount_total: Decimal

    @classmethod
    def from_record(cls, r: DiscountUsage) -> DiscountUsageRow:
        return cls(
            source=DiscountSource(r.source),
            cashier_id=_id(r.cashier_id),
            sales=r.sales,
            discount_total=r.discount_total,
        )


@strawberry.type(description="Points customers hold now, valued at today's point value.")
class PointsLiability:
    points: int
    point_value: Decimal
    value: Decimal

    @classmethod
    def from_record(cls, r: PointsLiabilityRecord) -> PointsLiability:
        return cls(points=r.points, point_value=r.point_value, value=r.value)


@strawberry.type(description="Customers subscribed to marketing on a channel, of all customers.")
class ConsentRate:
    channel: MarketingChannel
    customers: int
    subscribed: int
    rate: Decimal = strawberry.field(description="subscribed / customers, 0 to 1.")

    @classmethod
    def from_record(cls, r: ConsentRateRecord) -> ConsentRate:
        return cls(channel=r.channel, customers=r.customers, subscribed=r.subscribed, rate=r.rate)
