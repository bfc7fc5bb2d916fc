"""Two tills at once (issue 4): points are never spent twice, a sale is never paid twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.db.models import PointsBalance, PointsEntry
from app.db.repositories.sales import SaleRepository
from app.domain.sales import PaymentMethod, SaleFilter, SaleStatus
from app.runtime import Runtime
from app.services.loyalty import LoyaltyService
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand, SaleReversalService
from app.services.sales import LineDraft, SaleCompletion, SaleCreate, SaleService

ROUNDS = 15


def sales(runtime: Runtime) -> SaleService:
    return SaleService(runtime.tx, None, LoyaltyService(runtime.tx, None))


async def test_two_tills_redeeming_the_same_points_never_spend_them_twice(
    runtime: Runtime, factory: Any
) -> None:
    await factory.product("GUM", "1.00")
    customer = await factory.customer()
    await factory.earn_points(customer.id, 100)
    service = sales(runtime)
    spent = 0
    for _ in range(ROUNDS):
        opened = [
            await service.create(SaleCreate(lines=(LineDraft("GUM", 1),), customer_id=customer.id))
            for _ in range(2)
        ]
        # Each till wants 60 of what is left: at most one of the two can have them.
        results = await asyncio.gather(
            *(
                service.complete(s.value.id, SaleCompletion(PaymentMethod.CASH, 60))  # type: ignore[union-attr]
                for s in opened
            )
        )
        won = [r for r in results if r.ok]
        lost = [r for r in results if not r.ok]
        for result in lost:
            assert [e.code.value for e in result.errors] == ["INSUFFICIENT_POINTS"]
        spent += 60 * len(won)
        async with runtime.db.read() as session:
            balance = await session.scalar(
                select(PointsBalance.points).where(PointsBalance.customer_id == customer.id)
            )
            ledger = await session.scalar(
                select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == customer.id)
            )
        assert balance is not None
        assert balance >= 0
        assert balance == ledger
    async with runtime.db.read() as session:
        redeemed = await session.scalar(
            select(func.count()).where(
                PointsEntry.customer_id == customer.id, PointsEntry.kind == "REDEEM"
            )
        )
    assert redeemed * 60 == spent
    # 100 points and nothing earned on 0.40 paid: only one round could ever redeem 60.
    assert spent == 60


async def test_two_tills_completing_one_sale_take_payment_once(
    runtime: Runtime, factory: Any
) -> None:
    await factory.product("TEA", "10.00")
    customer = await factory.customer()
    await factory.earn_points(customer.id, 500)
    service = sales(runtime)
    for _ in range(ROUNDS):
        opened = await service.create(
            SaleCreate(lines=(LineDraft("TEA", 1),), customer_id=customer.id)
        )
        assert opened.value
        results = await asyncio.gather(
            service.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH, 10)),
            service.complete(opened.value.id, SaleCompletion(PaymentMethod.CARD, 10)),
        )
        assert sorted(r.ok for r in results) == [False, True]
        [lost] = [r for r in results if not r.ok]
        assert [e.code.value for e in lost.errors] == ["SALE_NOT_OPEN"]
        done = await service.get(opened.value.id)
        assert done is not None
        assert done.status is SaleStatus.COMPLETED
    async with runtime.db.read() as session:
        redeemed = await session.scalar(
            select(func.count()).where(
                PointsEntry.customer_id == customer.id, PointsEntry.kind == "REDEEM"
            )
        )
        earned = await session.scalar(
            select(func.count()).where(
                PointsEntry.customer_id == customer.id, PointsEntry.kind == "EARN"
            )
        )
    # One redemption and one earning per sale, besides the first 500 points.
    assert (redeemed, earned) == (ROUNDS, ROUNDS + 1)


async def test_two_racing_retries_of_one_key_make_one_sale_and_one_payment(
    runtime: Runtime, factory: Any
) -> None:
    await factory.product("JAM", "4.00")
    customer = await factory.customer()
    service = sales(runtime)
    for n in range(ROUNDS):
        command = SaleCreate(
            lines=(LineDraft("JAM", 2),), customer_id=customer.id, idempotency_key=f"open-{n}"
        )
        created = await asyncio.gather(service.create(command), service.create(command))
        assert all(r.ok for r in created), [r.errors for r in created]
        first, second = (r.value for r in created)
        assert first is not None
        assert second is not None
        assert first.id == second.id
        pay = SaleCompletion(PaymentMethod.CARD, 0, f"pay-{n}")
        paid = await asyncio.gather(
            service.complete(first.id, pay), service.complete(first.id, pay)
        )
        assert all(r.ok for r in paid), [r.errors for r in paid]
    listed = await service.page(SaleFilter(customer_id=customer.id), 100, None)
    assert listed.total == ROUNDS
    async with runtime.db.read() as session:
        earned = await session.scalar(
            select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == customer.id)
        )
    assert earned == 8 * ROUNDS


async def test_two_racing_retries_of_one_return_refund_once(runtime: Runtime, factory: Any) -> None:
    await factory.product("CUP", "3.00")
    service = sales(runtime)
    reversals = SaleReversalService(runtime.tx, None, LoyaltyService(runtime.tx, None))
    for n in range(ROUNDS):
        opened = await service.create(SaleCreate(lines=(LineDraft("CUP", 5),)))
        assert opened.value
        done = await service.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH))
        assert done.value
        [line] = (await service.lines_for([done.value.id]))[done.value.id]
        back = SaleReturnCommand((ReturnLineDraft(line.id, 2),), idempotency_key=f"back-{n}")
        results = await asyncio.gather(
            reversals.return_goods(done.value.id, back),
            reversals.return_goods(done.value.id, back),
        )
        assert all(r.ok for r in results), [r.errors for r in results]
        first, second = (r.value for r in results)
        assert first is not None
        assert second is not None
        assert first.id == second.id
        sale = await service.get(done.value.id)
        assert sale is not None
        assert (sale.returned_value, sale.refunded) == (Decimal("6.00"), Decimal("6.00"))


async def test_a_void_and_a_sale_for_one_customer_never_deadlock(
    runtime: Runtime, factory: Any, monkeypatch: Any
) -> None:
    await factory.product("OIL", "5.00")
    customer = await factory.customer(allow_credit_sale=True, credit_limit=Decimal("10000"))
    await factory.earn_points(customer.id, 1000)
    service = sales(runtime)
    reversals = SaleReversalService(runtime.tx, None, LoyaltyService(runtime.tx, None))
    lines = (LineDraft("OIL", 1),)
    done = await service.create(SaleCreate(lines=lines, customer_id=customer.id))
    assert done.value
    assert (await service.complete(done.value.id, SaleCompletion(PaymentMethod.CASH, 5))).ok
    opened = await service.create(SaleCreate(lines=lines, customer_id=customer.id))
    assert opened.value

    earned = asyncio.Event()
    release = asyncio.Event()
    earn = LoyaltyService.earn

    async def earn_then_wait(self: LoyaltyService, *args: Any) -> int:
        balance = await earn(self, *args)
        earned.set()
        await release.wait()  # the completion holds the customer's points row
        return balance

    monkeypatch.setattr(LoyaltyService, "earn", earn_then_wait)
    completing = asyncio.create_task(
        service.complete(opened.value.id, SaleCompletion(PaymentMethod.CREDIT, 5))
    )
    await earned.wait()
    voiding = asyncio.create_task(reversals.void(done.value.id, None))
    await asyncio.sleep(0.3)  # the void now waits for a row the completion holds
    release.set()
    # Had the void locked the stock row before the points (or the completion the stats
    # before the points), PostgreSQL would find a deadlock and fail one of them.
    results = [await completing, await voiding]
    assert all(r.ok for r in results), [r.errors for r in results]


async def test_a_void_racing_a_sale_keeps_the_purchase_dates_right(
    runtime: Runtime, factory: Any, monkeypatch: Any
) -> None:
    await factory.product("SALT", "2.00")
    customer = await factory.customer()
    service = sales(runtime)
    reversals = SaleReversalService(runtime.tx, None, LoyaltyService(runtime.tx, None))
    earlier = await service.create(
        SaleCreate(lines=(LineDraft("SALT", 1),), customer_id=customer.id)
    )
    assert earlier.value
    assert (await service.complete(earlier.value.id, SaleCompletion(PaymentMethod.CASH))).ok
    later = await service.create(SaleCreate(lines=(LineDraft("SALT", 1),), customer_id=customer.id))
    assert later.value

    counted = asyncio.Event()
    release = asyncio.Event()
    add_visit = SaleRepository.add_visit

    async def add_visit_then_wait(self: SaleRepository, *args: Any) -> int:
        visits = await add_visit(self, *args)
        counted.set()
        await release.wait()  # the later sale's visit is written, not yet committed
        return visits

    monkeypatch.setattr(SaleRepository, "add_visit", add_visit_then_wait)
    completing = asyncio.create_task(
        service.complete(later.value.id, SaleCompletion(PaymentMethod.CASH))
    )
    await counted.wait()
    voiding = asyncio.create_task(reversals.void(earlier.value.id, None))
    await asyncio.sleep(0.3)  # the void is now waiting for the later sale's locks
    release.set()
    assert (await completing).ok
    assert (await voiding).ok
    summary = (await service.summaries_for([customer.id]))[customer.id]
    done = await service.get(later.value.id)
    assert done is not None
    assert summary.visits == 1
    assert (summary.first_purchase_at, summary.last_purchase_at) == (
        done.completed_at,
        done.completed_at,
    )
