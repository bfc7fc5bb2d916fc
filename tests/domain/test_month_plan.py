"""How a product report splits its days between the monthly rollup and the daily rows."""

from __future__ import annotations

from datetime import date

from app.domain.reports import MonthPlan, month_plan


def test_whole_months_come_from_the_rollup_alone() -> None:
    assert month_plan(date(2026, 1, 1), date(2026, 3, 31)) == MonthPlan(
        (date(2026, 1, 1), date(2026, 4, 1)), (), ()
    )


def test_a_partial_month_is_its_days_or_its_month_less_the_rest_whichever_is_fewer() -> None:
    # Starts late in December (26 days out, 6 in): add December's 6 days. Ends early in
    # April (3 days in, 27 out): add April's 3 days.
    assert month_plan(date(2025, 12, 26), date(2026, 4, 3)) == MonthPlan(
        (date(2026, 1, 1), date(2026, 4, 1)),
        ((date(2025, 12, 26), date(2026, 1, 1)), (date(2026, 4, 1), date(2026, 4, 4))),
        (),
    )
    # Starts on 3 January, ends on 28 March: whole months less 2 and 3 days.
    assert month_plan(date(2026, 1, 3), date(2026, 3, 28)) == MonthPlan(
        (date(2026, 1, 1), date(2026, 4, 1)),
        (),
        ((date(2026, 1, 1), date(2026, 1, 3)), (date(2026, 3, 29), date(2026, 4, 1))),
    )


def test_within_one_month() -> None:
    assert month_plan(date(2026, 2, 2), date(2026, 2, 27)) == MonthPlan(
        (date(2026, 2, 1), date(2026, 3, 1)),
        (),
        ((date(2026, 2, 1), date(2026, 2, 2)), (date(2026, 2, 28), date(2026, 3, 1))),
    )
    assert month_plan(date(2026, 2, 10), date(2026, 2, 12)) is None
    # Two partial months, each mostly outside the range: the days alone.
    assert month_plan(date(2026, 1, 25), date(2026, 2, 5)) is None
