from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import Money, UTCDateTime


class Product(Base):
    """Something a shop sells; ``sku_key`` makes "ab-1" and "AB-1" one SKU."""

    __tablename__ = "products"

    id: Mapped[uuid.UUID] = uuid_pk()
    sku: Mapped[str] = mapped_column(String(64))
    sku_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    price: Mapped[Decimal] = mapped_column(Money())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Days from ordering to the shelf, and a floor under safety stock (issue 11 §5).
    lead_time_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    min_stock: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProductStock(Base):
    """Stock on hand of one product in one store.

    It may go below zero: a till never refuses a sale of goods the customer is holding
    because the count is off; the negative figure is what tells the shop to recount.
    """

    __tablename__ = "product_stock"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
