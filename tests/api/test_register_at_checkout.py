"""Register at checkout (seed 003): "If you add the customer during checkout, the order …
will automatically be associated with the current sale activity once registered."

customerCreate(input: {…, saleId}) creates the customer and puts them on that open sale,
re-priced, in one transaction: all or nothing, and a retry with the key changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission as P

REGISTER = """mutation($input: CustomerCreateInput!) { customerCreate(input: $input) {
  customer { id name }
  sale { id version customerId total discountTotal appliedDiscounts { source code } }
  errors { field code message } } }"""
OPEN = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id version total } errors { code } } }"""
COMPLETE = """mutation($s: ID!) { saleComplete(saleId: $s, input: {payment: CASH}) {
  sale { status customerId pointsEarned } errors { code } } }"""
SALE = """query($id: ID!) { sale(id: $id) { version customerId total } }"""
HISTORY = """query($id: ID!) { customer(id: $id) { loyaltyPoints salesHistory { visits } } }"""
TILL = (P.SALE_CREATE, P.CUSTOMER_ADD, P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)


@pytest.fixture
async def cashier(factory: Any) -> str:
    await factory.product("MUG-1", "4.50", name="Mug")
    return await factory.token(*TILL)  # type: ignore[no-any-return]


async def open_sale(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(OPEN, {"input": {"lines": [{"sku": "MUG-1"}], **fields}}, token=token)
    assert body["data"]["saleCreate"]["errors"] == [], body
    return body["data"]["saleCreate"]["sale"]  # type: ignore[no-any-return]


async def register(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": {"phone": "+12125550100", **fields}}, token=token)
    assert "errors" not in body, body
    return body["data"]["customerCreate"]  # type: ignore[no-any-return]


async def customers_with_phone(raw_sql: Any) -> int:
    rows = await raw_sql("SELECT count(*) FROM customers WHERE phone = '+12125550100'")
    return int(rows[0][0])


async def test_the_new_customer_is_on_the_sale_and_it_completes_for_them(gql, cashier) -> None:
    sale = await open_sale(gql, cashier)
    made = await register(gql, cashier, name="Ada Lovelace", saleId=sale["id"])
    assert made["errors"] == []
    customer_id = made["customer"]["id"]
    assert made["sale"]["id"] == sale["id"]
    assert made["sale"]["customerId"] == customer_id
    assert made["sale"]["version"] > sale["version"]
    read = (await gql(SALE, {"id": sale["id"]}, token=cashier))["data"]["sale"]
    assert read["customerId"] == customer_id
    done = (await gql(COMPLETE, {"s": sale["id"]}, token=cashier))["data"]["saleComplete"]
    assert done["errors"] == []
    assert done["sale"]["customerId"] == customer_id
    history = (await gql(HISTORY, {"id": customer_id}, token=cashier))["data"]["customer"]
    assert history["salesHistory"]["visits"] == 1


async def test_the_sale_is_re_priced_for_the_new_customer(gql, cashier, factory) -> None:
    # The sale was rung up for someone with half off; the new customer has no discount.
    vip = await factory.customer()
    await factory.discount_code("HALF", "50")
    await factory.assign_discount(vip.id, "HALF", None)
    sale = await open_sale(gql, cashier, customerId=str(vip.id))
    assert sale["total"] == "2.25"
    made = await register(gql, cashier, name="Ada Lovelace", saleId=sale["id"])
    assert made["errors"] == []
    assert made["sale"]["total"] == "4.50"
    assert made["sale"]["discountTotal"] == "0.00"
    assert made["sale"]["appliedDiscounts"] == []


async def test_without_a_sale_id_no_sale_is_touched(gql, cashier) -> None:
    made = await register(gql, cashier, name="Ada Lovelace")
    assert made["errors"] == []
    assert made["sale"] is None


@pytest.mark.parametrize("sale_id", ["unknown", "malformed"])
async def test_an_unknown_sale_creates_no_customer(gql, cashier, raw_sql, sale_id) -> None:
    given = "00000000-0000-4000-8000-000000000000" if sale_id == "unknown" else "not-an-id"
    made = await register(gql, cashier, name="Ada Lovelace", saleId=given)
    assert [(e["code"], e["field"]) for e in made["errors"]] == [("NOT_FOUND", ["input", "saleId"])]
    assert made["customer"] is None
    assert await customers_with_phone(raw_sql) == 0


async def test_a_completed_sale_takes_no_one_and_no_customer_is_left(gql, cashier, raw_sql):
    sale = await open_sale(gql, cashier)
    await gql(COMPLETE, {"s": sale["id"]}, token=cashier)
    made = await register(gql, cashier, name="Ada Lovelace", saleId=sale["id"])
    assert [(e["code"], e["field"]) for e in made["errors"]] == [
        ("SALE_NOT_OPEN", ["input", "saleId"])
    ]
    assert await customers_with_phone(raw_sql) == 0
    assert (await gql(SALE, {"id": sale["id"]}, token=cashier))["data"]["sale"][
        "customerId"
    ] is None


async def test_bad_customer_input_leaves_the_sale_as_it_was(gql, cashier) -> None:
    sale = await open_sale(gql, cashier)
    made = await register(gql, cashier, name="Ada", email="not-an-email", saleId=sale["id"])
    assert [e["code"] for e in made["errors"]] == ["EMAIL_INVALID"]
    read = (await gql(SALE, {"id": sale["id"]}, token=cashier))["data"]["sale"]
    assert read == {"version": sale["version"], "customerId": None, "total": sale["total"]}


async def test_registering_onto_a_sale_needs_sale_create_too(gql, factory, raw_sql) -> None:
    await factory.product("MUG-1", "4.50", name="Mug")
    seller = await factory.token(*TILL)
    sale = await open_sale(gql, seller)
    clerk = await factory.token(P.CUSTOMER_ADD, P.CUSTOMER_VIEW)
    made = await register(gql, clerk, name="Ada Lovelace", saleId=sale["id"])
    assert [e["code"] for e in made["errors"]] == ["FORBIDDEN"]
    assert "SALE_CREATE" in made["errors"][0]["message"]
    assert await customers_with_phone(raw_sql) == 0
    # Without a sale, CUSTOMER_ADD is enough.
    assert (await register(gql, clerk, name="Ada Lovelace"))["errors"] == []


async def test_another_stores_sale_is_refused_and_nothing_saved(gql, factory, raw_sql) -> None:
    await factory.product("MUG-1", "4.50", name="Mug")
    dt = await factory.store("DT")
    hb = await factory.store("HB")
    sale = await open_sale(gql, await factory.till(dt.id, *TILL))
    made = await register(
        gql, await factory.till(hb.id, *TILL), name="Ada Lovelace", saleId=sale["id"]
    )
    assert [(e["code"], e["field"]) for e in made["errors"]] == [("FORBIDDEN", ["input", "saleId"])]
    assert await customers_with_phone(raw_sql) == 0


async def test_a_retry_with_the_key_returns_the_same_customer_and_sale(
    gql, cashier, raw_sql
) -> None:
    sale = await open_sale(gql, cashier)
    fields = {"name": "Ada Lovelace", "saleId": sale["id"], "idempotencyKey": "reg-1"}
    first = await register(gql, cashier, **fields)
    again = await register(gql, cashier, **fields)
    assert again["errors"] == []
    assert again["customer"] == first["customer"]
    # The same sale, not claimed a second time.
    assert again["sale"] == first["sale"]
    assert await customers_with_phone(raw_sql) == 1
    other = await open_sale(gql, cashier)
    reused = await register(gql, cashier, **{**fields, "saleId": other["id"]})
    assert [e["code"] for e in reused["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]
    read = (await gql(SALE, {"id": other["id"]}, token=cashier))["data"]["sale"]
    assert read["customerId"] is None
