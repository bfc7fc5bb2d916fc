"""Daily aggregates and customer segments (issue 11 §2, §3): what reports and forecasts read.

Amounts are whole cents in integers, as in ``customer_sales_stats``: SQLite keeps money
as TEXT, which cannot be summed exactly, and reports sum these columns over a year.
A day is a UTC calendar day of ``sales.completed_at``. docs/analytics.md has the rules.

The aggregate tables have no foreign keys: every row is derived from sales, whose own keys
hold (and stores, products and customers with sales are never deleted), while PostgreSQL
checks a foreign key row by row, which was most of the cost of writing a night's rows.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import big_id
from app.db.types import UTCDateTime


class SalesDaily(Base):
    """One product at one store on one day: the grain forecasts and product reports read.

    ``sales`` counts the sales holding the product, so it cannot be summed across
    products into a number of sales (``sales_daily_mix`` counts those). Returns and
    voids count on the day of the sale they undo, not the day they happened.
    """

    __tablename__ = "sales_daily"
    __table_args__ = (
        # A forecast reads one product x store series over all its days.
        Index("ix_sales_daily_series", "product_id", "store_id", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    sales: Mapped[int] = mapped_column(Integer)
    returned_units: Mapped[int] = mapped_column(Integer)
    returned_cents: Mapped[int] = mapped_column(BigInteger)


class SalesMonthly(Base):
    """``sales_daily`` summed by calendar month: what product-grain reports read for the
    whole months of their range (a year is ~13 rows a product and store, not ~365).

    ``month`` is the month's first day. Kept by the same runs that write ``sales_daily``
    (app/services/sales_aggregates.py), in their transaction; docs/analytics.md has why.
    """

    __tablename__ = "sales_monthly"
    # Clustered by its key on SQLite: a report reads a range of months in key order
    # without a row lookup each (the rollup is read far more than it is written).
    __table_args__ = ({"sqlite_with_rowid": False},)

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    sales: Mapped[int] = mapped_column(Integer)
    returned_units: Mapped[int] = mapped_column(Integer)
    returned_cents: Mapped[int] = mapped_column(BigInteger)


class SalesDailyMix(Base):
    """Whole sales of one day and store by cashier, payment and the customer's segment.

    No natural key: cashier and segment may be NULL (a device sale, a walk-in), and a
    (day, store) slice is only ever deleted and written whole.
    """

    __tablename__ = "sales_daily_mix"
    __table_args__ = (Index("ix_sales_daily_mix_day_store", "day", "store_id"),)

    id: Mapped[int] = big_id()
    day: Mapped[date] = mapped_column(Date)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    payment: Mapped[str] = mapped_column(String(8))
    segment: Mapped[str | None] = mapped_column(String(8))
    sales: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    points_redeemed: Mapped[int] = mapped_column(BigInteger)
    returned_cents: Mapped[int] = mapped_column(BigInteger)


class SalesDailyDiscount(Base):
    """Discounts applied on one day and store, by source (code, card, group) and cashier."""

    __tablename__ = "sales_daily_discounts"
    __table_args__ = (Index("ix_sales_daily_discounts_day_store", "day", "store_id"),)

    id: Mapped[int] = big_id()
    day: Mapped[date] = mapped_column(Date)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    source: Mapped[str] = mapped_column(String(16))
    sales: Mapped[int] = mapped_column(Integer)
    discount_cents: Mapped[int] = mapped_column(BigInteger)


class CustomerDaily(Base):
    """A customer's purchases at one store on one day: the input of segmentation."""

    __tablename__ = "customer_daily"

    # Day first: written a (day, store) slice at a time, read by a window of days.
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    sales: Mapped[int] = mapped_column(Integer)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    returned_cents: Mapped[int] = mapped_column(BigInteger)


class SalesDirtyDay(Base):
    """A (day, store) whose aggregates are stale: a sale of that day changed after it.

    Written in the transaction that changed the sale. ``mark`` is new on every marking, so
    the nightly job deletes only the marks it recomputed; one made meanwhile survives.
    """

    __tablename__ = "sales_dirty_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    mark: Mapped[uuid.UUID] = mapped_column(Uuid())
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerSegmentRow(Base):
    """A customer's segment (NEW, REPEAT, LOYAL, AT_RISK, LAPSED); no row: never bought.

    Its own table, not a customer column: the nightly refresh rewrites many rows, and a
    customer's version, audit and change feeds are for what people change.
    """

    __tablename__ = "customer_segments"
    __table_args__ = (Index("ix_customer_segments_segment", "segment", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    segment: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SegmentCuts(Base):
    """The chain's frequency and monetary quintile cut points of the last nightly refresh.

    Kept so that classifying one customer at sale completion uses the same cuts.
    """

    __tablename__ = "segment_cuts"

    id: Mapped[int] = mapped_column(primary_key=True)
    frequency: Mapped[list[int]] = mapped_column(JSON)
    monetary_cents: Mapped[list[int]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
