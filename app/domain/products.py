"""Products and their stock on hand per store (issue 4): the records services hand out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


def sku_key(sku: str) -> str:
    """ "ab-1" and " AB-1" are one SKU: what a scanner sends and what a clerk types agree."""
    return sku.strip().upper()


@dataclass(frozen=True, slots=True)
class ProductRecord:
    id: uuid.UUID
    sku: str
    name: str
    category: str | None
    price: Decimal
    active: bool
    created_at: datetime
    updated_at: datetime | None
    # Days from ordering to the shelf, and a floor under safety stock (issue 11 §5).
    lead_time_days: int = 7
    min_stock: int | None = None


@dataclass(frozen=True, slots=True)
class StockRecord:
    """On hand of one product in one store; below zero means the shop should recount."""

    product_id: uuid.UUID
    store_id: uuid.UUID
    on_hand: int
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """``search``: a prefix of the SKU (any case) or of the name (ASCII case-insensitive)."""

    search: str | None = None
    category: str | None = None
    active: bool | None = None
