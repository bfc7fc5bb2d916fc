"""Sale records handed from services to the API layer (seeds 002, 003, 004)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.pricing import DiscountSource


class SaleStatus(enum.StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    VOIDED = "VOIDED"


class PaymentMethod(enum.StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    # On the customer's account: only for customers allowed it, within their limit.
    CREDIT = "CREDIT"


@dataclass(frozen=True, slots=True)
class SaleRecord:
    id: uuid.UUID
    store_id: uuid.UUID
    till_id: uuid.UUID | None
    cashier_id: uuid.UUID | None
    cashier_label: str
    customer_id: uuid.UUID | None
    status: SaleStatus
    version: int
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    payment: PaymentMethod | None
    points_redeemed: int
    points_amount: Decimal
    paid: Decimal
    points_earned: int
    returned_value: Decimal
    refunded: Decimal
    points_restored: int
    points_reversed: int
    exchange_for_sale_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime | None
    completed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


@dataclass(frozen=True, slots=True)
class SaleLineRecord:
    id: uuid.UUID
    sale_id: uuid.UUID
    position: int
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    discount: Decimal
    total: Decimal
    returned_quantity: int
    returned_value: Decimal
    # Set when the cashier chose the price: the list price then, and who chose it.
    list_price: Decimal | None = None
    price_override_by: str | None = None
    price_override_staff_id: uuid.UUID | None = None
    price_override_till_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class SaleDiscountRecord:
    """An offer the rule considered for a sale; ``applied`` is the one it chose."""

    sale_id: uuid.UUID
    source: DiscountSource
    code: str
    percent: Decimal
    amount: Decimal
    applied: bool


@dataclass(frozen=True, slots=True)
class SaleReturnLineRecord:
    return_id: uuid.UUID
    sale_line_id: uuid.UUID
    quantity: int
    value: Decimal


@dataclass(frozen=True, slots=True)
class SaleReturnRecord:
    id: uuid.UUID
    sale_id: uuid.UUID
    store_id: uuid.UUID
    till_id: uuid.UUID | None
    cashier_id: uuid.UUID | None
    cashier_label: str
    value: Decimal
    refund: Decimal
    refund_payment: PaymentMethod
    points_restored: int
    points_reversed: int
    points_unrecovered: int
    reason: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SalesStatsRecord:
    customer_id: uuid.UUID
    visits: int
    spent: Decimal
    credit_owed: Decimal
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None


@dataclass(frozen=True, slots=True)
class TopProductRecord:
    product_id: uuid.UUID
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SaleFilter:
    store_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None
    cashier_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    status: SaleStatus | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
