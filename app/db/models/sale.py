from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import big_id, created_at, uuid_pk
from app.db.types import Money, Percent, UTCDateTime

ZERO = Decimal("0.00")


class Sale(Base):
    """A sale at a till; ``customer_id`` NULL is a walk-in sale.

    Money columns hold what app/domain/pricing.py computed; ``version`` goes up on every
    change, and every change starts with ``UPDATE … WHERE status = 'OPEN'`` on this row,
    so two tills editing or completing one sale take turns (DESIGN.md: no FOR UPDATE).
    The ``returned_*``/``refunded``/``points_restored``/``points_reversed`` columns are
    the running sums of its returns: the next return's share is computed from them.
    """

    __tablename__ = "sales"
    __table_args__ = (
        Index("ix_sales_created", "created_at", "id"),
        Index("ix_sales_customer_created", "customer_id", "created_at", "id"),
        Index("ix_sales_store_created", "store_id", "created_at", "id"),
        # The daily aggregates recompute a day of sales (a range of completion times), and
        # a late return's day at one store (the same range within that store).
        Index("ix_sales_completed", "completed_at"),
        Index("ix_sales_store_completed", "store_id", "completed_at"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"), index=True)
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    cashier_label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # RESTRICT: a customer with sales is never deleted (seed 002), only deactivated.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="OPEN")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    subtotal: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    discount_total: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    payment: Mapped[str | None] = mapped_column(String(8))
    points_redeemed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # What the redeemed points paid, at the point value of the day of the sale.
    points_amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    paid: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    points_earned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned_value: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    refunded: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    points_restored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    points_reversed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # An exchange: the sale that replaces goods returned from this earlier sale.
    exchange_for_sale_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sales.id"), index=True
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The customer's segment with this sale (a first purchase: NEW), for sales reports by
    # segment: a report of March keeps March's segments whatever customers became since.
    customer_segment: Mapped[str | None] = mapped_column(String(8))
    void_reason: Mapped[str | None] = mapped_column(Text)


class SaleLine(Base):
    """A product on a sale, with name and SKU as sold (a later rename changes no receipt)."""

    __tablename__ = "sale_lines"
    __table_args__ = (
        Index("ix_sale_lines_sale", "sale_id", "position"),
        Index("ix_sale_lines_product", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity", name="returned_within_sold"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    sale_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    discount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    total: Mapped[Decimal] = mapped_column(Money())
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    returned_value: Mapped[Decimal] = mapped_column(Money(), default=ZERO, server_default="0")
    # A price the cashier set instead of the product's: the list price it replaced and who
    # set it (the staff user, or the till of a device token). All NULL at the list price.
    # No foreign keys: adding one on SQLite rebuilds sale_lines, which returns point at;
    # staff users and tills are deactivated or revoked, never deleted, so the ids stay good.
    list_price: Mapped[Decimal | None] = mapped_column(Money())
    price_override_by: Mapped[str | None] = mapped_column(String(200))
    price_override_staff_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    price_override_till_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())


class SaleDiscount(Base):
    """An offer considered for a sale; ``applied`` marks the one the rule chose."""

    __tablename__ = "sale_discounts"
    __table_args__ = (
        # The rule applies one offer at most; the sales page joins it on this index, one
        # row per sale (app/db/repositories/sales.py, customer_pages).
        Index(
            "uq_sale_discounts_applied",
            "sale_id",
            unique=True,
            sqlite_where=text("applied"),
            postgresql_where=text("applied"),
        ),
    )

    id: Mapped[int] = big_id()
    sale_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sales.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(200))
    percent: Mapped[Decimal] = mapped_column(Percent())
    amount: Mapped[Decimal] = mapped_column(Money(), default=ZERO)
    applied: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SaleReturn(Base):
    """Goods brought back from a completed sale: refund, points given back and taken back."""

    __tablename__ = "sale_returns"

    id: Mapped[uuid.UUID] = uuid_pk()
    sale_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sales.id"), index=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"))
    cashier_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    cashier_label: Mapped[str] = mapped_column(String(200))
    value: Mapped[Decimal] = mapped_column(Money())
    refund: Mapped[Decimal] = mapped_column(Money())
    refund_payment: Mapped[str] = mapped_column(String(8))
    points_restored: Mapped[int] = mapped_column(Integer, default=0)
    points_reversed: Mapped[int] = mapped_column(Integer, default=0)
    # Earned points already spent when the goods came back: recorded, not clawed back.
    points_unrecovered: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class SaleReturnLine(Base):
    __tablename__ = "sale_return_lines"

    id: Mapped[int] = big_id()
    return_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sale_returns.id", ondelete="CASCADE"), index=True
    )
    sale_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sale_lines.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Money())


class CustomerSalesStats(Base):
    """A customer's running purchase summary (seeds 003, 004), kept with each sale.

    Amounts are whole cents in integers, not ``Money``: ``SET spent = spent + :n`` must
    be one atomic statement on both dialects, and SQLite's TEXT money cannot add.
    """

    __tablename__ = "customer_sales_stats"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    visits: Mapped[int] = mapped_column(Integer, default=0)
    spent_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # Owed on account from credit sales; allowed only up to the customer's credit limit.
    credit_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerProductUnits(Base):
    """Units of a product a customer bought and kept, over their completed sales.

    Kept with each sale, void, return and merge, like ``customer_sales_stats``: the
    customer screen's top products read these rows instead of aggregating the whole
    history at every view (issue 12).
    """

    __tablename__ = "customer_product_units"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    units: Mapped[int] = mapped_column(Integer)
