"""Discount-usage audit (issue 11 §6): the rules' names, a finding, and the robust z-score.

Pure: no I/O, so the statistics can be checked by hand and the rules reasoned about.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from statistics import median
from typing import Any

from app.domain.records import StaffUserRecord


class FindingRule(enum.StrEnum):
    # A CODE discount the customer did not hold at the time of sale (expired, or never theirs).
    INVALID_CODE = "INVALID_CODE"
    # The cashier gave the customer the group, card or code the sale's discount came from.
    SELF_GRANTED_DISCOUNT = "SELF_GRANTED_DISCOUNT"
    # A cashier's discount, price-override or void-after-discount rate against store peers.
    CASHIER_OUTLIER = "CASHIER_OUTLIER"
    # One customer's discount on many visits in one day.
    FREQUENT_DISCOUNT_USE = "FREQUENT_DISCOUNT_USE"
    # Points a staff member added, redeemed soon after on a sale they rang up.
    ADJUSTED_POINTS_REDEEMED = "ADJUSTED_POINTS_REDEEMED"
    # Inactive customers reactivated at the till and discounted, again and again by one cashier.
    REPEATED_REACTIVATION = "REPEATED_REACTIVATION"


class FindingSeverity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class FindingStatus(enum.StrEnum):
    OPEN = "OPEN"
    CONFIRMED = "CONFIRMED"
    DISMISSED = "DISMISSED"


class CashierMetric(enum.StrEnum):
    DISCOUNT_RATE = "DISCOUNT_RATE"
    PRICE_OVERRIDE_RATE = "PRICE_OVERRIDE_RATE"
    VOID_AFTER_DISCOUNT_RATE = "VOID_AFTER_DISCOUNT_RATE"


@dataclass(frozen=True, slots=True)
class NewFinding:
    """What a rule found. ``subject`` names what was judged (a sale, a cashier's window, a
    customer's day): with the rule it is unique, so the same thing is never reported twice."""

    rule: FindingRule
    subject: str
    severity: FindingSeverity
    explanation: str
    sale_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    cashier_id: uuid.UUID | None
    store_id: uuid.UUID | None
    amount: Decimal | None
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FindingRecord:
    id: uuid.UUID
    rule: FindingRule
    severity: FindingSeverity
    status: FindingStatus
    detected_at: datetime
    explanation: str
    sale_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    cashier: StaffUserRecord | None
    store_id: uuid.UUID | None
    amount: Decimal | None
    details: dict[str, Any]
    note: str | None
    triaged_by: str | None
    triaged_at: datetime | None


@dataclass(frozen=True, slots=True)
class FindingFilter:
    rule: FindingRule | None = None
    status: FindingStatus | None = None
    severity: FindingSeverity | None = None
    store_id: uuid.UUID | None = None
    cashier_id: uuid.UUID | None = None
    # detected_at from (inclusive) to (exclusive)
    detected_from: datetime | None = None
    detected_to: datetime | None = None


# MAD times this estimates the standard deviation of normal data (Iglewicz and Hoaglin).
MAD_TO_SIGMA = 1.4826


def robust_z_scores(values: Sequence[float], floors: Sequence[float] | None = None) -> list[float]:
    """Each value's distance from the median in robust standard deviations.

    Median and MAD, not mean and standard deviation: the cashier being judged is among
    the peers, and one extreme value inflates a standard deviation enough to hide itself.
    ``floors`` bound each value's spread from below: for rates of rare events (voids after a
    discount) most peers sit at 0 and the MAD is 0, and a rate is never judged against a
    spread smaller than its own sampling noise. No spread at all: every score is 0.
    """
    if not values:
        return []
    centre = median(values)
    spread = MAD_TO_SIGMA * median(abs(v - centre) for v in values)
    scores = []
    for i, v in enumerate(values):
        own = max(spread, floors[i] if floors else 0.0)
        scores.append((v - centre) / own if own > 0 else 0.0)
    return scores
