"""Each discount-audit rule on sales made through the real services (issue 11 §6).

The scan reads the audit trail and sales exactly as the services wrote them; where a case
cannot be made through the services (they refuse a code the customer does not hold), the
test makes the sale properly and then changes the row as an offline till's upload would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import update

from app.db.models import Sale
from app.db.repositories.discount_audit import DiscountAuditRepository
from app.domain.discount_audit import FindingFilter, FindingRecord, robust_z_scores
from app.domain.permissions import Permission as P
from app.domain.records import Actor
from app.domain.sales import PaymentMethod
from app.services.auth import resolve_actor
from app.services.discount_audit import AUDIT_JOB, audit_discount_usage, scan
from app.services.discount_audit_rules import AuditThresholds, windows_closed
from app.services.groups import GroupService
from app.services.job_registry import SCHEDULED_JOBS
from app.services.sales import LineDraft, SaleCompletion, SaleCreate
from app.services.unit_of_work import UnitOfWork, utcnow

LIMITS = AuditThresholds()


async def _cashier(factory: Any, store_id: uuid.UUID | None = None) -> Actor:
    _, token = await factory.staff(
        P.SALE_CREATE, P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY, P.CUSTOMER_GROUP_MANAGE,
        P.LOYALTY_ADJUST, P.DISCOUNT_MANAGE, store_id=store_id,
    )  # fmt: skip
    actor = await resolve_actor(factory.runtime.tx, token)
    assert actor is not None
    return actor


async def _sell(
    factory: Any,
    actor: Actor | None,
    customer_id: uuid.UUID | None,
    sku: str,
    *,
    redeem: int = 0,
    reactivate: bool = False,
) -> uuid.UUID:
    sales = factory.sales(actor)
    opened = await sales.create(SaleCreate(lines=(LineDraft(sku, 1),), customer_id=None))
    assert opened.value, opened.errors
    if customer_id is not None:
        assigned = await sales.assign_customer(opened.value.id, customer_id, reactivate)
        assert assigned.value, assigned.errors
    done = await sales.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH, redeem))
    assert done.value, done.errors
    sale_id: uuid.UUID = done.value.id
    return sale_id


async def _scan(runtime: Any, through: datetime | None = None) -> int:
    async def work(uow: UnitOfWork) -> int:
        report = await scan(uow, through or utcnow(), LIMITS, timedelta(days=1))
        return report.findings

    result = await runtime.tx.run(None, work)
    assert result.value is not None
    return result.value


async def _findings(runtime: Any) -> list[FindingRecord]:
    async with runtime.db.read() as session:
        page = await DiscountAuditRepository(session).page(FindingFilter(), 100, None)
    return [f for _, f in page.items]


def _rules(findings: list[FindingRecord]) -> list[tuple[str, uuid.UUID | None]]:
    return sorted((f.rule.value, f.sale_id) for f in findings)


async def test_a_code_the_customer_did_not_hold_or_held_expired(runtime, factory) -> None:
    product = await factory.product(price="40.00")
    code = await factory.discount_code("VIP10", "10")
    holder, stranger, lapsed = [await factory.customer() for _ in range(3)]
    holder_id, stranger_id, lapsed_id = holder.id, stranger.id, lapsed.id
    for customer_id in (holder_id, lapsed_id):
        assigned = await factory.discounts().assign(
            customer_id, code.code, utcnow() + timedelta(hours=1)
        )
        assert assigned.errors == []
    fair = await _sell(factory, None, holder_id, product.sku)
    # An offline till priced this sale with the holder's code but uploaded it under another
    # customer; and another sale while the code was valid, uploaded after it had expired.
    foreign = await _sell(factory, None, holder_id, product.sku)
    stale = await _sell(factory, None, lapsed_id, product.sku)
    async with runtime.db.write() as session:
        await session.execute(
            update(Sale).where(Sale.id == foreign).values(customer_id=stranger_id)
        )
    async with runtime.db.write() as session:
        await session.execute(
            update(Sale).where(Sale.id == stale).values(completed_at=utcnow() + timedelta(hours=2))
        )

    assert await _scan(runtime, utcnow() + timedelta(hours=3)) == 2
    findings = await _findings(runtime)
    assert _rules(findings) == sorted([("INVALID_CODE", foreign), ("INVALID_CODE", stale)])
    by_sale = {f.sale_id: f for f in findings}
    assert "held no discount code" in by_sale[foreign].explanation
    assert "after it expired" in by_sale[stale].explanation
    assert by_sale[foreign].amount == Decimal("4.00")
    assert by_sale[foreign].severity.value == "HIGH"
    assert fair not in by_sale


async def test_a_discount_the_cashier_gave_just_before_ringing_it_up(runtime, factory) -> None:
    product = await factory.product(price="20.00")
    group = await factory.group("Neighbours", "10")
    cashier = await _cashier(factory)
    own, managers = await factory.customer(), await factory.customer()
    granted = await GroupService(runtime.tx, cashier).change_members(group.id, [own.id], add=True)
    assert granted.errors == []
    await factory.add_to_group(group.id, managers.id)  # the back office (another actor)
    self_served = await _sell(factory, cashier, own.id, product.sku)
    await _sell(factory, cashier, managers.id, product.sku)

    assert await _scan(runtime) == 1
    [finding] = await _findings(runtime)
    assert (finding.rule.value, finding.sale_id) == ("SELF_GRANTED_DISCOUNT", self_served)
    assert finding.cashier is not None
    assert finding.cashier.id == cashier.staff_user_id
    assert finding.customer_id == own.id
    assert finding.details["grant"] == "add_to_group"
    assert finding.amount == Decimal("2.00")


async def test_one_customer_s_discount_on_many_visits_a_day(runtime, factory) -> None:
    product = await factory.product(price="10.00")
    regular = await factory.customer()
    await factory.loyalty_card(regular.id, percent="5")
    other_store = await factory.store()
    for store_id in (None, other_store.id, None):
        await factory.completed_sale(regular.id, [(product.sku, 1)], store_id=store_id)
    assert await _scan(runtime) == 0  # three visits: a busy day, not a pattern
    fourth = await factory.completed_sale(regular.id, [(product.sku, 1)])
    assert await _scan(runtime) == 1  # the watermark: only the fourth is new, the day is read whole
    [finding] = await _findings(runtime)
    assert (finding.rule.value, finding.sale_id) == ("FREQUENT_DISCOUNT_USE", fourth.id)
    assert finding.details["visits"] == 4
    assert finding.details["stores"] == 2
    assert finding.severity.value == "HIGH"  # across stores
    assert finding.amount == Decimal("2.00")


async def test_at_one_store_it_takes_more_visits(runtime, factory) -> None:
    product = await factory.product(price="10.00")
    regular = await factory.customer()
    await factory.loyalty_card(regular.id, percent="5")
    for _ in range(5):
        await factory.completed_sale(regular.id, [(product.sku, 1)])
    assert await _scan(runtime) == 0  # five coffees at the local shop: a regular, not a pattern
    sixth = await factory.completed_sale(regular.id, [(product.sku, 1)])
    assert await _scan(runtime) == 1
    [finding] = await _findings(runtime)
    assert (finding.rule.value, finding.sale_id) == ("FREQUENT_DISCOUNT_USE", sixth.id)
    assert (finding.details["visits"], finding.details["stores"]) == (6, 1)
    assert finding.severity.value == "MEDIUM"


async def test_points_added_by_hand_and_redeemed_on_the_cashier_s_own_sale(
    runtime, factory
) -> None:
    product = await factory.product(price="50.00")
    cashier = await _cashier(factory)
    friend, earned = await factory.customer(), await factory.customer()
    await factory.loyalty_card(friend.id, percent="0")
    await factory.loyalty_card(earned.id, percent="0")
    adjusted = await factory.loyalty(cashier).adjust(friend.id, 500, "goodwill")
    assert adjusted.errors == []
    await factory.earn_points(earned.id, 500)
    suspicious = await _sell(factory, cashier, friend.id, product.sku, redeem=100)
    await _sell(factory, cashier, earned.id, product.sku, redeem=100)

    assert await _scan(runtime) == 1
    [finding] = await _findings(runtime)
    assert (finding.rule.value, finding.sale_id) == ("ADJUSTED_POINTS_REDEEMED", suspicious)
    assert finding.details["pointsAdded"] == 500
    assert finding.details["pointsRedeemed"] == 100


async def test_inactive_customers_reactivated_and_discounted_again_and_again(
    runtime, factory
) -> None:
    product = await factory.product(price="10.00")
    cashier, colleague = await _cashier(factory), await _cashier(factory)
    lapsed = []
    for _ in range(4):
        customer = await factory.customer()
        await factory.loyalty_card(customer.id, percent="10")
        await factory.set_status(customer.id, "INACTIVE")
        lapsed.append(customer.id)
    once = await _sell(factory, colleague, lapsed[3], product.sku, reactivate=True)
    first = [await _sell(factory, cashier, c, product.sku, reactivate=True) for c in lapsed[:2]]
    assert await _scan(runtime) == 0  # twice is a lapsed customer coming back, twice
    third = await _sell(factory, cashier, lapsed[2], product.sku, reactivate=True)

    assert await _scan(runtime) == 3
    findings = await _findings(runtime)
    assert _rules(findings) == sorted(("REPEATED_REACTIVATION", s) for s in [*first, third])
    assert all(f.details["reactivations"] == 3 for f in findings)
    assert once not in {f.sale_id for f in findings}


async def test_scanning_again_or_on_two_workers_at_once_changes_nothing(runtime, factory) -> None:
    product = await factory.product(price="10.00")
    regular = await factory.customer()
    await factory.loyalty_card(regular.id, percent="5")
    for _ in range(6):
        await factory.completed_sale(regular.id, [(product.sku, 1)])
    through = utcnow()

    async def rescan(uow: UnitOfWork) -> int:
        # Judge the same sales again, whatever the watermark says.
        repo = DiscountAuditRepository(uow.session)
        from app.services.discount_audit import judge

        _, found = await judge(repo, through - timedelta(hours=1), through, LIMITS)
        return await repo.insert_findings(found, uow.now)

    counts = await asyncio.gather(*(runtime.tx.run(None, rescan) for _ in range(2)))
    assert sorted(c.value for c in counts) == [0, 1]
    assert (await runtime.tx.run(None, rescan)).value == 0
    assert len(await _findings(runtime)) == 1

    # The job: one run per hourly slot, whichever worker asks; the watermark moves on.
    slot = datetime.now(UTC)
    runs = await asyncio.gather(*(audit_discount_usage(runtime.tx, slot) for _ in range(2)))
    assert sorted(r.claimed for r in runs) == [False, True]
    assert SCHEDULED_JOBS[AUDIT_JOB].run is audit_discount_usage
    assert len(await _findings(runtime)) == 1


def test_robust_z_scores_resist_the_outlier_they_judge() -> None:
    rates = [0.20, 0.22, 0.25, 0.21, 0.24, 0.80]
    scores = robust_z_scores(rates)
    assert scores[-1] > 15  # a mean/sd z-score here is 2.2: the outlier hides itself
    assert all(abs(z) < 1.5 for z in scores[:-1])
    # Most peers at 0 (rare events): the MAD is 0, and each rate's own noise is the floor.
    assert robust_z_scores([0.0, 0.0, 0.0, 0.02], [0.02, 0.02, 0.02, 0.02]) == [0, 0, 0, 1.0]
    assert robust_z_scores([0.1, 0.1, 0.1]) == [0.0, 0.0, 0.0]


def test_outlier_windows_are_judged_once_they_have_closed() -> None:
    week = timedelta(days=7)
    start = datetime(1970, 1, 1, tzinfo=UTC) + 2900 * week
    assert windows_closed(start - week, start + 2 * week + timedelta(hours=3), week) == [
        (start - week, start),
        (start, start + week),
        (start + week, start + 2 * week),
    ]
    assert windows_closed(start + timedelta(hours=1), start + week - timedelta(hours=1), week) == []
