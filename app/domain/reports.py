"""Sales reports (issue 11 §4): dimensions, which aggregate answers them, and the rows.

Two aggregate grains exist (docs/analytics.md): product x store x day, and whole sales
by store x day x cashier x payment x segment. A report is answered from one of them,
never from sale lines; product dimensions and sale dimensions cannot be crossed, since
no table holds a product's units by cashier (it would be nearly as big as the lines).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.errors import ErrorCode, Rejected, reject
from app.domain.segments import CustomerSegment

REPORT_DAYS_MAX = 3 * 366


class SalesReportDimension(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    STORE = "STORE"
    PRODUCT = "PRODUCT"
    CATEGORY = "CATEGORY"
    CASHIER = "CASHIER"
    PAYMENT = "PAYMENT"
    SEGMENT = "SEGMENT"


PERIODS = frozenset(
    {SalesReportDimension.DAY, SalesReportDimension.WEEK, SalesReportDimension.MONTH}
)
PRODUCT_SIDE = frozenset({SalesReportDimension.PRODUCT, SalesReportDimension.CATEGORY})
SALE_SIDE = frozenset(
    {SalesReportDimension.CASHIER, SalesReportDimension.PAYMENT, SalesReportDimension.SEGMENT}
)


class Grain(enum.Enum):
    PRODUCT = "PRODUCT"  # sales_daily
    SALE = "SALE"  # sales_daily_mix


@dataclass(frozen=True, slots=True)
class SalesReportQuery:
    """Days ``start`` to ``end``, both included."""

    start: date
    end: date
    group_by: tuple[SalesReportDimension, ...]
    store_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None
    category: str | None = None
    cashier_id: uuid.UUID | None = None
    payment: str | None = None
    segment: CustomerSegment | None = None

    def used(self) -> set[SalesReportDimension]:
        """The dimensions grouped by or filtered on."""
        used = set(self.group_by)
        filters = {
            SalesReportDimension.PRODUCT: self.product_id,
            SalesReportDimension.CATEGORY: self.category,
            SalesReportDimension.CASHIER: self.cashier_id,
            SalesReportDimension.PAYMENT: self.payment,
            SalesReportDimension.SEGMENT: self.segment,
        }
        return used | {d for d, v in filters.items() if v is not None}


@dataclass(frozen=True, slots=True)
class SalesReportRow:
    """``day`` is the period's first day (a week starts on Monday) when grouped by one.

    ``points_redeemed`` is None on the product grain: points pay for a sale, not a line.
    """

    day: date | None
    store_id: uuid.UUID | None
    product_id: uuid.UUID | None
    category: str | None
    cashier_id: uuid.UUID | None
    payment: str | None
    segment: CustomerSegment | None
    sales: int
    units: int
    revenue: Decimal
    discount_total: Decimal
    points_redeemed: int | None
    returned_units: int | None
    returned_value: Decimal


def grain_of(query: SalesReportQuery) -> Grain:
    """The aggregate answering ``query``; refused when it cannot be answered."""
    if query.end < query.start:
        raise _invalid("`to` is before `from`.", "to")
    if (query.end - query.start).days >= REPORT_DAYS_MAX:
        raise _invalid(f"Report at most {REPORT_DAYS_MAX} days at once.", "to")
    if len(set(query.group_by) & PERIODS) > 1:
        raise _invalid("Group by one of DAY, WEEK or MONTH.", "groupBy")
    used = query.used()
    if used & PRODUCT_SIDE and used & SALE_SIDE:
        raise reject(
            ErrorCode.REPORT_DIMENSIONS_INCOMPATIBLE,
            "PRODUCT and CATEGORY cannot be combined with CASHIER, PAYMENT or SEGMENT "
            "(grouped by or filtered on): the aggregates hold products per store and day, "
            "and whole sales per cashier, payment and segment.",
            "groupBy",
        )
    return Grain.PRODUCT if used & PRODUCT_SIDE else Grain.SALE


def _invalid(message: str, field: str) -> Rejected:
    return reject(ErrorCode.INVALID, message, field)


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


Days = tuple[date, date]  # [start, end)


@dataclass(frozen=True, slots=True)
class MonthPlan:
    """Days ``start``..``end`` as whole months of the monthly rollup, plus the days of
    ``add``, less the days of ``subtract`` (both read from the daily table)."""

    months: Days
    add: tuple[Days, ...]
    subtract: tuple[Days, ...]


def month_plan(start: date, end: date) -> MonthPlan | None:
    """The fewest daily rows to read with the rollup: a partial month at either end is
    either its days in the range, or the whole month less its days outside the range,
    whichever is fewer days. None: reading the range's days alone is cheaper."""
    after = end + timedelta(days=1)
    first, last = first_of_month(start), first_of_month(end)
    if first == last:
        beyond = next_month(first)
        if (start - first).days + (beyond - after).days >= (after - start).days:
            return None
        return MonthPlan((first, beyond), (), _spans((first, start), (after, beyond)))
    lead = first if (start - first).days < (next_month(first) - start).days else next_month(first)
    tail = next_month(last) if (next_month(last) - after).days < (after - last).days else last
    if lead >= tail:
        return None
    return MonthPlan(
        (lead, tail), _spans((start, lead), (tail, after)), _spans((lead, start), (after, tail))
    )


def _spans(*spans: Days) -> tuple[Days, ...]:
    return tuple((lo, hi) for lo, hi in spans if lo < hi)
