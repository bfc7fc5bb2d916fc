"""Loyalty tiers (issue 13, seed 003's membership plans): set-up and its validation, who may
change them, promotion at a sale's completion, the tier's discount and points multiplier,
the nightly re-evaluation that demotes, and every change in the customer's audit trail."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.jobs.worker import build_worker
from app.services.loyalty_tiers import TIER_JOB, apply_changes, refresh_tiers
from app.services.sale_reversals import SaleReversalService
from app.services.unit_of_work import utcnow
from tests.analytics.helpers import move_sale
from tests.conftest import BACKEND

TIER_FIELDS = "id name rank basis threshold windowDays pointsMultiplier discountPercent"
CREATE = f"""mutation($input: LoyaltyTierInput!) {{ loyaltyTierCreate(input: $input) {{
  tier {{ {TIER_FIELDS} }} errors {{ field code message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: LoyaltyTierUpdateInput!) {{
  loyaltyTierUpdate(id: $id, input: $input) {{
  tier {{ {TIER_FIELDS} }} errors {{ field code message }} }} }}"""
DELETE = """mutation($id: ID!) { loyaltyTierDelete(id: $id) { deletedId errors { field code } } }"""
LIST = f"{{ loyaltyTiers {{ {TIER_FIELDS} }} }}"
SALE_CREATE = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id } errors { field code } } }"""
SALE_COMPLETE = """mutation($s: ID!) { saleComplete(saleId: $s, input: {payment: CASH}) {
  sale { id total discountTotal pointsEarned
    appliedDiscounts { source code percent amount } discountOffers { source code percent } }
  errors { field code } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  loyaltyTier { since tier { name discountPercent pointsMultiplier } }
  auditTrail(first: 20) { edges { node { action actor before after } } } } }"""

SILVER = {
    "name": "Silver",
    "rank": 1,
    "basis": "SPEND",
    "threshold": "50",
    "windowDays": 365,
    "pointsMultiplier": "1.5",
}


@pytest.fixture
async def manager(factory: Any) -> str:
    return await factory.token(P.DISCOUNT_MANAGE, P.CUSTOMER_VIEW)  # type: ignore[no-any-return]


@pytest.fixture
async def cashier(factory: Any) -> str:
    return await factory.token(  # type: ignore[no-any-return]
        P.SALE_CREATE, P.SALE_VOID, P.CUSTOMER_VIEW, P.AUDIT_VIEW
    )


def _data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def make_tier(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    payload = _data(await gql(CREATE, {"input": {**SILVER, **fields}}, token=token))
    return payload["loyaltyTierCreate"]  # type: ignore[no-any-return]


async def tier(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    made = await make_tier(gql, token, **fields)
    assert made["errors"] == [], made
    return made["tier"]  # type: ignore[no-any-return]


async def sell(gql: Any, token: str, customer_id: Any, sku: str, quantity: int = 1) -> Any:
    variables = {
        "input": {"customerId": str(customer_id), "lines": [{"sku": sku, "quantity": quantity}]}
    }
    opened = _data(await gql(SALE_CREATE, variables, token=token))["saleCreate"]
    assert opened["errors"] == [], opened
    done = _data(await gql(SALE_COMPLETE, {"s": opened["sale"]["id"]}, token=token))
    assert done["saleComplete"]["errors"] == [], done
    return done["saleComplete"]["sale"]


async def screen(gql: Any, token: str, customer_id: Any) -> dict[str, Any]:
    return _data(await gql(CUSTOMER, {"id": str(customer_id)}, token=token))["customer"]  # type: ignore[no-any-return]


def tier_changes(customer: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """The customer's tier changes, oldest first: (before, after, actor)."""
    edges = customer["auditTrail"]["edges"]
    return [
        (e["node"]["before"]["loyaltyTier"], e["node"]["after"]["loyaltyTier"], e["node"]["actor"])
        for e in reversed(edges)
        if e["node"]["action"] == "loyalty_tier_change"
    ]


def errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# --- set-up ---------------------------------------------------------------------------------


async def test_tiers_are_created_listed_by_rank_changed_and_deleted(gql, manager) -> None:
    gold = await tier(gql, manager, name=" Gold ", rank=5, threshold="2000", discountPercent="10")
    assert gold == {
        "id": gold["id"],
        "name": "Gold",
        "rank": 5,
        "basis": "SPEND",
        "threshold": "2000.00",
        "windowDays": 365,
        "pointsMultiplier": "1.50",
        "discountPercent": "10.00",
    }
    silver = await tier(gql, manager, pointsMultiplier="1")
    assert silver["discountPercent"] is None
    assert [t["name"] for t in _data(await gql(LIST, token=manager))["loyaltyTiers"]] == [
        "Silver",
        "Gold",
    ]

    changed = _data(
        await gql(
            UPDATE,
            {"id": gold["id"], "input": {"name": "Platinum", "discountPercent": None}},
            token=manager,
        )
    )["loyaltyTierUpdate"]
    assert changed["errors"] == []
    assert (changed["tier"]["name"], changed["tier"]["discountPercent"]) == ("Platinum", None)
    assert changed["tier"]["threshold"] == "2000.00"  # not given: kept

    deleted = _data(await gql(DELETE, {"id": gold["id"]}, token=manager))["loyaltyTierDelete"]
    assert deleted == {"deletedId": gold["id"], "errors": []}
    assert [t["name"] for t in _data(await gql(LIST, token=manager))["loyaltyTiers"]] == ["Silver"]
    gone = _data(await gql(DELETE, {"id": gold["id"]}, token=manager))["loyaltyTierDelete"]
    assert errors(gone) == [("NOT_FOUND", ["id"])]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "  "}, [("REQUIRED", ["input", "name"])]),
        ({"name": "silver"}, [("DUPLICATE", ["input", "name"])]),
        ({"name": "Other", "rank": 1}, [("DUPLICATE", ["input", "rank"])]),
        ({"rank": 0}, [("INVALID", ["input", "rank"])]),
        ({"threshold": "-1"}, [("INVALID", ["input", "threshold"])]),
        ({"threshold": "0"}, [("INVALID", ["input", "threshold"])]),
        ({"threshold": "10.005"}, [("INVALID", ["input", "threshold"])]),
        ({"basis": "POINTS", "threshold": "100.50"}, [("INVALID", ["input", "threshold"])]),
        ({"pointsMultiplier": "0.99"}, [("INVALID", ["input", "pointsMultiplier"])]),
        ({"pointsMultiplier": "10.01"}, [("INVALID", ["input", "pointsMultiplier"])]),
        ({"pointsMultiplier": "1000"}, [("INVALID", ["input", "pointsMultiplier"])]),
        ({"discountPercent": "100.01"}, [("INVALID", ["input", "discountPercent"])]),
        ({"discountPercent": "-0.01"}, [("INVALID", ["input", "discountPercent"])]),
        ({"windowDays": 0}, [("INVALID", ["input", "windowDays"])]),
        ({"windowDays": 3651}, [("INVALID", ["input", "windowDays"])]),
        (
            {"name": "Silver", "threshold": "-5", "windowDays": 0, "discountPercent": "101"},
            [
                ("INVALID", ["input", "threshold"]),
                ("INVALID", ["input", "windowDays"]),
                ("INVALID", ["input", "discountPercent"]),
                ("DUPLICATE", ["input", "name"]),
            ],
        ),
    ],
)
async def test_bad_tiers_are_refused_field_by_field_and_nothing_saved(
    gql, manager, fields, expected
) -> None:
    await tier(gql, manager)
    # The rank is free unless the case is about it.
    refused = await make_tier(gql, manager, **{"name": "Other", "rank": 2, **fields})
    assert refused["tier"] is None
    assert sorted(errors(refused)) == sorted(expected)
    assert len(_data(await gql(LIST, token=manager))["loyaltyTiers"]) == 1


async def test_the_edge_values_are_accepted(gql, manager) -> None:
    made = await tier(
        gql,
        manager,
        basis="POINTS",
        threshold="1",
        windowDays=3650,
        pointsMultiplier="10",
        discountPercent="100",
    )
    assert (made["threshold"], made["windowDays"], made["pointsMultiplier"]) == (
        "1.00",
        3650,
        "10.00",
    )
    assert (await tier(gql, manager, name="Day", rank=2, windowDays=1))["windowDays"] == 1


async def test_an_update_is_checked_like_a_create_and_changes_nothing_when_refused(
    gql, manager
) -> None:
    silver = await tier(gql, manager)
    gold = await tier(gql, manager, name="Gold", rank=2, threshold="2000")
    bad = {
        "name": "SILVER",
        "rank": 1,
        "basis": "POINTS",
        "threshold": "99.5",
        "pointsMultiplier": "0.5",
    }
    refused = _data(await gql(UPDATE, {"id": gold["id"], "input": bad}, token=manager))
    assert sorted(errors(refused["loyaltyTierUpdate"])) == [
        ("DUPLICATE", ["input", "name"]),
        ("DUPLICATE", ["input", "rank"]),
        ("INVALID", ["input", "pointsMultiplier"]),
        ("INVALID", ["input", "threshold"]),
    ]
    # A basis changed to POINTS must find a whole threshold: 2000.00 is one.
    to_points = {"id": gold["id"], "input": {"basis": "POINTS"}}
    moved = _data(await gql(UPDATE, to_points, token=manager))["loyaltyTierUpdate"]
    assert moved["errors"] == []
    assert moved["tier"]["basis"] == "POINTS"
    # Its own name and rank are no duplicate.
    same = {"id": silver["id"], "input": {"name": "silver", "rank": 1}}
    kept = _data(await gql(UPDATE, same, token=manager))["loyaltyTierUpdate"]
    assert kept["errors"] == []
    assert kept["tier"]["name"] == "silver"
    listed = {t["name"]: t for t in _data(await gql(LIST, token=manager))["loyaltyTiers"]}
    assert listed["Gold"]["pointsMultiplier"] == "1.50"


async def test_only_discount_managers_of_the_whole_chain_change_tiers(
    gql, factory, manager
) -> None:
    cashier = await factory.token(P.SALE_CREATE, P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY)
    refused = await make_tier(gql, cashier)
    assert errors(refused) == [("FORBIDDEN", None)]
    store = await factory.store()
    local = await factory.token(P.DISCOUNT_MANAGE, P.CUSTOMER_VIEW, store_id=store.id)
    assert errors(await make_tier(gql, local)) == [("FORBIDDEN", None)]
    # Reading the ladder needs only CUSTOMER_VIEW, as the groups do.
    await tier(gql, manager)
    assert len(_data(await gql(LIST, token=cashier))["loyaltyTiers"]) == 1
    nobody = await factory.token(P.SALE_CREATE)
    body = await gql(LIST, token=nobody)
    assert body["data"] is None or body["data"]["loyaltyTiers"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# --- at the till ------------------------------------------------------------------------------


async def test_a_completed_sale_promotes_and_the_next_sale_gets_the_tier(
    gql, factory, manager, cashier
) -> None:
    await tier(gql, manager, discountPercent="5")
    product = await factory.product("TIER-TEA", "30.00")
    customer = await factory.customer(name="Climber")

    first = await sell(gql, cashier, customer.id, product.sku)
    # 30.00 of 50: no tier yet; points as usual.
    assert (first["pointsEarned"], first["appliedDiscounts"]) == (30, [])
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None

    second = await sell(gql, cashier, customer.id, product.sku)
    # This sale makes 60.00: it was priced and earns without the tier (it was rung up
    # before the customer reached it), and it promotes them.
    assert (second["pointsEarned"], second["discountTotal"]) == (30, "0.00")
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"] == {
        "name": "Silver",
        "discountPercent": "5.00",
        "pointsMultiplier": "1.50",
    }
    # Audited as the cashier's sale did it.
    ((before, after, actor),) = tier_changes(shown)
    assert (before, after) == (None, "Silver")
    assert actor != "system"

    third = await sell(gql, cashier, customer.id, product.sku)
    assert third["appliedDiscounts"] == [
        {"source": "TIER", "code": "Silver", "percent": "5.00", "amount": "1.50"}
    ]
    # 28.50 paid x 1 point x 1.5 = 42.75: floored once, to 42.
    assert (third["total"], third["pointsEarned"]) == ("28.50", 42)
    # Still Silver: no second audit entry.
    assert len(tier_changes(await screen(gql, cashier, customer.id))) == 1


async def test_the_multiplier_is_exact_to_the_point(gql, factory, manager, cashier) -> None:
    await tier(gql, manager, threshold="0.01", pointsMultiplier="1.25")
    cheap = await factory.product("TIER-PIN", "0.01")
    odd = await factory.product("TIER-ODD", "13.72")
    customer = await factory.customer(name="Pointed")
    await sell(gql, cashier, customer.id, cheap.sku)  # promoted: 0.01 reaches 0.01
    # 41.16 x 1.25 = 51.45 -> 51.
    assert (await sell(gql, cashier, customer.id, odd.sku, 3))["pointsEarned"] == 51
    # 0.80 x 1.25 = 1.00 exactly: one point, where flooring 0.80 first would give none.
    eighty = await factory.product("TIER-80", "0.80")
    assert (await sell(gql, cashier, customer.id, eighty.sku))["pointsEarned"] == 1


@pytest.mark.parametrize(
    ("tier_percent", "group_percent", "code_percent", "winner"),
    [
        ("15", "10", None, ("TIER", "Silver", "15.00")),
        ("5", "10", None, ("GROUP", "Staff", "10.00")),
        ("15", "10", "20", ("CODE", "VIP20", "20.00")),
        # On a tie the tier beats a group, and a code beats the tier.
        ("10", "10", None, ("TIER", "Silver", "10.00")),
        ("10", "10", "10", ("CODE", "VIP20", "10.00")),
    ],
)
async def test_the_tier_discount_competes_and_never_stacks(
    gql, factory, manager, cashier, tier_percent, group_percent, code_percent, winner
) -> None:
    await tier(gql, manager, threshold="1", discountPercent=tier_percent)
    product = await factory.product("TIER-MUG", "100.00")
    customer = await factory.customer(name="Offered")
    group = await factory.group("Staff", group_percent)
    await factory.add_to_group(group.id, customer.id)
    if code_percent:
        code = await factory.discount_code("VIP20", code_percent)
        assert (await factory.discounts().assign(customer.id, code.code, None)).errors == []
    await sell(gql, cashier, customer.id, product.sku)  # promotes
    sale = await sell(gql, cashier, customer.id, product.sku)
    assert [(d["source"], d["code"], d["percent"]) for d in sale["appliedDiscounts"]] == [winner]
    # One percent off, never the sum.
    assert sale["discountTotal"] == f"{Decimal(winner[2]):.2f}"
    assert ("TIER", "Silver", f"{Decimal(tier_percent):.2f}") in [
        (o["source"], o["code"], o["percent"]) for o in sale["discountOffers"]
    ]


async def test_points_basis_counts_points_earned_in_the_window(
    gql, factory, manager, cashier
) -> None:
    await tier(gql, manager, name="Points Gold", basis="POINTS", threshold="100", windowDays=30)
    product = await factory.product("TIER-BAG", "60.00")
    customer = await factory.customer(name="Earner")
    await sell(gql, cashier, customer.id, product.sku)
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None  # 60 points
    await sell(gql, cashier, customer.id, product.sku)  # 120 points
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"]["name"] == "Points Gold"


async def test_the_highest_ranked_tier_reached_wins(gql, factory, manager, cashier) -> None:
    await tier(gql, manager)  # Silver: 50 spent
    await tier(gql, manager, name="Gold", rank=2, threshold="200", pointsMultiplier="2")
    product = await factory.product("TIER-TV", "250.00")
    customer = await factory.customer(name="Jumper")
    await sell(gql, cashier, customer.id, product.sku)
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"]["name"] == "Gold"
    assert tier_changes(shown)[0][:2] == (None, "Gold")


# --- the nightly re-evaluation ----------------------------------------------------------------


async def test_the_nightly_run_demotes_when_the_window_passes(
    gql, factory, runtime, manager, cashier
) -> None:
    await tier(gql, manager, windowDays=30)
    product = await factory.product("TIER-COAT", "80.00")
    customer = await factory.customer(name="Lapsing")
    kept = await factory.customer(name="Regular")
    await sell(gql, cashier, customer.id, product.sku)
    await sell(gql, cashier, kept.id, product.sku)
    now = utcnow()

    # Tonight: still within 30 days, nothing changes.
    run = await refresh_tiers(runtime.tx, now, now=now)
    assert run.result == {"rows": 0, "promoted": 0, "demoted": 0, "now": now.isoformat()}

    # 31 days on (the clock the job is given), the first customer's sale has left the
    # window; the other bought again meanwhile (their sale moved to day 20).
    later = now + timedelta(days=31)
    fresh = await factory.completed_sale(kept.id, [(product.sku, 1)])
    await move_sale(runtime, fresh.id, now + timedelta(days=20))
    run = await refresh_tiers(runtime.tx, later, now=later)
    assert run.result
    assert (run.result["rows"], run.result["demoted"]) == (1, 1)
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None
    assert (await screen(gql, cashier, kept.id))["loyaltyTier"]["tier"]["name"] == "Silver"
    assert tier_changes(await screen(gql, cashier, customer.id))[-1] == (
        "Silver",
        None,
        "system",
    )
    # The same night again: its job_runs slot is taken, nothing is done twice.
    again = await refresh_tiers(runtime.tx, later, now=later)
    assert again.claimed is False


async def test_a_void_lowers_the_tier_at_the_next_evaluation(
    gql, factory, runtime, manager, cashier
) -> None:
    await tier(gql, manager)
    product = await factory.product("TIER-SOFA", "70.00")
    customer = await factory.customer(name="Regretful")
    sale = await sell(gql, cashier, customer.id, product.sku)
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is not None
    voided = await SaleReversalService(runtime.tx, None, factory.loyalty()).void(
        uuid.UUID(sale["id"]), "wrong customer"
    )
    assert voided.errors == []
    # Documented: a void changes the tier at the next evaluation, not at once.
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is not None
    now = utcnow()
    await refresh_tiers(runtime.tx, now, now=now)
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None


async def test_the_nightly_run_promotes_customers_who_reach_a_new_tier(
    gql, factory, runtime, manager, cashier
) -> None:
    product = await factory.product("TIER-LAMP", "75.00")
    customer = await factory.customer(name="Early Bird")
    await factory.completed_sale(customer.id, [(product.sku, 1)])
    await tier(gql, manager)  # created after the sale
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None
    now = utcnow()
    run = await refresh_tiers(runtime.tx, now, now=now)
    assert run.result
    assert run.result["promoted"] == 1
    assert (await screen(gql, cashier, customer.id))["loyaltyTier"]["tier"]["name"] == "Silver"


async def test_the_worker_runs_the_tier_job_at_start_up(
    gql, factory, runtime, raw_sql, manager, cashier
) -> None:
    await tier(gql, manager, windowDays=30)
    product = await factory.product("TIER-HAT", "90.00")
    customer = await factory.customer(name="Old Timer")
    sale = await sell(gql, cashier, customer.id, product.sku)
    await move_sale(runtime, uuid.UUID(sale["id"]), utcnow() - timedelta(days=31))

    worker = build_worker(runtime.settings, runtime.redis_url, db=runtime.db, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()

    assert (await screen(gql, cashier, customer.id))["loyaltyTier"] is None
    rows = await raw_sql(f"SELECT job_name FROM job_runs WHERE job_name = '{TIER_JOB}'")  # noqa: S608
    assert len(rows) == 1


async def test_deleting_a_tier_takes_it_from_its_holders_with_an_audit_entry(
    gql, factory, manager, cashier
) -> None:
    silver = await tier(gql, manager)
    product = await factory.product("TIER-RUG", "55.00")
    customer = await factory.customer(name="Holder")
    await sell(gql, cashier, customer.id, product.sku)
    deleted = _data(await gql(DELETE, {"id": silver["id"]}, token=manager))
    assert deleted["loyaltyTierDelete"]["errors"] == []
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"] is None
    assert [c[:2] for c in tier_changes(shown)] == [(None, "Silver"), ("Silver", None)]


async def test_a_new_discount_applies_to_holders_at_once(gql, factory, manager, cashier) -> None:
    silver = await tier(gql, manager)
    product = await factory.product("TIER-CUP", "60.00")
    customer = await factory.customer(name="Holder Two")
    await sell(gql, cashier, customer.id, product.sku)
    change = {"id": silver["id"], "input": {"discountPercent": "20"}}
    assert _data(await gql(UPDATE, change, token=manager))["loyaltyTierUpdate"]["errors"] == []
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"]["discountPercent"] == "20.00"
    sale = await sell(gql, cashier, customer.id, product.sku)
    assert sale["discountTotal"] == "12.00"


# --- loading ----------------------------------------------------------------------------------


async def test_a_list_shows_tiers_in_the_row_it_reads_cards_from(
    gql, factory, runtime, manager, count_statements
) -> None:
    """loyaltyTier is read with the card, points and stats (one row per customer): a page
    of customers asking for both takes as many statements as one asking for the card."""
    await tier(gql, manager, threshold="5")
    product = await factory.product("TIER-PEN", "10.00")
    with_card = "{ customers(first: 50) { edges { node { name loyaltyCard { cardNumber } } } } }"
    with_tier = """{ customers(first: 50) { edges { node { name loyaltyCard { cardNumber }
      loyaltyTier { since tier { name pointsMultiplier discountPercent } } } } } }"""
    counts = []
    made = 0
    await gql("{ __typename }", token=manager)  # the token's grant cached
    for size in (4, 16):
        while made < size:
            customer = await factory.customer()
            await factory.loyalty_card(customer.id)
            if made % 2 == 0:
                await factory.completed_sale(customer.id, [(product.sku, 1)])
            made += 1
        with count_statements() as counter:
            body = _data(await gql(with_tier, token=manager))
        nodes = [e["node"] for e in body["customers"]["edges"]]
        assert len(nodes) == size
        assert sum(1 for n in nodes if n["loyaltyTier"]) == size // 2
        with count_statements() as plain:
            _data(await gql(with_card, token=manager))
        counts.append((counter.count, plain.count))
    assert counts[0] == counts[1], counts
    assert counts[1][0] == counts[1][1], counts


TILL_CREATE = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id total } errors { code } } }"""
TILL_COMPLETE = """mutation($s: ID!, $k: String) {
  saleComplete(saleId: $s, input: {payment: CARD, idempotencyKey: $k}) {
  sale { id status total pointsEarned } errors { code } } }"""


async def test_a_tier_costs_a_sale_one_statement(gql, factory, manager, count_statements) -> None:
    """The till's sale of tests/api/test_sales.py (17 statements to complete on SQLite, 18
    on PostgreSQL, without tiers) for a customer holding a tier: the tiers come from the
    cache and the customer's tier with their offers, so the window's measures are the one
    statement more."""
    for sku, price in (("TS-A", "3.99"), ("TS-B", "7.50"), ("TS-C", "0.25")):
        await factory.product(sku, price)
    store = await factory.store("TSTM")
    till = await factory.till(store.id, P.SALE_CREATE, P.CUSTOMER_VIEW)
    customer = await factory.customer("Tiered Buyer", "+12125550198")
    await factory.loyalty_card(customer.id, "TSTM-1", percent="5")
    await tier(gql, manager, threshold="10", discountPercent="6")
    lines = [{"sku": sku, "quantity": 2} for sku in ("TS-A", "TS-B", "TS-C")]
    counts = []
    for n in range(3):  # promoted by the first (with every cache cold, as at a new till)
        variables = {"input": {"customerId": str(customer.id), "lines": lines}}
        opened = _data(await gql(TILL_CREATE, variables, token=till))["saleCreate"]
        with count_statements() as completed:
            done = _data(
                await gql(TILL_COMPLETE, {"s": opened["sale"]["id"], "k": f"t{n}"}, token=till)
            )["saleComplete"]
        assert done["sale"]["status"] == "COMPLETED"
        counts.append(completed.count)
    print(f"completion statements with tiers: {counts}")
    base = 17 if BACKEND == "sqlite" else 18
    assert counts[1:] == [base + 1, base + 1], counts


SETTINGS = """mutation($input: BusinessSettingsInput!) { businessSettingsUpdate(input: $input) {
  errors { field code } } }"""


async def test_with_loyalty_off_the_tier_gives_nothing_but_is_kept(
    gql, factory, manager, cashier
) -> None:
    """The loyalty switch (seed 004) turns the tier's benefits off with the card's, in the
    entitlements; the tier is still held and re-evaluated, as balances are kept."""
    await tier(gql, manager, threshold="10", discountPercent="15", pointsMultiplier="2")
    product = await factory.product("TIER-OFF", "40.00")
    customer = await factory.customer(name="Switched")
    await sell(gql, cashier, customer.id, product.sku)  # promoted
    on = await sell(gql, cashier, customer.id, product.sku)
    assert (on["discountTotal"], on["pointsEarned"]) == ("6.00", 68)  # 15% off, 34 x 2

    settings = await factory.token(P.SETTINGS_MANAGE)
    off = {"input": {"loyaltyEnabled": False}}
    assert _data(await gql(SETTINGS, off, token=settings))["businessSettingsUpdate"] == {
        "errors": []
    }
    sale = await sell(gql, cashier, customer.id, product.sku)
    assert (sale["discountTotal"], sale["pointsEarned"], sale["discountOffers"]) == (
        "0.00",
        0,
        [],
    )
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"]["name"] == "Silver"


async def test_a_merge_tiers_the_survivor_with_both_histories(
    gql, factory, manager, cashier, raw_sql
) -> None:
    """Two records of one person: the merged one Silver, the survivor short of it. Merged,
    the survivor is Silver at once and the merged record holds no tier."""
    await tier(gql, manager)
    product = await factory.product("TIER-MERGE", "30.00")
    source, target = await factory.customer(), await factory.customer()
    await sell(gql, cashier, source.id, product.sku)
    await sell(gql, cashier, source.id, product.sku)
    await sell(gql, cashier, target.id, product.sku)
    assert (await screen(gql, cashier, source.id))["loyaltyTier"] is not None
    assert (await screen(gql, cashier, target.id))["loyaltyTier"] is None

    merger = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY, P.CUSTOMER_DELETE)
    merge = """mutation($s: ID!, $t: ID!) { customerMerge(sourceId: $s, targetId: $t) {
      errors { code } } }"""
    body = await gql(merge, {"s": str(source.id), "t": str(target.id)}, token=merger)
    assert _data(body)["customerMerge"]["errors"] == []

    shown = await screen(gql, cashier, target.id)
    assert shown["loyaltyTier"]["tier"]["name"] == "Silver"
    assert (None, "Silver") in [(b, a) for b, a, _ in tier_changes(shown)]
    holders = await raw_sql("SELECT customer_id FROM customer_loyalty_tiers")
    assert [str(uuid.UUID(str(c))) for (c,) in holders] == [str(target.id)]


async def test_a_customers_data_export_names_their_tier(gql, factory, manager, cashier) -> None:
    await tier(gql, manager)
    product = await factory.product("TIER-EXPORT", "60.00")
    customer = await factory.customer()
    await sell(gql, cashier, customer.id, product.sku)
    export = """mutation($id: ID!) { customerDataExport(id: $id) { document errors { code } } }"""
    body = await gql(
        export, {"id": str(customer.id)}, token=await factory.token(P.CUSTOMER_VIEW_PII)
    )
    held = _data(body)["customerDataExport"]["document"]["profile"]["loyaltyTier"]
    assert [t["name"] for t in held] == ["Silver"]


async def test_the_nightly_run_never_undoes_a_change_it_did_not_see(
    gql, factory, runtime, manager, cashier
) -> None:
    """The run reads who moves, then writes. A sale that changed a customer's tier in
    between (it committed meanwhile, on PostgreSQL) wins: the stale change is dropped."""
    silver = await tier(gql, manager, windowDays=30)
    gold = await tier(gql, manager, name="Gold", rank=2, threshold="500", windowDays=30)
    product = await factory.product("TIER-RACE", "60.00")
    customer = await factory.customer(name="Racing")
    await sell(gql, cashier, customer.id, product.sku)
    later = utcnow() + timedelta(days=31)

    async def read(uow: Any) -> Any:
        return await uow.tiers.changes(await uow.tiers.all(), later)

    stale = (await runtime.tx.run(None, read)).value
    assert stale == [(customer.id, uuid.UUID(silver["id"]), None)]

    async def sale_promotes(uow: Any) -> None:
        await uow.tiers.assign(customer.id, uuid.UUID(gold["id"]), uow.now)

    await runtime.tx.run(None, sale_promotes)

    async def write(uow: Any) -> Any:
        return await apply_changes(uow, stale, {})

    assert (await runtime.tx.run(None, write)).value == []
    shown = await screen(gql, cashier, customer.id)
    assert shown["loyaltyTier"]["tier"]["name"] == "Gold"
    assert ("Silver", None) not in [(b, a) for b, a, _ in tier_changes(shown)]
