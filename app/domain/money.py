"""The one rounding rule for money: to the cent, halves away from zero (ROUND_HALF_UP).

Every amount poscrm computes (line amounts, discounts, refunds, averages) goes through
``to_cents``; nothing else rounds money, so a sale, its lines and its returns always
agree to the cent.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
ONE = Decimal(1)


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def whole_points(points: Decimal) -> int:
    """Points are whole: a fraction of a point is never earned (rounded down)."""
    return int(points.to_integral_value(rounding=ROUND_FLOOR))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / HUNDRED).quantize(CENT)


def cents(amount: Decimal) -> int:
    return int(to_cents(amount) * HUNDRED)
