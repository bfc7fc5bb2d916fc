"""The points ledger: its balance is its sum, never negative, and old points expire FIFO."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import ErrorCode, reject
from app.domain.loyalty import PointsKind
from app.services.loyalty import LoyaltyService
from app.services.store_sync import StoreSyncService
from app.services.unit_of_work import UnitOfWork, utcnow

T = TypeVar("T")
VALIDITY_DAYS = 30


async def at_time(
    runtime: Any, when: datetime | None, work: Callable[[UnitOfWork], Awaitable[T]]
) -> Any:
    """Run ``work`` in one transaction whose clock reads ``when`` (entries are dated by it)."""

    async def timed(uow: UnitOfWork) -> T:
        if when is not None:
            uow.now = when
        return await work(uow)

    return await runtime.tx.run(None, timed)


async def ledger(raw_sql: Any, customer_id: uuid.UUID) -> tuple[int, int]:
    """(balance row, sum of the ledger) for one customer."""
    hex_id = customer_id.hex
    # SQLite stores UUIDs as 32 hex digits, PostgreSQL as uuid: compare on the hex text.
    balance = await raw_sql(
        "SELECT points FROM loyalty_points_balances "
        "WHERE replace(CAST(customer_id AS TEXT), '-', '') = :c",
        c=hex_id,
    )
    total = await raw_sql(
        "SELECT coalesce(sum(points), 0) FROM loyalty_points_ledger "
        "WHERE replace(CAST(customer_id AS TEXT), '-', '') = :c",
        c=hex_id,
    )
    return (int(balance[0][0]) if balance else 0), int(total[0][0])


# --- the balance is the ledger's sum --------------------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 500)),
        st.tuples(st.just("redeem"), st.integers(1, 500)),
        st.tuples(st.just("adjust"), st.integers(-500, 500).filter(bool)),
        st.tuples(st.just("expire"), st.sampled_from([1, VALIDITY_DAYS + 1])),
        st.tuples(st.just("replace"), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    # Each example makes its own customer; the per-test clean-up is not needed between them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(operations=OPERATIONS)
async def test_balance_equals_the_ledger_after_any_sequence(
    runtime, factory, raw_sql, operations: list[tuple[str, int]]
) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    customer = await factory.customer()
    await factory.loyalty_card(customer.id)
    expected = 0
    for op, amount in operations:
        if op == "earn":
            await factory.earn_points(customer.id, amount)
            expected += amount
        elif op == "redeem":
            result = await at_time(
                runtime, None, lambda uow, n=amount: service.redeem(uow, customer.id, n, None)
            )
            if amount <= expected:
                assert result.ok
                expected -= amount
            else:
                assert [e.code for e in result.errors] == [ErrorCode.INSUFFICIENT_POINTS]
        elif op == "adjust":
            result = await service.adjust(customer.id, amount, "Correction")
            if expected + amount >= 0:
                assert result.ok, result.errors
                expected += amount
            else:
                assert [e.code for e in result.errors] == [ErrorCode.INSUFFICIENT_POINTS]
        elif op == "expire":
            # Every entry here is seconds old: past the validity all of it goes, else none.
            await service.expire_points(utcnow() + timedelta(days=amount))
            if amount > VALIDITY_DAYS:
                expected = 0
        else:
            result = await service.replace_card(customer.id, f"R-{uuid.uuid4().hex[:12]}", "Lost")
            assert result.ok, result.errors
        balance, total = await ledger(raw_sql, customer.id)
        assert balance == total == expected >= 0, (op, amount)


# --- redeeming inside a sale's transaction ------------------------------------------------


async def test_earn_and_redeem_commit_or_roll_back_with_the_callers_work(
    runtime, factory, raw_sql
) -> None:
    service = LoyaltyService(runtime.tx, None)
    customer = await factory.customer()
    sale_id = await factory.sale(customer.id)
    assert await factory.earn_points(customer.id, 100, sale_id=sale_id) == 100

    async def sale_fails_after_redeeming(uow: UnitOfWork) -> None:
        assert await service.redeem(uow, customer.id, 60, sale_id) == 40
        raise reject(ErrorCode.INVALID, "The payment failed.")

    failed = await runtime.tx.run(None, sale_fails_after_redeeming)
    assert [e.code for e in failed.errors] == [ErrorCode.INVALID]
    assert await ledger(raw_sql, customer.id) == (100, 100)

    over = await at_time(runtime, None, lambda uow: service.redeem(uow, customer.id, 101, sale_id))
    assert [(e.code, e.field) for e in over.errors] == [
        (ErrorCode.INSUFFICIENT_POINTS, ("input", "points"))
    ]
    done = await at_time(runtime, None, lambda uow: service.redeem(uow, customer.id, 100, sale_id))
    assert done.value == 0
    assert await ledger(raw_sql, customer.id) == (0, 0)
    rows = await raw_sql("SELECT kind, points FROM loyalty_points_ledger ORDER BY id")
    assert [tuple(r) for r in rows] == [("EARN", 100), ("REDEEM", -100)]
    # On the customer's trail (and so in the stores' change feeds); the rolled-back one not.
    audited = await raw_sql(
        "SELECT action FROM audit_entries WHERE entity_type = 'customer' AND entity_id = :c "
        "ORDER BY id",
        c=str(customer.id),
    )
    assert [r[0] for r in audited] == ["create", "points_earn", "points_redeem"]


async def test_nothing_to_earn_or_redeem_writes_nothing(runtime, factory, raw_sql) -> None:
    service = LoyaltyService(runtime.tx, None)
    customer = await factory.customer()
    zero = await at_time(runtime, None, lambda uow: service.redeem(uow, customer.id, 0, None))
    assert zero.value == 0
    assert await raw_sql("SELECT count(*) FROM loyalty_points_ledger") == [(0,)]
    with pytest.raises(ValueError, match="negative"):
        await at_time(runtime, None, lambda uow: service.earn(uow, customer.id, -5, None))


# --- two tills redeeming at once --------------------------------------------------------------


@pytest.mark.parametrize("round_", range(20))
async def test_two_tills_redeeming_the_same_points_at_once(
    runtime, factory, raw_sql, round_: int
) -> None:
    customer = await factory.customer()
    points = 100 + round_
    await factory.earn_points(customer.id, points)
    service = LoyaltyService(runtime.tx, None)

    results = await asyncio.gather(
        service.redeem_points(customer.id, points, "Reward at till 1"),
        service.redeem_points(customer.id, points, "Reward at till 2"),
    )
    assert sorted(r.ok for r in results) == [False, True]
    [refused] = [r for r in results if not r.ok]
    assert [e.code for e in refused.errors] == [ErrorCode.INSUFFICIENT_POINTS]
    assert await ledger(raw_sql, customer.id) == (0, 0)


async def test_many_tills_spend_exactly_the_balance(runtime, factory, raw_sql) -> None:
    customer = await factory.customer()
    await factory.earn_points(customer.id, 7)
    service = LoyaltyService(runtime.tx, None)
    results = await asyncio.gather(
        *(service.redeem_points(customer.id, 1, f"Till {n}") for n in range(12))
    )
    assert sum(r.ok for r in results) == 7
    assert await ledger(raw_sql, customer.id) == (0, 0)


async def test_redeem_points_checks_its_input(runtime, factory) -> None:
    service = LoyaltyService(runtime.tx, None)
    customer = await factory.customer()
    await factory.earn_points(customer.id, 10)
    for points, reason, code in [
        (0, "Reward", ErrorCode.INVALID),
        (-3, "Reward", ErrorCode.INVALID),
        (3, " ", ErrorCode.REQUIRED),
    ]:
        result = await service.redeem_points(customer.id, points, reason)
        assert [e.code for e in result.errors] == [code]
    unknown = await service.redeem_points(uuid.uuid4(), 1, "Reward")
    assert [e.code for e in unknown.errors] == [ErrorCode.NOT_FOUND]
    assert (await service.redeem_points(customer.id, 10, "Reward")).value == 0


# --- expiry -----------------------------------------------------------------------------------


async def test_points_older_than_the_validity_expire_first_in_first_out(
    runtime, factory, raw_sql
) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    now = utcnow()
    customer = await factory.customer()
    await factory.earn_points(customer.id, 100, at=now - timedelta(days=60))
    await factory.earn_points(customer.id, 50, at=now - timedelta(days=10))
    # Spent since: taken from the oldest points, so only 70 of the old 100 are left.
    spent = await at_time(
        runtime, now - timedelta(days=5), lambda uow: service.redeem(uow, customer.id, 30, None)
    )
    assert spent.ok

    report = await service.expire_points(now)
    assert (report.customers, report.points) == (1, 70)
    assert await ledger(raw_sql, customer.id) == (50, 50)
    rows = await raw_sql("SELECT kind, points, actor_label FROM loyalty_points_ledger ORDER BY id")
    assert tuple(rows[-1]) == (PointsKind.EXPIRE.value, -70, "system")

    again = await service.expire_points(now)
    assert (again.customers, again.points) == (0, 0)
    assert await ledger(raw_sql, customer.id) == (50, 50)

    # Ten days on, the points earned 10 days ago pass the validity too.
    later = await service.expire_points(now + timedelta(days=21))
    assert (later.customers, later.points) == (1, 50)
    assert await ledger(raw_sql, customer.id) == (0, 0)


async def test_points_spent_before_later_old_points_were_earned(runtime, factory, raw_sql) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    now = utcnow()
    customer = await factory.customer()
    await factory.earn_points(customer.id, 100, at=now - timedelta(days=60))
    spent = await at_time(
        runtime, now - timedelta(days=50), lambda uow: service.redeem(uow, customer.id, 100, None)
    )
    assert spent.ok
    await factory.earn_points(customer.id, 20, at=now - timedelta(days=40))
    await factory.earn_points(customer.id, 5, at=now - timedelta(days=1))

    report = await service.expire_points(now)
    assert report.points == 20
    assert await ledger(raw_sql, customer.id) == (5, 5)


async def test_expiry_is_audited_on_the_customer(runtime, factory, raw_sql) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    customer = await factory.customer()
    await factory.earn_points(customer.id, 40, at=utcnow() - timedelta(days=31))
    await LoyaltyService(runtime.tx, None).expire_points()
    rows = await raw_sql(
        "SELECT entity_type, entity_id, before, after, actor_label FROM audit_entries "
        "WHERE action = 'points_expire'"
    )
    assert [tuple(r[:2]) for r in rows] == [("customer", str(customer.id))]
    assert rows[0][4] == "system"


async def test_nothing_expires_without_a_validity_or_within_it(runtime, factory, raw_sql) -> None:
    service = LoyaltyService(runtime.tx, None)
    customer = await factory.customer()
    await factory.earn_points(customer.id, 40, at=utcnow() - timedelta(days=400))
    assert (await service.expire_points()).points == 0  # no validity set: points never expire

    await factory.points_validity_days(500)
    assert (await service.expire_points()).points == 0
    assert await ledger(raw_sql, customer.id) == (40, 40)


async def test_expiry_in_batches_expires_each_customers_own_due(runtime, factory, raw_sql) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    now = utcnow()
    old, recent = now - timedelta(days=60), now - timedelta(days=10)
    # (old points, recent points, spent since) -> what must expire: old minus spent, >= 0.
    plans = [(100, 0, 0), (100, 50, 30), (40, 0, 40), (0, 25, 0), (10, 5, 12), (70, 0, 0)]
    customers = [await factory.customer() for _ in plans]
    for customer, (old_points, recent_points, spent) in zip(customers, plans, strict=True):
        if old_points:
            await factory.earn_points(customer.id, old_points, at=old)
        if recent_points:
            await factory.earn_points(customer.id, recent_points, at=recent)
        if spent:
            redeemed = await at_time(
                runtime, recent, lambda uow, c=customer, n=spent: service.redeem(uow, c.id, n, None)
            )
            assert redeemed.ok

    # Two customers a batch: every batch boundary falls between customers somewhere.
    report = await service.expire_points(now, batch_size=2)

    due = [max(0, old_points - spent) for old_points, _, spent in plans]
    assert (report.customers, report.points) == (sum(1 for d in due if d), sum(due))
    for customer, (old_points, recent_points, spent), expired in zip(
        customers, plans, due, strict=True
    ):
        left = old_points + recent_points - spent - expired
        assert await ledger(raw_sql, customer.id) == (left, left)
    audited = await raw_sql("SELECT entity_id FROM audit_entries WHERE action = 'points_expire'")
    expired_ids = {str(c.id) for c, d in zip(customers, due, strict=True) if d}
    assert sorted(r[0] for r in audited) == sorted(expired_ids)
    assert (await service.expire_points(now, batch_size=2)).points == 0


async def test_a_redemption_committing_while_the_batch_waits_is_counted(
    runtime, factory, raw_sql
) -> None:
    """The batch counts what is due only once it holds the balances, never before."""
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    now = utcnow()
    others = [await factory.customer() for _ in range(3)]
    customer = await factory.customer()
    for other in others:
        await factory.earn_points(other.id, 10, at=now - timedelta(days=60))
    await factory.earn_points(customer.id, 100, at=now - timedelta(days=60))
    await factory.earn_points(customer.id, 50, at=now - timedelta(days=10))
    redeemed, release = asyncio.Event(), asyncio.Event()

    async def till(uow: UnitOfWork) -> int:
        # Holds the balance (PostgreSQL: its row; SQLite: the writer) until released.
        balance = await service.redeem(uow, customer.id, 30, None, "Reward")
        redeemed.set()
        await release.wait()
        return balance

    sale = asyncio.create_task(runtime.tx.run(None, till))
    await redeemed.wait()
    expiry = asyncio.create_task(service.expire_points(now, batch_size=2))
    await asyncio.sleep(0.3)  # lets the job reach the lock; the outcome is the same if not
    release.set()
    assert (await sale).value == 120
    report = await expiry

    # 30 of the old 100 were spent first (FIFO), so 70 expire, not 100.
    assert (report.customers, report.points) == (4, 70 + 30)
    assert await ledger(raw_sql, customer.id) == (50, 50)


@pytest.mark.parametrize("round_", range(5))
async def test_tills_redeeming_while_the_job_runs_never_lose_or_overdraw(
    runtime, factory, raw_sql, round_: int
) -> None:
    await factory.points_validity_days(VALIDITY_DAYS)
    service = LoyaltyService(runtime.tx, None)
    now = utcnow()
    customers = [await factory.customer() for _ in range(6)]
    for customer in customers:
        await factory.earn_points(customer.id, 100, at=now - timedelta(days=60))
        await factory.earn_points(customer.id, 50, at=now - timedelta(days=10))

    results = await asyncio.gather(
        service.expire_points(now, batch_size=2),
        *(service.redeem_points(c.id, 30, "Reward") for c in customers),
    )

    report, expired = results[0], 0
    for customer, redemption in zip(customers, results[1:], strict=True):
        assert redemption.ok  # 50 recent points always cover it
        balance, total = await ledger(raw_sql, customer.id)
        # Redeemed before the expiry: 70 expire, 50 left; after it: 100 expire, 20 left.
        assert (balance, total) in {(50, 50), (20, 20)}
        expired += 70 if balance == 50 else 100
    assert (report.customers, report.points) == (len(customers), expired)


async def test_expired_customers_reach_their_stores_change_feed(runtime, factory) -> None:
    """The batch publishes what one transaction per customer did: each customer, once."""
    await factory.points_validity_days(VALIDITY_DAYS)
    branch = await factory.store()
    old = utcnow() - timedelta(days=60)
    expiring = [await factory.customer(home_store_id=branch.id) for _ in range(3)]
    keeping = await factory.customer(home_store_id=branch.id)
    for customer in expiring:
        await factory.earn_points(customer.id, 10, at=old)
    await factory.earn_points(keeping.id, 10)
    feed = StoreSyncService(runtime.tx, runtime.settings, None)
    before = await feed.changes(branch.id, None, 100)

    await LoyaltyService(runtime.tx, None).expire_points(batch_size=2)

    after = await feed.changes(branch.id, before.end_cursor, 100)
    assert sorted((c.customer_id, c.kind.value) for c in after.changes) == sorted(
        (c.id, "CHANGED") for c in expiring
    )
