"""Sales at the till (seeds 000, 002, 003): open, edit, price, complete, void, return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.services.customer_merge import CustomerMergeService
from app.services.products import ProductChange
from tests.conftest import BACKEND

SALE_FIELDS = """id status version customerId subtotal discountTotal total payment paid
  pointsRedeemed pointsAmount pointsEarned returnedValue refunded storeId tillId cashier
  lines { id sku name quantity unitPrice amount discount total returnedQuantity }
  appliedDiscounts { source code percent amount applied }
  discountOffers { source code percent amount applied }"""
CREATE = f"""mutation($input: SaleCreateInput!) {{ saleCreate(input: $input) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code message }} }} }}"""
ADD = f"""mutation($s: ID!, $lines: [SaleLineInput!]!) {{ saleAddLines(saleId: $s, lines: $lines) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code }} }} }}"""
UPDATE_LINE = f"""mutation($s: ID!, $l: ID!, $input: SaleLineUpdateInput!) {{
  saleUpdateLine(saleId: $s, lineId: $l, input: $input) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code }} }} }}"""
REMOVE_LINE = f"""mutation($s: ID!, $l: ID!) {{ saleRemoveLine(saleId: $s, lineId: $l) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code }} }} }}"""
ASSIGN = f"""mutation($s: ID!, $c: ID!, $r: Boolean) {{
  saleAssignCustomer(saleId: $s, customerId: $c, reactivate: $r) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code message }} }} }}"""
UNASSIGN = f"""mutation($s: ID!) {{ saleRemoveCustomer(saleId: $s) {{
  sale {{ {SALE_FIELDS} }} errors {{ field code }} }} }}"""
COMPLETE = f"""mutation($s: ID!, $input: SaleCompleteInput!) {{
  saleComplete(saleId: $s, input: $input) {{ sale {{ {SALE_FIELDS} }}
  errors {{ field code message }} }} }}"""
VOID = f"""mutation($s: ID!, $reason: String) {{ saleVoid(saleId: $s, reason: $reason) {{
  sale {{ {SALE_FIELDS} voidReason voidedAt }} errors {{ field code message }} }} }}"""
RETURN = """mutation($s: ID!, $input: SaleReturnInput!) { saleReturn(saleId: $s, input: $input) {
  saleReturn { id value refund refundPayment pointsRestored pointsReversed pointsUnrecovered
    reason lines { saleLineId quantity value } }
  sale { status returnedValue refunded lines { id returnedQuantity } }
  errors { field code message } } }"""
CUSTOMER = """query($id: ID!) { customer(id: $id) { status loyaltyPoints
  salesHistory { visits totalSpent averageBasket firstPurchaseAt lastPurchaseAt creditOwed
    topProducts { sku name quantity }
    sales(first: 20) { totalCount edges { node { id status total lines { sku quantity } } } } }
  } }"""
PRODUCT_STOCK = """query($id: ID!, $store: ID) { product(id: $id) { stock(storeId: $store) } }"""


@pytest.fixture
async def cashier_login(factory: Any) -> tuple[str, str]:
    # A supervisor at the till: voids, and prices below the list (as migration 0008 grants).
    return await factory.staff(  # type: ignore[no-any-return]
        P.SALE_CREATE,
        P.SALE_VOID,
        P.SALE_PRICE_OVERRIDE,
        P.CUSTOMER_VIEW,
        P.CUSTOMER_VIEW_PII,
        P.AUDIT_VIEW,
    )


@pytest.fixture
def cashier(cashier_login: tuple[str, str]) -> str:
    return cashier_login[1]


@pytest.fixture
async def products(factory: Any) -> dict[str, Any]:
    return {
        "tea": await factory.product("TEA-1", "9.99", name="Green tea"),
        "mug": await factory.product("MUG-1", "4.50", name="Mug"),
    }


async def call(gql: Any, query: str, variables: dict[str, Any], token: str, name: str) -> Any:
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    return body["data"][name]


async def open_sale(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    payload = await call(gql, CREATE, {"input": fields}, token, "saleCreate")
    assert payload["errors"] == [], payload
    return payload["sale"]  # type: ignore[no-any-return]


async def complete(gql: Any, token: str, sale_id: str, **fields: Any) -> dict[str, Any]:
    variables = {"s": sale_id, "input": {"payment": "CASH", **fields}}
    return await call(gql, COMPLETE, variables, token, "saleComplete")  # type: ignore[no-any-return]


async def test_a_walk_in_sale_is_priced_line_by_line(gql, cashier, products) -> None:
    sale = await open_sale(
        gql, cashier, lines=[{"sku": "tea-1", "quantity": 3}, {"sku": "MUG-1", "quantity": 2}]
    )
    assert sale["status"] == "OPEN"
    assert sale["customerId"] is None
    assert [(line["sku"], line["amount"]) for line in sale["lines"]] == [
        ("TEA-1", "29.97"),
        ("MUG-1", "9.00"),
    ]
    assert (sale["subtotal"], sale["discountTotal"], sale["total"]) == ("38.97", "0.00", "38.97")
    assert sale["appliedDiscounts"] == []


async def test_lines_are_added_changed_and_removed_while_open(gql, cashier, products) -> None:
    sale = await open_sale(gql, cashier, lines=[{"sku": "TEA-1"}])
    added = await call(
        gql,
        ADD,
        {"s": sale["id"], "lines": [{"sku": "MUG-1", "quantity": 2}]},
        cashier,
        "saleAddLines",
    )
    assert added["sale"]["total"] == "18.99"
    mug = added["sale"]["lines"][1]
    changed = await call(
        gql,
        UPDATE_LINE,
        {"s": sale["id"], "l": mug["id"], "input": {"quantity": 3, "unitPrice": "4.00"}},
        cashier,
        "saleUpdateLine",
    )
    assert changed["sale"]["lines"][1]["amount"] == "12.00"
    assert changed["sale"]["total"] == "21.99"
    back = await call(
        gql,
        UPDATE_LINE,
        {"s": sale["id"], "l": mug["id"], "input": {"unitPrice": None}},
        cashier,
        "saleUpdateLine",
    )
    assert back["sale"]["lines"][1]["unitPrice"] == "4.50"
    removed = await call(
        gql, REMOVE_LINE, {"s": sale["id"], "l": mug["id"]}, cashier, "saleRemoveLine"
    )
    assert [line["sku"] for line in removed["sale"]["lines"]] == ["TEA-1"]
    assert removed["sale"]["total"] == "9.99"


async def test_bad_lines_are_refused_all_at_once_and_nothing_is_saved(
    gql, cashier, products, factory
) -> None:
    payload = await call(
        gql,
        CREATE,
        {
            "input": {
                "lines": [
                    {"sku": "NOPE"},
                    {"sku": "TEA-1", "quantity": 0},
                    {"sku": "MUG-1", "unitPrice": "1.234"},
                ]
            }
        },
        cashier,
        "saleCreate",
    )
    assert payload["sale"] is None
    assert {(tuple(e["field"]), e["code"]) for e in payload["errors"]} == {
        (("input", "lines", "0", "sku"), "NOT_FOUND"),
        (("input", "lines", "1", "quantity"), "INVALID"),
        (("input", "lines", "2", "unitPrice"), "INVALID"),
    }
    listed = await gql("{ sales { totalCount } }", token=cashier)
    assert listed["data"]["sales"]["totalCount"] == 0


async def test_the_best_single_discount_applies_and_the_others_are_shown(
    gql, cashier, products, factory
) -> None:
    customer = await factory.customer()
    await factory.discount_code("VIP10", "10")
    await factory.assign_discount(customer.id, "VIP10", None)
    await factory.loyalty_card(customer.id, "CARD-0001", percent="12.5")
    group = await factory.group("Staff", discount_percent="5")
    await factory.add_to_group(group.id, customer.id)
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-1", "quantity": 3}]
    )
    assert sale["appliedDiscounts"] == [
        {
            "source": "LOYALTY_CARD",
            "code": "CARD-0001",
            "percent": "12.50",
            "amount": "3.75",
            "applied": True,
        }
    ]
    assert [(o["source"], o["applied"]) for o in sale["discountOffers"]] == [
        ("CODE", False),
        ("LOYALTY_CARD", True),
        ("GROUP", False),
    ]
    # 29.97 * 12.5% = 3.74625: one rule, half up, to the cent.
    assert (sale["subtotal"], sale["discountTotal"], sale["total"]) == ("29.97", "3.75", "26.22")


async def test_removing_or_changing_the_customer_reprices_at_once(gql, cashier, products, factory):
    vip = await factory.customer()
    await factory.discount_code("HALF", "50")
    await factory.assign_discount(vip.id, "HALF", None)
    other = await factory.customer()
    sale = await open_sale(gql, cashier, customerId=str(vip.id), lines=[{"sku": "MUG-1"}])
    assert sale["total"] == "2.25"
    changed = await call(
        gql, ASSIGN, {"s": sale["id"], "c": str(other.id)}, cashier, "saleAssignCustomer"
    )
    assert changed["sale"]["customerId"] == str(other.id)
    assert changed["sale"]["total"] == "4.50"
    back = await call(
        gql, ASSIGN, {"s": sale["id"], "c": str(vip.id)}, cashier, "saleAssignCustomer"
    )
    assert back["sale"]["total"] == "2.25"
    walk_in = await call(gql, UNASSIGN, {"s": sale["id"]}, cashier, "saleRemoveCustomer")
    assert walk_in["sale"]["customerId"] is None
    assert walk_in["sale"]["total"] == "4.50"
    assert walk_in["sale"]["appliedDiscounts"] == []


async def test_an_expired_code_never_applies(gql, cashier, products, factory) -> None:
    customer = await factory.customer()
    await factory.discount_code("SOON", "20")
    await factory.assign_discount(customer.id, "SOON", datetime.now(UTC) + timedelta(hours=1))
    sale = await open_sale(gql, cashier, customerId=str(customer.id), lines=[{"sku": "MUG-1"}])
    assert sale["total"] == "3.60"
    await factory.expire_discount_now(customer.id)
    done = await complete(gql, cashier, sale["id"])
    # Priced again at the time of sale: the code had expired, and the job had not run.
    assert done["errors"] == []
    assert done["sale"]["total"] == "4.50"
    assert done["sale"]["appliedDiscounts"] == []


async def test_an_inactive_customer_needs_reactivation(
    gql, cashier, cashier_login, products, factory
) -> None:
    customer = await factory.customer()
    await factory.set_status(customer.id, "INACTIVE")
    sale = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    refused = await call(
        gql, ASSIGN, {"s": sale["id"], "c": str(customer.id)}, cashier, "saleAssignCustomer"
    )
    assert [e["code"] for e in refused["errors"]] == ["CUSTOMER_INACTIVE"]
    assert refused["sale"] is None
    still = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert still["status"] == "INACTIVE"
    assigned = await call(
        gql,
        ASSIGN,
        {"s": sale["id"], "c": str(customer.id), "r": True},
        cashier,
        "saleAssignCustomer",
    )
    assert assigned["errors"] == []
    assert assigned["sale"]["customerId"] == str(customer.id)
    trail = await gql(
        """query($id: ID!) { customer(id: $id) { status
        auditTrail { edges { node { action actor before after } } } } }""",
        {"id": str(customer.id)},
        token=cashier,
    )
    found = trail["data"]["customer"]
    assert found["status"] == "ACTIVE"
    entry = found["auditTrail"]["edges"][0]["node"]
    assert entry["action"] == "set_status"
    assert entry["after"]["status"] == "ACTIVE"
    assert entry["after"]["saleId"] == sale["id"]
    # The cashier reactivated them, and the trail says so (seed 000).
    assert entry["actor"] == cashier_login[0]


async def test_completing_earns_points_moves_stock_and_fills_the_history(
    gql, cashier, factory
) -> None:
    head_office = await factory.head_office()
    tea = await factory.product("TEA-9", "9.99", stock={head_office.id: 10})
    customer = await factory.customer()
    await factory.loyalty_card(customer.id, "CARD-0002", percent="0")
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-9", "quantity": 3}]
    )
    done = await complete(gql, cashier, sale["id"], payment="CARD")
    assert done["errors"] == []
    completed = done["sale"]
    assert completed["status"] == "COMPLETED"
    assert (completed["payment"], completed["paid"], completed["pointsEarned"]) == (
        "CARD",
        "29.97",
        29,
    )
    stock = await call(gql, PRODUCT_STOCK, {"id": str(tea.id)}, cashier, "product")
    assert stock["stock"] == 7
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 29
    history = found["salesHistory"]
    assert (history["visits"], history["totalSpent"], history["averageBasket"]) == (
        1,
        "29.97",
        "29.97",
    )
    assert history["topProducts"] == [{"sku": "TEA-9", "name": tea.name, "quantity": 3}]
    assert history["sales"]["totalCount"] == 1


async def test_a_completed_sale_cannot_change(gql, cashier, products) -> None:
    sale = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    assert (await complete(gql, cashier, sale["id"]))["errors"] == []
    again = await complete(gql, cashier, sale["id"])
    assert [e["code"] for e in again["errors"]] == ["SALE_NOT_OPEN"]
    added = await call(
        gql, ADD, {"s": sale["id"], "lines": [{"sku": "MUG-1"}]}, cashier, "saleAddLines"
    )
    assert [e["code"] for e in added["errors"]] == ["SALE_NOT_OPEN"]


async def test_an_empty_sale_cannot_be_completed(gql, cashier) -> None:
    sale = await open_sale(gql, cashier)
    done = await complete(gql, cashier, sale["id"])
    assert [e["code"] for e in done["errors"]] == ["SALE_EMPTY"]


async def points_customer(factory: Any, points: int) -> Any:
    customer = await factory.customer()
    await factory.loyalty_card(customer.id, percent="0")
    if points:
        await factory.earn_points(customer.id, points)
    return customer


async def test_points_pay_part_of_the_sale_and_the_rest_earns(gql, cashier, products, factory):
    customer = await points_customer(factory, 500)
    sale = await open_sale(gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-1"}])
    done = await complete(gql, cashier, sale["id"], redeemPoints=250)
    assert done["errors"] == []
    paid = done["sale"]
    # 250 points at 0.01 pay 2.50 of 9.99; the 7.49 paid earns 7 points (1 per unit).
    assert (paid["pointsRedeemed"], paid["pointsAmount"], paid["paid"]) == (250, "2.50", "7.49")
    assert paid["pointsEarned"] == 7
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 500 - 250 + 7


async def test_redeeming_more_than_held_or_worth_more_than_the_total_is_refused(
    gql, cashier, products, factory
) -> None:
    customer = await points_customer(factory, 2000)
    sale = await open_sale(gql, cashier, customerId=str(customer.id), lines=[{"sku": "MUG-1"}])
    poor = await points_customer(factory, 100)
    small = await open_sale(gql, cashier, customerId=str(poor.id), lines=[{"sku": "MUG-1"}])
    too_many = await complete(gql, cashier, small["id"], redeemPoints=101)
    assert [(e["field"], e["code"]) for e in too_many["errors"]] == [
        (["input", "redeemPoints"], "INSUFFICIENT_POINTS")
    ]
    too_much = await complete(gql, cashier, sale["id"], redeemPoints=451)
    assert [e["code"] for e in too_much["errors"]] == ["POINTS_EXCEED_TOTAL"]
    walk_in = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    refused = await complete(gql, cashier, walk_in["id"], redeemPoints=1)
    assert [e["code"] for e in refused["errors"]] == ["INVALID"]
    # Nothing was spent and both sales are still open.
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 2000
    exact = await complete(gql, cashier, sale["id"], redeemPoints=450)
    assert exact["errors"] == []
    assert (exact["sale"]["paid"], exact["sale"]["pointsEarned"]) == ("0.00", 0)


async def test_credit_only_for_customers_allowed_it_and_within_their_limit(
    gql, cashier, products, factory
) -> None:
    plain = await factory.customer()
    sale = await open_sale(gql, cashier, customerId=str(plain.id), lines=[{"sku": "TEA-1"}])
    refused = await complete(gql, cashier, sale["id"], payment="CREDIT")
    assert [e["code"] for e in refused["errors"]] == ["CREDIT_NOT_ALLOWED"]
    walk_in = await open_sale(gql, cashier, lines=[{"sku": "TEA-1"}])
    refused = await complete(gql, cashier, walk_in["id"], payment="CREDIT")
    assert [e["code"] for e in refused["errors"]] == ["CREDIT_NOT_ALLOWED"]

    trusted = await factory.customer(allow_credit_sale=True, credit_limit=Decimal("25.00"))
    first = await open_sale(
        gql, cashier, customerId=str(trusted.id), lines=[{"sku": "TEA-1", "quantity": 2}]
    )
    assert (await complete(gql, cashier, first["id"], payment="CREDIT"))["errors"] == []
    second = await open_sale(gql, cashier, customerId=str(trusted.id), lines=[{"sku": "TEA-1"}])
    over = await complete(gql, cashier, second["id"], payment="CREDIT")
    assert [e["code"] for e in over["errors"]] == ["CREDIT_LIMIT_EXCEEDED"]
    found = await call(gql, CUSTOMER, {"id": str(trusted.id)}, cashier, "customer")
    assert found["salesHistory"]["creditOwed"] == "19.98"
    # Paying the rest in cash is fine; voiding the credit sale frees the account.
    assert (await complete(gql, cashier, second["id"], payment="CASH"))["errors"] == []
    await call(gql, VOID, {"s": first["id"]}, cashier, "saleVoid")
    found = await call(gql, CUSTOMER, {"id": str(trusted.id)}, cashier, "customer")
    assert found["salesHistory"]["creditOwed"] == "0.00"


async def test_voiding_a_completed_sale_restores_points_stock_and_history(
    gql, cashier, factory
) -> None:
    store = await factory.head_office()
    tea = await factory.product("TEA-7", "20.00", stock={store.id: 5})
    customer = await points_customer(factory, 100)
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-7", "quantity": 2}]
    )
    done = await complete(gql, cashier, sale["id"], redeemPoints=100)
    assert done["sale"]["pointsEarned"] == 39
    voided = await call(
        gql, VOID, {"s": sale["id"], "reason": "wrong customer"}, cashier, "saleVoid"
    )
    assert voided["errors"] == []
    assert (voided["sale"]["status"], voided["sale"]["voidReason"]) == ("VOIDED", "wrong customer")
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 100
    history = found["salesHistory"]
    assert (history["visits"], history["totalSpent"], history["lastPurchaseAt"]) == (
        0,
        "0.00",
        None,
    )
    assert (await call(gql, PRODUCT_STOCK, {"id": str(tea.id)}, cashier, "product"))["stock"] == 5
    ledger = await gql(
        """query($id: ID!) { customer(id: $id) {
          pointsLedger { edges { node { kind points } } } } }""",
        {"id": str(customer.id)},
        token=cashier,
    )
    kinds = [e["node"] for e in ledger["data"]["customer"]["pointsLedger"]["edges"]]
    assert kinds[:2] == [{"kind": "REVERSE", "points": -39}, {"kind": "RESTORE", "points": 100}]
    again = await call(gql, VOID, {"s": sale["id"]}, cashier, "saleVoid")
    assert [e["code"] for e in again["errors"]] == ["SALE_NOT_OPEN"]


async def test_voiding_needs_sale_void(gql, factory, products) -> None:
    _, seller = await factory.staff(P.SALE_CREATE)
    sale = await open_sale(gql, seller, lines=[{"sku": "MUG-1"}])
    refused = await call(gql, VOID, {"s": sale["id"]}, seller, "saleVoid")
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]


async def test_an_open_sale_can_be_voided_and_then_nothing_changes_it(gql, cashier, products):
    sale = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    voided = await call(gql, VOID, {"s": sale["id"]}, cashier, "saleVoid")
    assert voided["sale"]["status"] == "VOIDED"
    done = await complete(gql, cashier, sale["id"])
    assert [e["code"] for e in done["errors"]] == ["SALE_NOT_OPEN"]


async def test_returns_refund_their_share_and_the_whole_sale_comes_back_exactly(
    gql, cashier, factory
) -> None:
    store = await factory.head_office()
    await factory.product("SOAP", "3.33", stock={store.id: 10})
    customer = await points_customer(factory, 100)
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "SOAP", "quantity": 3}]
    )
    done = await complete(gql, cashier, sale["id"], payment="CARD", redeemPoints=99)
    # 9.99 total, 0.99 in points, 9.00 by card, earning 9 points.
    assert (done["sale"]["paid"], done["sale"]["pointsEarned"]) == ("9.00", 9)
    line_id = done["sale"]["lines"][0]["id"]

    one = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id}], "reason": "dented"}},
        cashier,
        "saleReturn",
    )
    assert one["errors"] == []
    first = one["saleReturn"]
    assert (first["value"], first["refund"], first["refundPayment"]) == ("3.33", "3.00", "CARD")
    assert (first["pointsRestored"], first["pointsReversed"]) == (33, 3)
    assert first["lines"] == [{"saleLineId": line_id, "quantity": 1, "value": "3.33"}]
    assert one["sale"]["lines"][0]["returnedQuantity"] == 1

    rest = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id, "quantity": 2}]}},
        cashier,
        "saleReturn",
    )
    second = rest["saleReturn"]
    # Everything back: exactly what was paid, spent and earned.
    assert Decimal(first["refund"]) + Decimal(second["refund"]) == Decimal("9.00")
    assert first["pointsRestored"] + second["pointsRestored"] == 99
    assert first["pointsReversed"] + second["pointsReversed"] == 9
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 100
    assert found["salesHistory"]["totalSpent"] == "0.00"
    assert found["salesHistory"]["visits"] == 1

    more = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id}]}},
        cashier,
        "saleReturn",
    )
    assert [(e["field"], e["code"]) for e in more["errors"]] == [
        (["input", "lines", "0", "quantity"], "RETURN_EXCEEDS_SOLD")
    ]
    void = await call(gql, VOID, {"s": sale["id"]}, cashier, "saleVoid")
    assert [e["code"] for e in void["errors"]] == ["SALE_HAS_RETURNS"]


async def test_a_return_puts_stock_back_and_an_exchange_refers_to_the_sale(
    gql, cashier, factory
) -> None:
    store = await factory.head_office()
    shoe = await factory.product("SHOE-41", "50.00", stock={store.id: 3})
    await factory.product("SHOE-42", "50.00", stock={store.id: 3})
    sale = await open_sale(gql, cashier, lines=[{"sku": "SHOE-41"}])
    done = await complete(gql, cashier, sale["id"])
    assert (await call(gql, PRODUCT_STOCK, {"id": str(shoe.id)}, cashier, "product"))["stock"] == 2
    line_id = done["sale"]["lines"][0]["id"]
    back = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id}], "reason": "size"}},
        cashier,
        "saleReturn",
    )
    assert back["saleReturn"]["refund"] == "50.00"
    assert (await call(gql, PRODUCT_STOCK, {"id": str(shoe.id)}, cashier, "product"))["stock"] == 3
    exchange = await open_sale(
        gql, cashier, lines=[{"sku": "SHOE-42"}], exchangeForSaleId=sale["id"]
    )
    assert exchange["status"] == "OPEN"
    listed = await gql(
        """query($id: ID!) { sale(id: $id) { exchangeForSaleId } }""",
        {"id": exchange["id"]},
        token=cashier,
    )
    assert listed["data"]["sale"]["exchangeForSaleId"] == sale["id"]
    original = await gql(
        """query($id: ID!) { sale(id: $id) { exchanges { id } returns { value } } }""",
        {"id": sale["id"]},
        token=cashier,
    )
    assert original["data"]["sale"] == {
        "exchanges": [{"id": exchange["id"]}],
        "returns": [{"value": "50.00"}],
    }
    not_done = await open_sale(gql, cashier, lines=[{"sku": "SHOE-42"}])
    refused = await call(
        gql,
        CREATE,
        {"input": {"lines": [], "exchangeForSaleId": not_done["id"]}},
        cashier,
        "saleCreate",
    )
    assert [e["code"] for e in refused["errors"]] == ["SALE_NOT_COMPLETED"]


async def test_returns_need_a_completed_sale_and_real_lines(gql, cashier, products) -> None:
    sale = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    line_id = sale["lines"][0]["id"]
    early = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id}]}},
        cashier,
        "saleReturn",
    )
    assert [e["code"] for e in early["errors"]] == ["SALE_NOT_COMPLETED"]
    await complete(gql, cashier, sale["id"])
    wrong = await call(
        gql,
        RETURN,
        {
            "s": sale["id"],
            "input": {"lines": [{"lineId": sale["id"]}, {"lineId": line_id, "quantity": 0}]},
        },
        cashier,
        "saleReturn",
    )
    assert {(tuple(e["field"]), e["code"]) for e in wrong["errors"]} == {
        (("input", "lines", "0", "lineId"), "NOT_FOUND"),
        (("input", "lines", "1", "quantity"), "INVALID"),
    }
    credit = await call(
        gql,
        RETURN,
        {"s": sale["id"], "input": {"lines": [{"lineId": line_id}], "refundPayment": "CREDIT"}},
        cashier,
        "saleReturn",
    )
    assert [e["field"] for e in credit["errors"]] == [["input", "refundPayment"]]


async def test_retrying_create_and_complete_with_the_key_never_doubles(
    gql, cashier, products, factory
) -> None:
    customer = await points_customer(factory, 0)
    create = {"customerId": str(customer.id), "lines": [{"sku": "TEA-1"}], "idempotencyKey": "k-1"}
    first = await open_sale(gql, cashier, **create)
    again = await open_sale(gql, cashier, **create)
    assert again["id"] == first["id"]
    other = await call(
        gql, CREATE, {"input": {**create, "lines": [{"sku": "MUG-1"}]}}, cashier, "saleCreate"
    )
    assert [e["code"] for e in other["errors"]] == ["IDEMPOTENCY_KEY_REUSED"]

    paid = await complete(gql, cashier, first["id"], idempotencyKey="pay-1")
    replay = await complete(gql, cashier, first["id"], idempotencyKey="pay-1")
    assert replay["errors"] == []
    assert replay["sale"] == paid["sale"]
    found = await call(gql, CUSTOMER, {"id": str(customer.id)}, cashier, "customer")
    assert found["loyaltyPoints"] == 9
    assert found["salesHistory"]["visits"] == 1
    listed = await gql("{ sales { totalCount } }", token=cashier)
    assert listed["data"]["sales"]["totalCount"] == 1


async def test_a_merge_adds_up_both_customers_sales_history(
    gql, cashier, products, factory, runtime
) -> None:
    source = await factory.customer()
    target = await factory.customer()
    for customer, sku in ((source, "TEA-1"), (target, "MUG-1"), (source, "MUG-1")):
        sale = await open_sale(gql, cashier, customerId=str(customer.id), lines=[{"sku": sku}])
        assert (await complete(gql, cashier, sale["id"]))["errors"] == []
    before = await call(gql, CUSTOMER, {"id": str(source.id)}, cashier, "customer")
    merged = await CustomerMergeService(runtime.tx, None).merge(source.id, target.id)
    assert merged.ok, merged.errors
    found = await call(gql, CUSTOMER, {"id": str(target.id)}, cashier, "customer")
    history = found["salesHistory"]
    assert (history["visits"], history["totalSpent"]) == (3, "18.99")
    assert history["firstPurchaseAt"] == before["salesHistory"]["firstPurchaseAt"]
    assert history["sales"]["totalCount"] == 3
    assert history["topProducts"][0] == {"sku": "MUG-1", "name": "Mug", "quantity": 2}


async def test_a_product_no_longer_sold_cannot_be_rung_up(gql, cashier, products, factory) -> None:
    changed = await factory.products().update(products["mug"].id, ProductChange(active=False))
    assert changed.ok, changed.errors
    payload = await call(
        gql,
        CREATE,
        {"input": {"lines": [{"sku": "TEA-1"}, {"sku": "MUG-1"}]}},
        cashier,
        "saleCreate",
    )
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "lines", "1", "sku"], "PRODUCT_INACTIVE")
    ]


async def test_an_unknown_or_merged_customer_is_refused_by_name(
    gql, cashier, products, factory, runtime
) -> None:
    unknown = await call(
        gql,
        CREATE,
        {"input": {"customerId": "00000000-0000-4000-8000-000000000000", "lines": []}},
        cashier,
        "saleCreate",
    )
    assert [(e["field"], e["code"]) for e in unknown["errors"]] == [
        (["input", "customerId"], "NOT_FOUND")
    ]
    source, target = await factory.customer(), await factory.customer()
    assert (await CustomerMergeService(runtime.tx, None).merge(source.id, target.id)).ok
    sale = await open_sale(gql, cashier, lines=[{"sku": "MUG-1"}])
    merged = await call(
        gql, ASSIGN, {"s": sale["id"], "c": str(source.id)}, cashier, "saleAssignCustomer"
    )
    assert [(e["field"], e["code"]) for e in merged["errors"]] == [
        (["customerId"], "CUSTOMER_MERGED")
    ]


async def test_a_sale_too_big_for_the_books_is_refused_not_a_500(gql, cashier, factory) -> None:
    await factory.product("YACHT", "99999999.99")
    lines = [{"sku": "YACHT", "quantity": 9999}, {"sku": "YACHT", "quantity": 9999}]
    payload = await call(gql, CREATE, {"input": {"lines": lines}}, cashier, "saleCreate")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["input", "lines"], "INVALID")]
    sale = await open_sale(gql, cashier, lines=lines[:1])
    more = await call(gql, ADD, {"s": sale["id"], "lines": lines[:1]}, cashier, "saleAddLines")
    assert [(e["field"], e["code"]) for e in more["errors"]] == [(["lines"], "INVALID")]


async def test_a_chain_wide_user_sells_at_the_till_of_another_store(gql, factory) -> None:
    home, branch = await factory.store(), await factory.store()
    _, token = await factory.staff(P.SALE_CREATE, P.STORE_ALL, store_id=home.id)
    role = await factory.auth().create_role("till-only", [P.SALE_CREATE])
    assert role.value
    till = await factory.auth().create_till(branch.id, "Front", role.value.id)
    assert till.value
    await factory.product("PEN", "1.00")
    sale = await open_sale(gql, token, tillId=str(till.value.till.id), lines=[{"sku": "PEN"}])
    assert (sale["storeId"], sale["tillId"]) == (str(branch.id), str(till.value.till.id))
    at_home = await open_sale(gql, token, lines=[{"sku": "PEN"}])
    assert (at_home["storeId"], at_home["tillId"]) == (str(home.id), None)
    wrong = await call(
        gql,
        CREATE,
        {"input": {"storeId": str(home.id), "tillId": str(till.value.till.id), "lines": []}},
        token,
        "saleCreate",
    )
    assert [(e["field"], e["code"]) for e in wrong["errors"]] == [(["input", "storeId"], "INVALID")]


async def test_idempotency_keys_are_checked_and_prices_compare_by_value(
    gql, cashier, products
) -> None:
    long = await call(
        gql, CREATE, {"input": {"lines": [], "idempotencyKey": "k" * 129}}, cashier, "saleCreate"
    )
    assert [(e["field"], e["code"]) for e in long["errors"]] == [
        (["input", "idempotencyKey"], "INVALID")
    ]
    first = await open_sale(
        gql, cashier, lines=[{"sku": "MUG-1", "unitPrice": "4.0"}], idempotencyKey="same"
    )
    # A till that formats the price differently on its retry asks the same question.
    again = await open_sale(
        gql, cashier, lines=[{"sku": "MUG-1", "unitPrice": "4.00"}], idempotencyKey="same"
    )
    assert again["id"] == first["id"]


async def test_sales_dates_without_offset_or_past_the_calendar_are_refused(gql, cashier) -> None:
    listing = """query($from: DateTime) { sales(filter: {createdFrom: $from}) { totalCount } }"""
    for moment in ("9999-12-31T23:00:00-05:00", "2026-01-01T10:00:00"):
        body = await gql(listing, {"from": moment}, token=cashier)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "INVALID", body


async def test_a_customer_pays_off_their_account_never_more_than_owed(
    gql, cashier, products, factory
) -> None:
    pay = """mutation($c: ID!, $input: AccountPaymentInput!) {
      customerAccountPayment(customerId: $c, input: $input) {
      customer { salesHistory { creditOwed } } errors { field code message } } }"""
    trusted = await factory.customer(allow_credit_sale=True, credit_limit=Decimal("20.00"))
    sale = await open_sale(
        gql, cashier, customerId=str(trusted.id), lines=[{"sku": "TEA-1", "quantity": 2}]
    )
    assert (await complete(gql, cashier, sale["id"], payment="CREDIT"))["errors"] == []

    async def paying(amount: str, payment: str = "CASH", key: str | None = None) -> Any:
        variables = {"amount": amount, "payment": payment, "idempotencyKey": key}
        return await call(
            gql, pay, {"c": str(trusted.id), "input": variables}, cashier, "customerAccountPayment"
        )

    too_much = await paying("20.00")
    assert [(e["field"], e["code"]) for e in too_much["errors"]] == [
        (["input", "amount"], "INVALID")
    ]
    on_credit = await paying("1.00", "CREDIT")
    assert [e["field"] for e in on_credit["errors"]] == [["input", "payment"]]
    paid = await paying("10.00", key="acct-1")
    assert paid["customer"]["salesHistory"]["creditOwed"] == "9.98"
    again = await paying("10.00", key="acct-1")  # a retry: not a second payment
    assert again["customer"]["salesHistory"]["creditOwed"] == "9.98"
    rest = await paying("9.98", "CARD")
    assert rest["customer"]["salesHistory"]["creditOwed"] == "0.00"
    # Paid up, the whole limit is there again.
    again_sale = await open_sale(
        gql, cashier, customerId=str(trusted.id), lines=[{"sku": "TEA-1", "quantity": 2}]
    )
    assert (await complete(gql, cashier, again_sale["id"], payment="CREDIT"))["errors"] == []


OVERRIDE = "priceOverride { listPrice by staffUserId tillId }"
PRICED_CREATE = f"""mutation($input: SaleCreateInput!) {{ saleCreate(input: $input) {{
  sale {{ id lines {{ id unitPrice {OVERRIDE} }} }} errors {{ field code message }} }} }}"""
PRICED_UPDATE = f"""mutation($s: ID!, $l: ID!, $input: SaleLineUpdateInput!) {{
  saleUpdateLine(saleId: $s, lineId: $l, input: $input) {{
  sale {{ lines {{ unitPrice quantity {OVERRIDE} }} }} errors {{ field code }} }} }}"""


async def test_a_price_above_the_list_needs_no_override_but_is_recorded(
    gql, factory, products
) -> None:
    # Charging more takes nothing from the shop (a surcharge, a price rise not yet in the
    # catalogue): any seller may, and the line still says who set the price.
    username, token = await factory.staff(P.SALE_CREATE)
    payload = await call(
        gql,
        PRICED_CREATE,
        {"input": {"lines": [{"sku": "MUG-1", "unitPrice": "5.00"}, {"sku": "TEA-1"}]}},
        token,
        "saleCreate",
    )
    assert payload["errors"] == []
    mug, tea = payload["sale"]["lines"]
    assert mug["unitPrice"] == "5.00"
    assert mug["priceOverride"]["listPrice"] == "4.50"
    assert username in mug["priceOverride"]["by"]
    assert tea["priceOverride"] is None


async def test_the_list_price_given_explicitly_is_no_override(gql, factory, products) -> None:
    token = await factory.token(P.SALE_CREATE)
    payload = await call(
        gql,
        PRICED_CREATE,
        {"input": {"lines": [{"sku": "MUG-1", "unitPrice": "4.5"}]}},
        token,
        "saleCreate",
    )
    assert payload["errors"] == []
    assert payload["sale"]["lines"][0]["priceOverride"] is None


async def test_a_tills_override_names_the_till_and_going_back_clears_it(
    gql, factory, products
) -> None:
    store = await factory.store()
    till = await factory.till(store.id, P.SALE_CREATE, P.SALE_PRICE_OVERRIDE)
    payload = await call(
        gql,
        PRICED_CREATE,
        {"input": {"lines": [{"sku": "MUG-1", "unitPrice": "0"}]}},
        till,
        "saleCreate",
    )
    assert payload["errors"] == []
    sale_id = payload["sale"]["id"]
    [line] = payload["sale"]["lines"]
    assert line["priceOverride"]["staffUserId"] is None
    assert line["priceOverride"]["tillId"] is not None
    # A quantity change keeps the price and who set it; back to the list price clears both.
    changed = await call(
        gql, PRICED_UPDATE, {"s": sale_id, "l": line["id"], "input": {"quantity": 2}}, till,
        "saleUpdateLine",
    )  # fmt: skip
    assert changed["sale"]["lines"][0]["priceOverride"] == line["priceOverride"]
    back = await call(
        gql, PRICED_UPDATE, {"s": sale_id, "l": line["id"], "input": {"unitPrice": None}}, till,
        "saleUpdateLine",
    )  # fmt: skip
    assert back["sale"]["lines"][0] == {"unitPrice": "4.50", "quantity": 2, "priceOverride": None}


async def test_every_refused_line_price_is_named_at_once(gql, factory, products) -> None:
    token = await factory.token(P.SALE_CREATE)
    payload = await call(
        gql,
        PRICED_CREATE,
        {
            "input": {
                "lines": [
                    {"sku": "NOPE"},
                    {"sku": "MUG-1", "unitPrice": "0"},
                    {"sku": "TEA-1", "unitPrice": "1.00"},
                ]
            }
        },
        token,
        "saleCreate",
    )
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "lines", "0", "sku"], "NOT_FOUND"),
        (["input", "lines", "1", "unitPrice"], "FORBIDDEN"),
        (["input", "lines", "2", "unitPrice"], "FORBIDDEN"),
    ]
    assert payload["sale"] is None


async def test_a_sales_points_name_the_card_even_one_without_a_discount(
    gql, cashier, factory, products
) -> None:
    """The card comes with the offers' one read (issue 12), also at 0%: no offer, but the
    ledger lines of what the sale redeems and earns still name it."""
    customer = await factory.customer(name="Card Holder")
    number = await factory.loyalty_card(customer.id, percent="0")
    await factory.earn_points(customer.id, 100)
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-1", "quantity": 2}]
    )
    assert sale["discountOffers"] == []
    done = await complete(gql, cashier, sale["id"], redeemPoints=10)
    assert done["errors"] == [], done
    ledger = await gql(
        """query($id: ID!) { customer(id: $id) { pointsLedger(first: 10) {
          edges { node { kind saleId cardNumber } } } } }""",
        {"id": str(customer.id)},
        token=cashier,
    )
    entries = [e["node"] for e in ledger["data"]["customer"]["pointsLedger"]["edges"]]
    of_sale = {e["kind"]: e["cardNumber"] for e in entries if e["saleId"] == sale["id"]}
    assert of_sale == {"REDEEM": number, "EARN": number}


# --- statements per sale (issue 12) -------------------------------------------------------


TILL_CREATE = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id total } errors { code } } }"""
TILL_COMPLETE = """mutation($s: ID!, $k: String) {
  saleComplete(saleId: $s, input: {payment: CARD, idempotencyKey: $k}) {
  sale { id status total pointsEarned } errors { code } } }"""


