"""Sale pricing (seed 002): lines, the automatic discount, totals, points and refunds.

The rule, in one place:

* A line's amount is ``quantity * unit price`` (exact: prices have two decimals).
* With a customer on the sale, their offers are considered: their discount code if it
  is active and not expired at the time of sale, each of their groups' discounts, and
  their loyalty card's discount, and their loyalty tier's (app/domain/tiers.py). **The
  best single offer applies** to every line: the highest percent; on a tie a discount
  code wins over a loyalty card, which wins over a tier, which wins over a group (then
  the group name decides). Offers never stack, so a customer in three groups never gets
  three discounts, nor a tier's discount on top of a group's.
* Each line's discount is ``to_cents(amount * percent / 100)``; the sale's discount is
  the sum of its lines' discounts, so lines and sale always add up, and since no
  percent is above 100 no line, and no sale, is ever negative.
* Points redeemed pay part of the total (``points * point value``, never more than the
  total); the rest is paid by cash, card or credit, and earns
  ``floor(paid * points per currency unit * tier multiplier)`` points: one floor of the
  exact product, so a 1.5 multiplier never loses a point to rounding twice.
* A return refunds its lines' share of what was paid: cumulative figures are computed
  for everything returned so far, so that returning the whole sale, in any number of
  steps, gives back exactly what was paid, restores exactly the points redeemed and
  takes back exactly the points earned.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.domain.money import HUNDRED, ONE, ZERO, to_cents, whole_points


class DiscountSource(enum.StrEnum):
    CODE = "CODE"
    LOYALTY_CARD = "LOYALTY_CARD"
    # The customer's loyalty tier (app/domain/tiers.py), earned by spend or points.
    TIER = "TIER"
    GROUP = "GROUP"


# On equal percents: the code the shop assigned by hand, then the card, then the tier the
# customer earned, then a group.
SOURCE_PRIORITY = {
    DiscountSource.CODE: 0,
    DiscountSource.LOYALTY_CARD: 1,
    DiscountSource.TIER: 2,
    DiscountSource.GROUP: 3,
}


@dataclass(frozen=True, slots=True)
class DiscountOffer:
    source: DiscountSource
    code: str  # the discount code, the card number, the tier name or the group name
    percent: Decimal


@dataclass(frozen=True, slots=True)
class LineInput:
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class PricedLine:
    quantity: int
    unit_price: Decimal
    amount: Decimal
    discount: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class PricedSale:
    lines: tuple[PricedLine, ...]
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    applied: DiscountOffer | None
    offers: tuple[DiscountOffer, ...]


def best_offer(offers: Sequence[DiscountOffer]) -> DiscountOffer | None:
    """The one offer that applies: highest percent, then code > card > tier > group, then
    name."""
    candidates = [o for o in offers if o.percent > 0]
    if not candidates:
        return None
    return min(candidates, key=lambda o: (-o.percent, SOURCE_PRIORITY[o.source], o.code))


def price_sale(lines: Sequence[LineInput], offers: Sequence[DiscountOffer]) -> PricedSale:
    applied = best_offer(offers)
    percent = applied.percent if applied else ZERO
    priced = []
    for line in lines:
        amount = to_cents(line.unit_price * line.quantity)
        discount = to_cents(amount * percent / HUNDRED)
        priced.append(
            PricedLine(line.quantity, line.unit_price, amount, discount, amount - discount)
        )
    subtotal = sum((p.amount for p in priced), ZERO)
    discount_total = sum((p.discount for p in priced), ZERO)
    return PricedSale(
        lines=tuple(priced),
        subtotal=subtotal,
        discount_total=discount_total,
        total=subtotal - discount_total,
        applied=applied,
        offers=tuple(sorted(offers, key=lambda o: (SOURCE_PRIORITY[o.source], o.code))),
    )


def redemption_value(points: int, point_value: Decimal) -> Decimal:
    return to_cents(point_value * points)


def points_earned(
    paid: Decimal, points_per_currency_unit: Decimal, multiplier: Decimal = ONE
) -> int:
    """Whole points for ``paid``: the exact product of paid, rate and the customer's tier
    multiplier, floored once."""
    return max(0, whole_points(paid * points_per_currency_unit * multiplier))


def returned_value(line_total: Decimal, quantity: int, returned_quantity: int) -> Decimal:
    """What ``returned_quantity`` of a line's ``quantity`` units are worth, cumulatively."""
    if returned_quantity >= quantity:
        return line_total
    return to_cents(line_total * returned_quantity / quantity)


@dataclass(frozen=True, slots=True)
class RefundShare:
    """Cumulative over all returns of a sale so far (subtract the previous to get one)."""

    money: Decimal
    points_restored: int
    points_reversed: int


def refund_share(
    *,
    total: Decimal,
    paid: Decimal,
    points_redeemed: int,
    points_earned: int,
    returned: Decimal,
) -> RefundShare:
    """The money, restored points and reversed points due for ``returned`` of ``total``.

    Redeemed points come back in proportion (rounded down, so never more than were
    spent) and so does the money (to the cent, so never more than was paid). Paying the
    rest of the returned value as money instead would not be monotone: a later return
    whose restored points are worth more than its value would take money back.
    """
    if total <= 0 or returned <= 0:
        return RefundShare(ZERO, 0, 0)
    if returned >= total:
        return RefundShare(paid, points_redeemed, points_earned)
    restored = whole_points(points_redeemed * returned / total)
    money = to_cents(paid * returned / total)
    reversed_ = whole_points(points_earned * returned / total)
    return RefundShare(money, restored, reversed_)
