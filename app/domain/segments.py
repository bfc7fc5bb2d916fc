"""Customer segments from recency, frequency and monetary value (issue 11 §3, seed 000).

Recency decides the ends of a customer's life (AT_RISK, LAPSED) in days, which a shop
can reason about; frequency and spend are ranked in quintiles within the chain, so
LOYAL means "among the chain's best fifth or two", whatever the chain's size or prices.
The rule, in order (docs/analytics.md):

1. no purchase for ``lapsed_days``: LAPSED;
2. one purchase ever: NEW;
3. no purchase for ``at_risk_days``: AT_RISK;
4. frequency and spend quintiles both at least ``loyal_quintile``: LOYAL;
5. otherwise REPEAT.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass


class CustomerSegment(enum.StrEnum):
    NEW = "NEW"
    REPEAT = "REPEAT"
    LOYAL = "LOYAL"
    AT_RISK = "AT_RISK"
    LAPSED = "LAPSED"


@dataclass(frozen=True, slots=True)
class SegmentRules:
    window_days: int = 365
    at_risk_days: int = 90
    lapsed_days: int = 180
    loyal_quintile: int = 4


@dataclass(frozen=True, slots=True)
class Cuts:
    """The 20th, 40th, 60th and 80th percentiles of frequency and of spend (cents)."""

    frequency: tuple[int, ...] = ()
    monetary_cents: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Activity:
    """One customer's purchases: ever, and within the window.

    ``purchases`` counts completed sales ever; ``days_since_last`` is from the last one;
    ``frequency`` is the days with a purchase within the window; ``monetary_cents`` what
    was spent in it, net of returns.
    """

    purchases: int
    days_since_last: int
    frequency: int
    monetary_cents: int


def quintile_cuts(values: Sequence[int]) -> tuple[int, ...]:
    """The four cut points: the largest value of each of the lower four fifths; () if empty."""
    if not values:
        return ()
    ordered = sorted(values)
    n = len(ordered)
    return tuple(ordered[max(0, (n * k) // 5 - 1)] for k in (1, 2, 3, 4))


def quintile(value: int, cuts: tuple[int, ...]) -> int:
    """1 (lowest fifth) to 5; ties with a cut point go to the lower fifth, so a chain where
    most customers bought once does not call every one-time buyer "top fifth"."""
    if not cuts:
        return 1
    return 1 + bisect_left(cuts, value)


def classify(activity: Activity, cuts: Cuts, rules: SegmentRules) -> CustomerSegment | None:
    """The customer's segment; None for one who never bought."""
    if activity.purchases <= 0:
        return None
    if activity.days_since_last >= rules.lapsed_days:
        return CustomerSegment.LAPSED
    if activity.purchases == 1:
        return CustomerSegment.NEW
    if activity.days_since_last >= rules.at_risk_days:
        return CustomerSegment.AT_RISK
    if (
        quintile(activity.frequency, cuts.frequency) >= rules.loyal_quintile
        and quintile(activity.monetary_cents, cuts.monetary_cents) >= rules.loyal_quintile
    ):
        return CustomerSegment.LOYAL
    return CustomerSegment.REPEAT
