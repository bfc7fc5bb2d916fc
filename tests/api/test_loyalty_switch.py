"""The loyalty switch (seed 004 "Enable loyalty function"): for the whole business
(``loyaltyEnabled``) and per customer (``loyaltyOptOut``). Off: no card discount, no points
earned or redeemed; balances and cards are kept and shown; groups and codes still apply."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from app.domain.errors import ErrorCode
from app.domain.permissions import Permission as P

SALE_FIELDS = """id status customerId subtotal discountTotal total paid pointsRedeemed
  pointsEarned appliedDiscounts { source code percent amount }
  discountOffers { source code }"""
CREATE = f"""mutation($input: SaleCreateInput!) {{ saleCreate(input: $input) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code message }} }} }}"""
ASSIGN = f"""mutation($s: ID!, $c: ID!) {{ saleAssignCustomer(saleId: $s, customerId: $c) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code }} }} }}"""
COMPLETE = f"""mutation($s: ID!, $input: SaleCompleteInput!) {{
  saleComplete(saleId: $s, input: $input) {{ sale {{ {SALE_FIELDS} }}
  errors {{ field code message }} }} }}"""
VOID = f"""mutation($s: ID!) {{ saleVoid(saleId: $s) {{ sale {{ {SALE_FIELDS} }}
  errors {{ field code }} }} }}"""
SALE = f"""query($id: ID!) {{ sale(id: $id) {{ {SALE_FIELDS} }} }}"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { loyaltyOptOut loyaltyPoints
  loyaltyCard { cardNumber discountPercent }
  pointsLedger(first: 50) { totalCount } } }"""
SETTINGS = """mutation($input: BusinessSettingsInput!) { businessSettingsUpdate(input: $input) {
  businessSettings { loyaltyEnabled } errors { field code } } }"""
READ_SETTINGS = "{ businessSettings { loyaltyEnabled } }"
CUSTOMER_CREATE = """mutation($input: CustomerCreateInput!) { customerCreate(input: $input) {
  customer { id version loyaltyOptOut } errors { field code } } }"""
CUSTOMER_UPDATE = """mutation($id: ID!, $input: CustomerUpdateInput!) {
  customerUpdate(id: $id, input: $input) { customer { version loyaltyOptOut }
  errors { field code } } }"""
ADJUST = """mutation($c: ID!, $input: LoyaltyPointsAdjustInput!) {
  loyaltyPointsAdjust(customerId: $c, input: $input) { customer { loyaltyPoints }
  errors { field code } } }"""


async def call(gql: Any, query: str, variables: dict[str, Any], token: str, name: str) -> Any:
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return body["data"][name]


@pytest.fixture
async def cashier(factory: Any) -> str:
    return await factory.token(  # type: ignore[no-any-return]
        P.SALE_CREATE, P.SALE_VOID, P.CUSTOMER_VIEW, P.CUSTOMER_ADD, P.CUSTOMER_MODIFY
    )


@pytest.fixture
async def manager(factory: Any) -> str:
    return await factory.token(P.SETTINGS_MANAGE)  # type: ignore[no-any-return]


@pytest.fixture
async def products(factory: Any) -> None:
    await factory.product("TEA-1", "10.00", name="Green tea")


async def member(factory: Any, points: int = 500, **fields: Any) -> Any:
    """A customer with a 10% card, a 4% group and ``points``."""
    customer = await factory.customer(**fields)
    await factory.loyalty_card(customer.id, "CARD-" + str(customer.id)[:8], percent="10")
    group = await factory.group(f"Regulars {customer.id}", discount_percent="4")
    await factory.add_to_group(group.id, customer.id)
    if points:
        await factory.earn_points(customer.id, points)
    return customer


async def switch(gql: Any, manager: str, on: bool) -> None:
    done = await call(gql, SETTINGS, {"input": {"loyaltyEnabled": on}}, manager,
                      "businessSettingsUpdate")  # fmt: skip
    assert done == {"businessSettings": {"loyaltyEnabled": on}, "errors": []}


async def open_sale(gql: Any, token: str, customer: Any) -> dict[str, Any]:
    payload = await call(
        gql,
        CREATE,
        {"input": {"customerId": str(customer.id), "lines": [{"sku": "TEA-1", "quantity": 2}]}},
        token,
        "saleCreate",
    )
    assert payload["errors"] == [], payload
    return payload["sale"]  # type: ignore[no-any-return]


async def complete(gql: Any, token: str, sale_id: str, redeem: int = 0) -> dict[str, Any]:
    variables = {"s": sale_id, "input": {"payment": "CASH", "redeemPoints": redeem}}
    return await call(gql, COMPLETE, variables, token, "saleComplete")  # type: ignore[no-any-return]


def applied(sale: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["source"], d["amount"]) for d in sale["appliedDiscounts"]]


async def test_loyalty_is_on_by_default_so_existing_shops_keep_working(
    gql, cashier, products, factory
) -> None:
    assert (await gql(READ_SETTINGS, token=cashier))["data"]["businessSettings"] == {
        "loyaltyEnabled": True
    }
    customer = await member(factory)
    sale = await open_sale(gql, cashier, customer)
    assert applied(sale) == [("LOYALTY_CARD", "2.00")]
    done = await complete(gql, cashier, sale["id"])
    assert (done["errors"], done["sale"]["pointsEarned"]) == ([], 18)


async def test_switched_off_no_card_discount_and_no_points_but_the_balance_is_kept(
    gql, cashier, manager, products, factory
) -> None:
    customer = await member(factory)
    await switch(gql, manager, False)
    sale = await open_sale(gql, cashier, customer)
    # The card is not among the offers; the group's 4% is the best that is left.
    assert applied(sale) == [("GROUP", "0.80")]
    assert [o["source"] for o in sale["discountOffers"]] == ["GROUP"]
    done = await complete(gql, cashier, sale["id"])
    assert done["errors"] == []
    assert (done["sale"]["total"], done["sale"]["pointsEarned"]) == ("19.20", 0)
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    # Kept and shown: the balance, the card, and no ledger line for the sale.
    assert found["loyaltyPoints"] == 500
    assert found["loyaltyCard"]["discountPercent"] == "10.00"
    assert found["pointsLedger"]["totalCount"] == 1

    await switch(gql, manager, True)
    again = await open_sale(gql, cashier, customer)
    assert applied(again) == [("LOYALTY_CARD", "2.00")]
    done = await complete(gql, cashier, again["id"], redeem=100)
    assert done["errors"] == []
    # 18.00 less 1.00 in points: 17 earned.
    assert (done["sale"]["pointsRedeemed"], done["sale"]["pointsEarned"]) == (100, 17)
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 500 - 100 + 17


async def test_an_open_sale_is_repriced_when_the_switch_changes_before_payment(
    gql, cashier, manager, products, factory
) -> None:
    customer = await member(factory)
    sale = await open_sale(gql, cashier, customer)
    assert applied(sale) == [("LOYALTY_CARD", "2.00")]
    await switch(gql, manager, False)
    done = await complete(gql, cashier, sale["id"])
    assert done["errors"] == []
    assert applied(done["sale"]) == [("GROUP", "0.80")]
    assert done["sale"]["pointsEarned"] == 0


async def test_redeeming_while_off_is_refused_and_changes_nothing(
    gql, cashier, manager, products, factory, raw_sql
) -> None:
    customer = await member(factory)
    sale = await open_sale(gql, cashier, customer)
    await switch(gql, manager, False)
    refused = await complete(gql, cashier, sale["id"], redeem=100)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["input", "redeemPoints"], "LOYALTY_DISABLED")
    ]
    assert refused["sale"] is None
    still = (await gql(SALE, {"id": sale["id"]}, token=cashier))["data"]["sale"]
    assert (still["status"], still["pointsRedeemed"]) == ("OPEN", 0)
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert (found["loyaltyPoints"], found["pointsLedger"]["totalCount"]) == (500, 1)
    [[redeems]] = await raw_sql("SELECT COUNT(*) FROM audit_entries WHERE action = 'points_redeem'")
    assert redeems == 0
    # Back on, the same sale takes the points.
    await switch(gql, manager, True)
    done = await complete(gql, cashier, sale["id"], redeem=100)
    assert done["errors"] == []
    assert done["sale"]["pointsRedeemed"] == 100


async def test_an_opted_out_customer_gets_groups_and_codes_but_no_loyalty(
    gql, cashier, products, factory, raw_sql
) -> None:
    created = await call(
        gql,
        CUSTOMER_CREATE,
        {"input": {"name": "Opted Out", "phone": "+17205550199", "loyaltyOptOut": True}},
        cashier,
        "customerCreate",
    )
    assert created["errors"] == []
    assert created["customer"]["loyaltyOptOut"] is True
    customer = SimpleNamespace(id=uuid.UUID(created["customer"]["id"]))
    await factory.loyalty_card(customer.id, "CARD-OPT", percent="10")
    await factory.earn_points(customer.id, 300)
    group = await factory.group("Neighbours", discount_percent="4")
    await factory.add_to_group(group.id, customer.id)
    await factory.discount_code("SPRING6", "6")
    await factory.assign_discount(customer.id, "SPRING6", None)

    sale = await open_sale(gql, cashier, customer)
    # The code (6%) beats the group (4%); the card's 10% is not on offer.
    assert applied(sale) == [("CODE", "1.20")]
    assert sorted(o["source"] for o in sale["discountOffers"]) == ["CODE", "GROUP"]
    refused = await complete(gql, cashier, sale["id"], redeem=50)
    assert [e["code"] for e in refused["errors"]] == ["LOYALTY_DISABLED"]
    done = await complete(gql, cashier, sale["id"])
    assert (done["errors"], done["sale"]["pointsEarned"]) == ([], 0)
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert (found["loyaltyOptOut"], found["loyaltyPoints"]) == (True, 300)
    assert found["loyaltyCard"]["cardNumber"] == "CARD-OPT"

    # Opting back in is an audited change, and the card works at once.
    back = await call(
        gql,
        CUSTOMER_UPDATE,
        {
            "id": str(customer.id),
            "input": {"expectedVersion": created["customer"]["version"], "loyaltyOptOut": False},
        },
        cashier,
        "customerUpdate",
    )
    assert back["errors"] == []
    assert back["customer"]["loyaltyOptOut"] is False
    [[created_after]] = await raw_sql(
        "SELECT after FROM audit_entries WHERE entity_type = 'customer' AND action = 'create' "
        "AND entity_id = :id",
        id=str(customer.id),
    )
    assert _json(created_after)["loyaltyOptOut"] is True
    [[before, after]] = await raw_sql(
        "SELECT before, after FROM audit_entries WHERE entity_type = 'customer' "
        "AND action = 'update' AND entity_id = :id",
        id=str(customer.id),
    )
    assert (_json(before)["loyaltyOptOut"], _json(after)["loyaltyOptOut"]) == (True, False)
    again = await open_sale(gql, cashier, customer)
    assert applied(again) == [("LOYALTY_CARD", "2.00")]
    earned = await complete(gql, cashier, again["id"])
    assert earned["sale"]["pointsEarned"] == 18


async def test_assigning_an_opted_out_customer_prices_without_their_card(
    gql, cashier, products, factory
) -> None:
    customer = await member(factory, loyalty_opt_out=True)
    walk_in = await call(
        gql, CREATE, {"input": {"lines": [{"sku": "TEA-1", "quantity": 2}]}}, cashier, "saleCreate"
    )
    assigned = await call(
        gql, ASSIGN, {"s": walk_in["sale"]["id"], "c": str(customer.id)}, cashier,
        "saleAssignCustomer",
    )  # fmt: skip
    assert assigned["errors"] == []
    assert applied(assigned["sale"]) == [("GROUP", "0.80")]


async def test_staff_still_adjust_balances_and_voids_undo_what_was_earned(
    gql, cashier, manager, products, factory
) -> None:
    """LOYALTY_ADJUST stays open while loyalty is off: staff must be able to correct a
    balance. A sale made while it was on is undone as it was made."""
    customer = await member(factory, points=0)
    sale = await open_sale(gql, cashier, customer)
    earned = await complete(gql, cashier, sale["id"])
    assert earned["sale"]["pointsEarned"] == 18
    await switch(gql, manager, False)
    adjuster = await factory.token(P.LOYALTY_ADJUST, P.CUSTOMER_VIEW)
    adjusted = await call(
        gql, ADJUST, {"c": str(customer.id), "input": {"points": 20, "reason": "goodwill"}},
        adjuster, "loyaltyPointsAdjust",
    )  # fmt: skip
    assert adjusted == {"customer": {"loyaltyPoints": 38}, "errors": []}
    voided = await call(gql, VOID, {"s": sale["id"]}, cashier, "saleVoid")
    assert voided["errors"] == []
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 20


async def test_points_outside_a_sale_are_refused_while_off(manager, gql, factory) -> None:
    customer = await member(factory, points=100)
    await switch(gql, manager, False)
    result = await factory.loyalty().redeem_points(customer.id, 10, "a mug")
    assert [(e.code, e.field) for e in result.errors] == [
        (ErrorCode.LOYALTY_DISABLED, ("input", "points"))
    ]
    await switch(gql, manager, True)
    assert (await factory.loyalty().redeem_points(customer.id, 10, "a mug")).value == 90


async def test_the_switch_is_audited_and_needs_settings_manage(
    gql, cashier, manager, raw_sql
) -> None:
    refused = await gql(SETTINGS, {"input": {"loyaltyEnabled": False}}, token=cashier)
    payload = refused["data"]["businessSettingsUpdate"]
    assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    assert (await gql(READ_SETTINGS, token=cashier))["data"]["businessSettings"] == {
        "loyaltyEnabled": True
    }
    await switch(gql, manager, False)
    rows = await raw_sql(
        "SELECT before, after FROM audit_entries WHERE entity_type = 'business_settings'"
    )
    assert [(_json(b)["loyaltyEnabled"], _json(a)["loyaltyEnabled"]) for b, a in rows] == [
        (True, False)
    ]
    # Every till sees the change with the next request (the settings' stamp is bumped).
    assert (await gql(READ_SETTINGS, token=cashier))["data"]["businessSettings"] == {
        "loyaltyEnabled": False
    }


def _json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)  # type: ignore[no-any-return]
