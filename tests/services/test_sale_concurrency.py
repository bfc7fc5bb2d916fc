"""Two tills at once (issue 4): points are never spent twice, a sale is never paid twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.db.models import PointsBalance, PointsEntry
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
