"""The segment rule (app/domain/segments.py), each branch and the quintiles."""

from __future__ import annotations

import pytest

from app.domain.segments import (
    Activity,
    CustomerSegment,
    Cuts,
    SegmentRules,
    classify,
    quintile,
    quintile_cuts,
)

RULES = SegmentRules(window_days=365, at_risk_days=90, lapsed_days=180, loyal_quintile=4)
CUTS = Cuts(frequency=(1, 2, 4, 8), monetary_cents=(1000, 2000, 5000, 10000))


@pytest.mark.parametrize(
    ("activity", "segment"),
    [
        (Activity(0, 0, 0, 0), None),
        (Activity(1, 3, 1, 500), CustomerSegment.NEW),
        (Activity(1, 200, 0, 0), CustomerSegment.LAPSED),
        (Activity(9, 180, 9, 99999), CustomerSegment.LAPSED),
        (Activity(3, 90, 3, 3000), CustomerSegment.AT_RISK),
        (Activity(3, 10, 3, 3000), CustomerSegment.REPEAT),
        (Activity(9, 10, 5, 6000), CustomerSegment.LOYAL),
        # Frequent but small spender: both quintiles must reach the bar.
        (Activity(9, 10, 9, 1500), CustomerSegment.REPEAT),
    ],
)
def test_each_rule(activity: Activity, segment: CustomerSegment | None) -> None:
    assert classify(activity, CUTS, RULES) == segment


def test_the_loyal_bar_is_a_setting() -> None:
    top_only = SegmentRules(loyal_quintile=5)
    activity = Activity(9, 10, 5, 6000)
    assert classify(activity, CUTS, top_only) == CustomerSegment.REPEAT
    assert classify(Activity(9, 10, 9, 20000), CUTS, top_only) == CustomerSegment.LOYAL


def test_quintiles_split_the_chain_in_fifths_and_ties_go_low() -> None:
    values = list(range(1, 11))  # 1..10
    cuts = quintile_cuts(values)
    assert cuts == (2, 4, 6, 8)
    assert [quintile(v, cuts) for v in values] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Most customers bought on one day: one-day buyers stay in the lowest fifth.
    assert quintile(1, quintile_cuts([1] * 8 + [2, 5])) == 1
    assert quintile_cuts([]) == ()
    assert quintile(7, ()) == 1
