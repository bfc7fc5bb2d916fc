"""Issue 11 §6 quality target: every planted case found, at most 5% of findings unplanted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db.repositories.discount_audit import DiscountAuditRepository
from app.domain.discount_audit import FindingFilter
from app.services.discount_audit import scan
from app.services.discount_audit_rules import AuditThresholds
from app.services.unit_of_work import UnitOfWork
from tests.discount_audit_world import build_world


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_every_planted_case_is_found_among_noise(runtime, seed: int) -> None:
    world = await build_world(runtime.db, seed=seed)

    async def work(uow: UnitOfWork):  # type: ignore[no-untyped-def]
        return await scan(uow, world.end, AuditThresholds(), timedelta(days=30))

    report = (await runtime.tx.run(None, work)).value
    assert report is not None
    async with runtime.db.read() as session:
        page = await DiscountAuditRepository(session).page(FindingFilter(), 10_000, None)
    findings = [f for _, f in page.items]
    planted = world.planted
    found_sales = {(f.rule.value, f.sale_id) for f in findings}
    found_outliers = {
        (f.cashier.id, f.details["metric"], f.details["windowStart"][:10])
        for f in findings
        if f.rule.value == "CASHIER_OUTLIER" and f.cashier
    }
    found_frequent = {
        (f.customer_id, f.details["day"])
        for f in findings
        if f.rule.value == "FREQUENT_DISCOUNT_USE"
    }
    missed = (
        [
            (rule, sale)
            for rule, sales in planted.sales.items()
            for sale in sales
            if (rule, sale) not in found_sales
        ]
        + sorted(planted.outliers - found_outliers)
        + sorted(planted.frequent - found_frequent)
    )

    def is_planted(f) -> bool:  # type: ignore[no-untyped-def]
        if f.rule.value == "CASHIER_OUTLIER":
            key = (f.cashier.id, f.details["metric"], f.details["windowStart"][:10])
            return key in planted.outliers
        if f.rule.value == "FREQUENT_DISCOUNT_USE":
            return (f.customer_id, f.details["day"]) in planted.frequent
        return f.sale_id in planted.sales[f.rule.value]

    unplanted = [f for f in findings if not is_planted(f)]
    share = len(unplanted) / len(findings) if findings else 0.0
    by_rule: dict[str, int] = {}
    for f in findings:
        by_rule[f.rule.value] = by_rule.get(f.rule.value, 0) + 1
    print(
        f"\ndiscount audit quality (seed {seed}): {world.sales} sales scanned {report.sales}, "
        f"{planted.cases()} planted cases, {planted.cases() - len(missed)} found, "
        f"{len(findings)} findings ({by_rule}), {len(unplanted)} unplanted ({share:.1%})"
    )
    for f in unplanted:
        print("  unplanted:", f.rule.value, f.explanation)
    assert not missed, missed
    assert share <= 0.05
