"""Customer segments (issue 11 §3): at the till at once, nightly for the chain, and read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from app.domain.permissions import Permission as P
from app.domain.segments import CustomerSegment
from app.services.sales_aggregates import rebuild, run_nightly
from app.services.segments import refresh_segments, segment_customer_ids
from app.services.unit_of_work import utcnow
from tests.analytics.helpers import at, move_sale

DAY = timedelta(days=1)
SEGMENT = "query($id: ID!) { customer(id: $id) { segment } }"
BY_SEGMENT = """query($s: CustomerSegment!) {
  customers(filter: {segment: $s}) { totalCount edges { node { id } } } }"""
COUNTS = """query($store: ID) { customerSegments(storeId: $store) {
  segment customers revenue } }"""


async def _segment(gql, token: str, customer_id) -> str | None:  # type: ignore[no-untyped-def]
    body = await gql(SEGMENT, {"id": str(customer_id)}, token=token)
    assert "errors" not in body, body
    return body["data"]["customer"]["segment"]


async def test_the_till_sees_a_first_visit_at_once_and_a_second(gql, factory, raw_sql) -> None:
    await factory.product("TEA", price="5.00")
    customer = await factory.customer()
    token = await factory.token(P.CUSTOMER_VIEW)
    assert await _segment(gql, token, customer.id) is None  # never bought

    first = await factory.completed_sale(customer.id, [("TEA", 1)])
    assert await _segment(gql, token, customer.id) == "NEW"
    second = await factory.completed_sale(customer.id, [("TEA", 1)])
    assert await _segment(gql, token, customer.id) == "REPEAT"

    assert first.id != second.id
    stamped = await raw_sql("SELECT customer_segment FROM sales ORDER BY completed_at")
    assert [s for (s,) in stamped] == ["NEW", "REPEAT"]


async def _chain(runtime, factory):  # type: ignore[no-untyped-def]
    """Ten regulars buying on 2..11 recent days, one gone quiet, one long gone, one new.

    Purchase days in the window, chain-wide: 1 (new), 2, 2 (quiet, gone), 2..11: the cut
    points are 2, 3, 5 and 8, so 6 days and more is the top two fifths (spend alike).
    """
    await factory.product("TEA", price="10.00")
    today = utcnow().date()
    regulars = [await factory.customer(name=f"Regular {n}") for n in range(10)]
    for n, customer in enumerate(regulars):
        for d in range(n + 2):
            sale = await factory.completed_sale(customer.id, [("TEA", 1)])
            await move_sale(runtime, sale.id, at(today - (d + 1) * DAY))
    quiet = await factory.customer(name="Quiet")
    gone = await factory.customer(name="Gone")
    for customer, days_ago in ((quiet, 100), (quiet, 101), (gone, 200), (gone, 201)):
        sale = await factory.completed_sale(customer.id, [("TEA", 1)])
        await move_sale(runtime, sale.id, at(today - days_ago * DAY))
    new = await factory.customer(name="New")
    await factory.completed_sale(new.id, [("TEA", 1)])
    return regulars, quiet, gone, new


async def _fix_last_purchases(runtime) -> None:  # type: ignore[no-untyped-def]
    """Moving sales back leaves the running stats at now: put them where the sales are."""
    from sqlalchemy import text

    async def work(uow):  # type: ignore[no-untyped-def]
        await uow.session.execute(
            text(
                "UPDATE customer_sales_stats SET last_purchase_at = (SELECT MAX(completed_at) "
                "FROM sales WHERE sales.customer_id = customer_sales_stats.customer_id "
                "AND sales.status = 'COMPLETED')"
            )
        )

    await runtime.tx.run(None, work)


async def test_the_nightly_refresh_classifies_the_chain(runtime, gql, factory) -> None:
    regulars, quiet, gone, new = await _chain(runtime, factory)
    await _fix_last_purchases(runtime)
    # The history, as a shop adopting this release has it: rebuilt once, then nightly.
    await rebuild(runtime.tx)
    run = await run_nightly(runtime.tx, at(utcnow().date(), 2))
    assert run.result

    token = await factory.token(P.CUSTOMER_VIEW)
    got = [await _segment(gql, token, c.id) for c in regulars]
    assert got == ["REPEAT"] * 4 + ["LOYAL"] * 6
    assert await _segment(gql, token, quiet.id) == "AT_RISK"
    assert await _segment(gql, token, gone.id) == "LAPSED"
    assert await _segment(gql, token, new.id) == "NEW"

    loyal = await gql(BY_SEGMENT, {"s": "LOYAL"}, token=token)
    assert {e["node"]["id"] for e in loyal["data"]["customers"]["edges"]} == {
        str(c.id) for c in regulars[4:]
    }
    # What a marketing send to a segment targets.
    assert set(await segment_customer_ids(runtime.tx, CustomerSegment.AT_RISK)) == {quiet.id}


async def test_a_sale_at_the_till_counts_its_own_day_and_spend_against_the_cuts(
    runtime, gql, factory
) -> None:
    """The till classifies before the sale is stored as completed (one write of the sale):
    the sale must still count as a purchase day and as spend."""
    regulars, *_ = await _chain(runtime, factory)
    await _fix_last_purchases(runtime)
    await rebuild(runtime.tx)
    assert (await run_nightly(runtime.tx, at(utcnow().date(), 2))).result
    token = await factory.token(P.CUSTOMER_VIEW)
    # 5 purchase days and 50.00 in the window: the cuts are 5 days and 50.00, and LOYAL
    # needs to be above both.
    fifth = regulars[3]
    assert await _segment(gql, token, fifth.id) == "REPEAT"
    await factory.completed_sale(fifth.id, [("TEA", 1)])  # a 6th day, 60.00
    assert await _segment(gql, token, fifth.id) == "LOYAL"


async def test_the_thresholds_are_business_settings(runtime, gql, factory) -> None:
    regulars, quiet, *_ = await _chain(runtime, factory)
    await _fix_last_purchases(runtime)
    await rebuild(runtime.tx)
    admin = await factory.token(P.SETTINGS_MANAGE, P.CUSTOMER_VIEW)
    changed = await gql(
        "mutation { businessSettingsUpdate(input: {segmentLoyalQuintile: 5, "
        "segmentAtRiskDays: 120, segmentLapsedDays: 400}) { businessSettings { "
        "segmentLoyalQuintile segmentAtRiskDays segmentLapsedDays segmentWindowDays } "
        "errors { code field } } }",
        token=admin,
    )
    assert changed["data"]["businessSettingsUpdate"] == {
        "businessSettings": {
            "segmentLoyalQuintile": 5,
            "segmentAtRiskDays": 120,
            "segmentLapsedDays": 400,
            "segmentWindowDays": 365,
        },
        "errors": [],
    }

    await run_nightly(runtime.tx, at(utcnow().date(), 2))

    # Only the top fifth now: more than 8 purchase days.
    assert [await _segment(gql, admin, c.id) for c in regulars] == ["REPEAT"] * 7 + ["LOYAL"] * 3
    # 100 days quiet is no longer "at risk" with a 120-day bar.
    assert await _segment(gql, admin, quiet.id) == "REPEAT"


async def test_thresholds_that_contradict_each_other_are_refused(gql, factory) -> None:
    admin = await factory.token(P.SETTINGS_MANAGE)
    body = await gql(
        "mutation { businessSettingsUpdate(input: {segmentLapsedDays: 60}) "
        "{ errors { code field } } }",
        token=admin,
    )
    # The at-risk bar stays 90: lapsing first would make AT_RISK unreachable.
    assert body["data"]["businessSettingsUpdate"]["errors"] == [
        {"code": "INVALID", "field": ["input", "segmentLapsedDays"]}
    ]
    body = await gql(
        "mutation { businessSettingsUpdate(input: {segmentLoyalQuintile: 6}) "
        "{ errors { code field } } }",
        token=admin,
    )
    assert body["data"]["businessSettingsUpdate"]["errors"] == [
        {"code": "INVALID", "field": ["input", "segmentLoyalQuintile"]}
    ]


async def test_segment_counts_and_revenue_chain_wide_and_per_store(runtime, gql, factory) -> None:
    await factory.product("TEA", price="10.00")
    branch = await factory.store("BR")
    yesterday = utcnow().date() - DAY
    here, there = await factory.customer(), await factory.customer()
    for customer, store_id, quantity in ((here, None, 2), (there, branch.id, 3)):
        sale = await factory.completed_sale(customer.id, [("TEA", quantity)], store_id=store_id)
        await move_sale(runtime, sale.id, at(yesterday))
    await _fix_last_purchases(runtime)
    await run_nightly(runtime.tx, at(utcnow().date(), 2))
    analyst = await factory.token(P.REPORT_VIEW)

    chain = await gql(COUNTS, token=analyst)
    assert "errors" not in chain, chain
    rows = {
        r["segment"]: (r["customers"], Decimal(r["revenue"]))
        for r in chain["data"]["customerSegments"]
    }
    assert rows == {
        "NEW": (2, Decimal("50.00")),
        "REPEAT": (0, Decimal("0.00")),
        "LOYAL": (0, Decimal("0.00")),
        "AT_RISK": (0, Decimal("0.00")),
        "LAPSED": (0, Decimal("0.00")),
    }
    at_branch = await gql(COUNTS, {"store": str(branch.id)}, token=analyst)
    assert at_branch["data"]["customerSegments"][0] == {
        "segment": "NEW",
        "customers": 1,
        "revenue": "30.00",
    }

    # A store-bound caller gets their own store's whatever they ask, and never another's.
    bound = await factory.token(P.REPORT_VIEW, store_id=branch.id)
    own = await gql(COUNTS, token=bound)
    assert own["data"]["customerSegments"][0]["customers"] == 1
    head = (await factory.head_office()).id
    refused = await gql(COUNTS, {"store": str(head)}, token=bound)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    cashier = await factory.token(P.SALE_CREATE)
    denied = await gql(COUNTS, token=cashier)
    assert [e["extensions"]["code"] for e in denied["errors"]] == ["FORBIDDEN"]


async def test_a_refresh_never_overwrites_a_segment_the_till_wrote_after_it_began(
    runtime, factory
) -> None:
    from app.db.repositories.segments import SegmentRepository

    await factory.product("TEA", price="5.00")
    buyer, gone = await factory.customer(), await factory.customer()
    await factory.completed_sale(buyer.id, [("TEA", 1)])  # one visit: the refresh says NEW
    at_the_till = utcnow()
    began = at_the_till - timedelta(minutes=5)

    async def till_writes(uow):  # type: ignore[no-untyped-def]
        # What the till wrote while the refresh ran: a segment the refresh's snapshot would
        # not give, and one for a customer the refresh finds no purchase for.
        await SegmentRepository(uow.session).put(
            {buyer.id: CustomerSegment.LOYAL, gone.id: CustomerSegment.NEW}, at_the_till
        )

    await runtime.tx.run(None, till_writes)

    async def refresh_from(moment):  # type: ignore[no-untyped-def]
        async def work(uow):  # type: ignore[no-untyped-def]
            uow.now = moment
            return await refresh_segments(uow, moment.date())

        await runtime.tx.run(None, work)

    async def read():  # type: ignore[no-untyped-def]
        async with runtime.db.read() as session:
            return await SegmentRepository(session).get([buyer.id, gone.id])

    # The refresh's snapshot predates the till's writes: neither is overwritten or removed.
    await refresh_from(began)
    assert await read() == {buyer.id: CustomerSegment.LOYAL, gone.id: CustomerSegment.NEW}
    # The next night's refresh is newer: it applies.
    await refresh_from(at_the_till + timedelta(days=1))
    assert await read() == {buyer.id: CustomerSegment.NEW}


async def test_the_refresh_in_sql_classifies_every_customer_as_the_rule_does(
    runtime, factory
) -> None:
    """The nightly refresh classifies in the database (one INSERT … SELECT): each customer
    gets what ``classify`` gives from their activity, ties at the cuts and days exactly
    at a threshold included, for every ``today`` that moves customers across them."""
    from app.db.repositories.segments import SegmentRepository
    from app.domain.segments import Activity, Cuts, classify, quintile_cuts
    from app.domain.segments import SegmentRules as Rules

    regulars, *_ = await _chain(runtime, factory)
    # A return leaves one regular's spend below what their visits alone would give.
    ret = await factory.completed_sale(regulars[9].id, [("TEA", 3)])
    await move_sale(runtime, ret.id, at(utcnow().date() - 3 * DAY))
    await _fix_last_purchases(runtime)
    await rebuild(runtime.tx)
    rules = Rules()
    today = utcnow().date()
    checked = set()
    for offset in (0, 1, 10, 88, 89, 90, 91, 98, 99, 100, 101, 178, 179, 180, 181, 200, 400):
        day = today + offset * DAY

        async def refresh(uow, day=day):  # type: ignore[no-untyped-def]
            return await refresh_segments(uow, day)

        await runtime.tx.run(None, refresh)
        async with runtime.db.read() as session:
            repository = SegmentRepository(session)
            activity = await repository.chain_activity(day - timedelta(days=rules.window_days))
            got = await repository.current()
            stored = await repository.cuts()
        active = [(f, m) for _, _, _, f, m in activity if f > 0]
        cuts = Cuts(quintile_cuts([f for f, _ in active]), quintile_cuts([m for _, m in active]))
        assert stored == cuts
        expected = {}
        for customer_id, purchases, last, frequency, monetary in activity:
            since = (day - last.date()).days if last is not None else rules.lapsed_days
            segment = classify(Activity(purchases, max(0, since), frequency, monetary), cuts, rules)
            assert segment is not None
            expected[customer_id] = segment.value
        assert got == expected, offset
        checked |= set(expected.values())
    assert checked == {s.value for s in CustomerSegment}