async def test_a_sale_at_the_till_takes_a_fixed_number_of_statements(
    gql, factory, count_statements
) -> None:
    """saleCreate (3 lines, a customer with a card) + saleComplete with a key, from a till,
    answering what a till shows (bench/sale_throughput.py sends the same)."""
    for sku, price in (("ST-A", "3.99"), ("ST-B", "7.50"), ("ST-C", "0.25")):
        await factory.product(sku, price)
    store = await factory.store("STMT")
    till = await factory.till(store.id, P.SALE_CREATE, P.CUSTOMER_VIEW)
    customer = await factory.customer("Counted Buyer", "+12125550199")
    await factory.loyalty_card(customer.id, "STMT-1", percent="5")
    lines = [{"sku": sku, "quantity": 2} for sku in ("ST-A", "ST-B", "ST-C")]
    counts = []
    for n in range(2):  # the second with every cache warm
        with count_statements() as created:
            sale = await call(
                gql, TILL_CREATE, {"input": {"customerId": str(customer.id), "lines": lines}},
                till, "saleCreate",
            )  # fmt: skip
        with count_statements() as completed:
            done = await call(
                gql, TILL_COMPLETE, {"s": sale["sale"]["id"], "k": f"k{n}"}, till, "saleComplete"
            )
        assert done["sale"]["status"] == "COMPLETED"
        assert done["sale"]["pointsEarned"] > 0
        counts.append((created.count, completed.count))
    print(f"sale statements: {counts}")
    # Create: the customer, the products, the customer's offers; the sale, lines, discounts.
    # Complete: the key, the claim, the lines, the offers, the stored discounts (unchanged:
    # not rewritten); points balance, ledger, audit; stats, units per product (top
    # products), segment window, segment; the sale; stock; then the feed (holders,
    # counters, rows).
    # PostgreSQL adds to each transaction its write time budget (SET LOCAL), and to the
    # feed the customer's row lock.
    assert counts[1] == ((6, 17) if BACKEND == "sqlite" else (7, 18)), counts


async def test_a_mutations_answer_reads_what_it_committed(gql, cashier, factory, products) -> None:
    """A request's reads share one session (issue 12). The till's first request reads its
    grant before the sale is written; the answer, read after the commit, must not come
    from that earlier snapshot (on SQLite a read transaction keeps its snapshot)."""
    customer = await factory.customer(name="First Visit")
    sale = await open_sale(
        gql, cashier, customerId=str(customer.id), lines=[{"sku": "TEA-1", "quantity": 1}]
    )
    fresh_till = await factory.till(
        (await factory.head_office()).id, P.SALE_CREATE, P.CUSTOMER_VIEW
    )
    body = await gql(
        """mutation($s: ID!) { saleComplete(saleId: $s, input: {payment: CASH}) {
          sale { status customer { salesHistory { visits } } } errors { code } } }""",
        {"s": sale["id"]},
        token=fresh_till,
    )
    done = body["data"]["saleComplete"]
    assert done["errors"] == []
    assert done["sale"]["customer"]["salesHistory"]["visits"] == 1
