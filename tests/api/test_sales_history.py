"""Sales history and sale lists (issue 4): the customer screen, `sales(filter:)`, paging,
the summary figures, the deletion rule and who may read sales."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event

from app.db.repositories.paging import encode_cursor
from app.domain.permissions import Permission as P
from app.domain.tiers import TierBasis
from app.services.loyalty_tiers import LoyaltyTierService, TierDraft

SCREEN = """query($id: ID!) { customer(id: $id) {
  name groups { name } loyaltyCard { cardNumber } loyaltyPoints
  loyaltyTier { since tier { name discountPercent pointsMultiplier } }
  salesHistory { visits totalSpent averageBasket firstPurchaseAt lastPurchaseAt
    topProducts { sku quantity }
    sales(first: 20) { edges { node { id total status
      lines { sku quantity total } appliedDiscounts { source percent amount } } } } } } }"""
LIST = """{ sales(first: 20) { edges { node { id total customer { name } lines { sku }
  appliedDiscounts { code } } } } }"""
SALES = """query($f: SaleFilter, $first: Int, $after: String) {
  sales(filter: $f, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage endCursor } edges { cursor node { id status createdAt } } } }"""
HISTORY = """query($id: ID!, $first: Int!, $after: String) { customer(id: $id) {
  loyaltyPoints status
  salesHistory { visits totalSpent averageBasket firstPurchaseAt lastPurchaseAt
    topProducts { sku quantity }
    sales(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
      edges { node { id status total lines { sku quantity } } } } } } }"""
CREATE = """mutation($input: SaleCreateInput!) { saleCreate(input: $input) {
  sale { id status tillId cashierId storeId createdAt lines { id sku quantity } }
  errors { field code message } } }"""
COMPLETE = """mutation($s: ID!) { saleComplete(saleId: $s, input: {payment: CASH}) {
  sale { id status total completedAt } errors { field code message } } }"""
VOID = """mutation($s: ID!) { saleVoid(saleId: $s, reason: "Wrong customer") {
  sale { status } errors { field code message } } }"""
RETURN = """mutation($s: ID!, $input: SaleReturnInput!) { saleReturn(saleId: $s, input: $input) {
  saleReturn { value } errors { field code message } } }"""


def _data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _open(gql: Any, token: str, lines: list[tuple[str, int]], **fields: Any) -> Any:
    variables = {"input": {"lines": [{"sku": s, "quantity": q} for s, q in lines], **fields}}
    payload = _data(await gql(CREATE, variables, token=token))["saleCreate"]
    assert payload["errors"] == [], payload
    return payload["sale"]


async def _sell(gql: Any, token: str, lines: list[tuple[str, int]], **fields: Any) -> Any:
    """saleCreate then saleComplete, as a till rings a sale up; the completed sale."""
    sale = await _open(gql, token, lines, **fields)
    payload = _data(await gql(COMPLETE, {"s": sale["id"]}, token=token))["saleComplete"]
    assert payload["errors"] == [], payload
    return {**sale, **payload["sale"]}


async def _history(
    gql: Any, token: str, customer_id: Any, first: int = 20, after: str | None = None
) -> Any:
    body = await gql(HISTORY, {"id": str(customer_id), "first": first, "after": after}, token=token)
    return _data(body)["customer"]


async def _all_pages(gql: Any, token: str, filter_: dict[str, Any], first: int) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        variables = {"f": filter_, "first": first, "after": after}
        page = _data(await gql(SALES, variables, token=token))["sales"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


@pytest.fixture
async def cashier(factory: Any) -> str:
    return await factory.token(  # type: ignore[no-any-return]
        P.SALE_CREATE, P.SALE_VOID, P.CUSTOMER_VIEW, P.CUSTOMER_DELETE, P.CUSTOMER_MODIFY
    )


@pytest.fixture
async def skus(factory: Any) -> list[str]:
    prices = ["10.00", "10.01", "4.50", "2.25"]
    return [(await factory.product(f"H-{n}", price)).sku for n, price in enumerate(prices)]


# --- statements per screen ---------------------------------------------------------------


async def test_the_customer_screen_takes_a_constant_number_of_statements(
    gql, cashier, factory, skus, count_statements
) -> None:
    customer = await factory.customer(name="Regular")
    group = await factory.group("Staff family", "10")
    await factory.add_to_group(group.id, customer.id)
    await factory.loyalty_card(customer.id, percent="5")
    # A tier the first sale reaches (issue 13): shown with the card, in the same row.
    tier = await LoyaltyTierService(factory.runtime.tx, None).create(
        TierDraft("Silver", 1, TierBasis.SPEND, Decimal("1"), 365, Decimal("1.5"), Decimal("2"))
    )
    assert tier.value, tier.errors
    counts = []
    for sales, lines in ((3, 2), (25, 4)):
        done = len(
            _data(await gql(SCREEN, {"id": str(customer.id)}, token=cashier))["customer"][
                "salesHistory"
            ]["sales"]["edges"]
        )
        for _ in range(sales - done):
            await factory.completed_sale(customer.id, [(sku, 1) for sku in skus[:lines]])
        with count_statements() as counter:
            body = await gql(SCREEN, {"id": str(customer.id)}, token=cashier)
        screen = _data(body)["customer"]
        history = screen["salesHistory"]
        assert history["visits"] == sales
        assert len(history["sales"]["edges"]) == min(sales, 20)
        newest = history["sales"]["edges"][0]["node"]
        assert len(newest["lines"]) == lines
        # The group's 10% beats the card's 5%.
        assert [(d["source"], d["percent"]) for d in newest["appliedDiscounts"]] == [
            ("GROUP", "10.00")
        ]
        assert screen["groups"] == [{"name": "Staff family"}]
        assert screen["loyaltyTier"]["tier"] == {
            "name": "Silver",
            "discountPercent": "2.00",
            "pointsMultiplier": "1.50",
        }
        counts.append(counter.count)
    print(f"customer screen statements: {counts}")
    assert counts[0] == counts[1], counts
    # the customer with card, points, stats and tier; groups; top products (the running
    # units, not the history); the page with its count and applied discounts; lines
    assert counts[1] <= 5, counts


async def test_a_screens_reads_share_one_connection(gql, cashier, factory, skus, db) -> None:
    """Issue 12: the screen's loaders take turns on one read session for the request, not
    a pool checkout, BEGIN and ROLLBACK each; a mutation's answer, read after its commit,
    sees the commit."""
    customer = await factory.customer(name="Regular")
    await factory.loyalty_card(customer.id, percent="5")
    await factory.completed_sale(customer.id, [(skus[0], 1)])
    checkouts: list[object] = []

    def checkout(*_: object) -> None:
        checkouts.append(_)

    event.listen(db.engine.sync_engine.pool, "checkout", checkout)
    try:
        body = await gql(SCREEN, {"id": str(customer.id)}, token=cashier)
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", checkout)
    assert body["data"]["customer"]["salesHistory"]["visits"] == 1
    assert len(checkouts) == 1


async def test_the_sales_list_takes_a_constant_number_of_statements(
    gql, factory, skus, count_statements
) -> None:
    token = await factory.token(P.SALE_CREATE, P.CUSTOMER_VIEW)
    customers = [await factory.customer(name=f"Buyer {n}") for n in range(5)]
    code = await factory.discount_code("HIST10", "10")
    assert (await factory.discounts().assign(customers[0].id, code.code, None)).errors == []
    counts = []
    for target in (5, 25):
        have = len(_data(await gql(LIST, token=token))["sales"]["edges"])
        for n in range(have, target):
            customer_id = None if n % 4 == 3 else customers[n % 5].id  # some walk-ins too
            await factory.completed_sale(customer_id, [(skus[0], 1), (skus[1], 2)])
        with count_statements() as counter:
            body = await gql(LIST, token=token)
        edges = _data(body)["sales"]["edges"]
        assert len(edges) == min(target, 20)
        assert {e["node"]["customer"]["name"] for e in edges if e["node"]["customer"]} <= {
            c.name for c in customers
        }
        assert any(e["node"]["appliedDiscounts"] == [{"code": "HIST10"}] for e in edges)
        counts.append(counter.count)
    print(f"sales list statements: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= 8, counts  # token, count, page, customers, lines, discounts


# --- sales(filter:) and paging -------------------------------------------------------------


async def test_sales_filter_by_store_till_cashier_customer_status_and_time(
    gql, factory, skus
) -> None:
    branch = await factory.store()
    head = await factory.head_office()
    staff = await factory.token(P.SALE_CREATE, P.SALE_VOID, P.REPORT_VIEW)
    other_staff = await factory.token(P.SALE_CREATE)
    till = await factory.till(branch.id, P.SALE_CREATE)
    ann = await factory.customer(name="Ann")
    bob = await factory.customer(name="Bob")
    me = _data(await gql("{ me { id } }", token=staff))["me"]["id"]

    at_head = await _sell(gql, staff, [(skus[0], 1)], customerId=str(ann.id))
    at_branch = await _sell(gql, staff, [(skus[1], 1)], storeId=str(branch.id))
    from_till = await _sell(gql, till, [(skus[2], 1)], customerId=str(bob.id))
    by_other = await _sell(gql, other_staff, [(skus[3], 1)], customerId=str(ann.id))
    still_open = await _open(gql, staff, [(skus[0], 2)], customerId=str(bob.id))
    voided = await _sell(gql, staff, [(skus[1], 3)])
    assert _data(await gql(VOID, {"s": voided["id"]}, token=staff))["saleVoid"]["errors"] == []

    assert from_till["tillId"] is not None
    assert from_till["storeId"] == str(branch.id)
    assert at_head["cashierId"] == me

    async def ids(**filter_: Any) -> list[str]:
        page = _data(await gql(SALES, {"f": filter_, "first": 50}, token=staff))["sales"]
        found = [e["node"]["id"] for e in page["edges"]]
        assert page["totalCount"] == len(found)
        return found

    everything = [voided, still_open, by_other, from_till, at_branch, at_head]
    assert await ids() == [s["id"] for s in everything]  # newest first
    assert await ids(storeId=str(branch.id)) == [from_till["id"], at_branch["id"]]
    assert await ids(storeId=str(head.id)) == [
        voided["id"], still_open["id"], by_other["id"], at_head["id"]
    ]  # fmt: skip
    assert await ids(tillId=from_till["tillId"]) == [from_till["id"]]
    assert await ids(cashierId=me) == [
        voided["id"], still_open["id"], at_branch["id"], at_head["id"]
    ]  # fmt: skip
    assert await ids(customerId=str(ann.id)) == [by_other["id"], at_head["id"]]
    assert await ids(customerId=str(bob.id), status="OPEN") == [still_open["id"]]
    assert await ids(status="VOIDED") == [voided["id"]]
    assert await ids(status="COMPLETED") == [
        by_other["id"], from_till["id"], at_branch["id"], at_head["id"]
    ]  # fmt: skip
    # createdFrom inclusive, createdTo exclusive.
    window = await ids(createdFrom=at_branch["createdAt"], createdTo=by_other["createdAt"])
    assert window == [from_till["id"], at_branch["id"]]
    assert await ids(createdFrom=voided["createdAt"]) == [voided["id"]]
    assert await ids(createdTo=at_head["createdAt"]) == []
    assert await ids(customerId=str(ann.id), storeId=str(branch.id)) == []


async def test_sales_pages_newest_first_without_duplicates_or_gaps(gql, factory, skus) -> None:
    token = await factory.token(P.REPORT_VIEW)
    customer = await factory.customer()
    made = [await factory.completed_sale(customer.id, [(skus[n % 4], 1)]) for n in range(23)]
    expected = [str(s.id) for s in sorted(made, key=lambda s: (s.created_at, s.id), reverse=True)]
    assert expected[0] == str(made[-1].id)
    for first in (1, 5, 7, 23, 50):
        assert await _all_pages(gql, token, {}, first) == expected
    filtered = await _all_pages(gql, token, {"customerId": str(customer.id)}, 4)
    assert filtered == expected


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        encode_cursor("2026-01-01T00:00:00", str(uuid.uuid4())),  # no offset
        encode_cursor("yesterday", str(uuid.uuid4())),
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor(7),
    ],
)
async def test_a_malformed_sales_cursor_is_a_clear_error(gql, factory, skus, cursor) -> None:
    token = await factory.token(P.REPORT_VIEW, P.CUSTOMER_VIEW)
    customer = await factory.customer()
    await factory.completed_sale(customer.id, [(skus[0], 1)])
    body = await gql(SALES, {"after": cursor}, token=token)
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["malformed cursor"]
    body = await gql(HISTORY, {"id": str(customer.id), "first": 5, "after": cursor}, token=token)
    assert [e["message"] for e in body["errors"]] == ["malformed cursor"]


# --- the summary figures -------------------------------------------------------------------


async def test_visits_spend_average_and_purchase_span(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    before = await _history(gql, cashier, customer.id)
    assert before["salesHistory"] == {
        "visits": 0,
        "totalSpent": "0.00",
        "averageBasket": None,
        "firstPurchaseAt": None,
        "lastPurchaseAt": None,
        "topProducts": [],
        "sales": {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None},
                  "edges": []},
    }  # fmt: skip
    first = await _sell(gql, cashier, [(skus[0], 1)], customerId=str(customer.id))
    second = await _sell(gql, cashier, [(skus[1], 1)], customerId=str(customer.id))
    # 20.01 / 2 = 10.005: half up to the cent.
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"], history["averageBasket"]) == (
        2, "20.01", "10.01"
    )  # fmt: skip
    third = await _sell(gql, cashier, [(skus[0], 1)], customerId=str(customer.id))
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    # 30.01 / 3 = 10.0033…
    assert (history["visits"], history["totalSpent"], history["averageBasket"]) == (
        3, "30.01", "10.00"
    )  # fmt: skip
    assert _at(history["firstPurchaseAt"]) == _at(first["completedAt"])
    assert _at(history["lastPurchaseAt"]) == _at(third["completedAt"])
    assert _at(first["completedAt"]) < _at(second["completedAt"]) < _at(third["completedAt"])
    # An open sale and a walk-in sale are no visits.
    await _open(gql, cashier, [(skus[0], 5)], customerId=str(customer.id))
    await _sell(gql, cashier, [(skus[0], 5)])
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"]) == (3, "30.01")
    assert history["sales"]["totalCount"] == 4


async def test_top_products_are_ordered_by_units(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    cid = str(customer.id)
    await _sell(gql, cashier, [(skus[0], 1), (skus[1], 2)], customerId=cid)
    await _sell(gql, cashier, [(skus[1], 3), (skus[2], 4)], customerId=cid)
    await _sell(gql, cashier, [(skus[2], 1), (skus[3], 2), (skus[0], 1)], customerId=cid)
    await _open(gql, cashier, [(skus[3], 50)], customerId=cid)  # not bought yet
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert history["topProducts"] == [
        {"sku": skus[1], "quantity": 5},
        {"sku": skus[2], "quantity": 5},  # a tie: by SKU
        {"sku": skus[0], "quantity": 2},
        {"sku": skus[3], "quantity": 2},
    ]


async def test_a_voided_sale_no_longer_counts(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    cid = str(customer.id)
    first = await _sell(gql, cashier, [(skus[0], 1)], customerId=cid)
    middle = await _sell(gql, cashier, [(skus[1], 2)], customerId=cid)
    last = await _sell(gql, cashier, [(skus[2], 4)], customerId=cid)

    assert _data(await gql(VOID, {"s": last["id"]}, token=cashier))["saleVoid"]["errors"] == []
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"], history["averageBasket"]) == (
        2, "30.02", "15.01"
    )  # fmt: skip
    assert _at(history["firstPurchaseAt"]) == _at(first["completedAt"])
    assert _at(history["lastPurchaseAt"]) == _at(middle["completedAt"])
    assert [p["sku"] for p in history["topProducts"]] == [skus[1], skus[0]]
    # Still in the list, as voided.
    assert [e["node"]["status"] for e in history["sales"]["edges"]] == [
        "VOIDED", "COMPLETED", "COMPLETED"
    ]  # fmt: skip

    assert _data(await gql(VOID, {"s": first["id"]}, token=cashier))["saleVoid"]["errors"] == []
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"]) == (1, "20.02")
    assert _at(history["firstPurchaseAt"]) == _at(middle["completedAt"])
    assert _at(history["lastPurchaseAt"]) == _at(middle["completedAt"])

    assert _data(await gql(VOID, {"s": middle["id"]}, token=cashier))["saleVoid"]["errors"] == []
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert history["visits"] == 0
    assert history["totalSpent"] == "0.00"
    assert history["averageBasket"] is None
    assert (history["firstPurchaseAt"], history["lastPurchaseAt"]) == (None, None)
    assert history["topProducts"] == []


async def test_returns_reduce_spend_and_top_products_but_not_visits(
    gql, cashier, factory, skus
) -> None:
    customer = await factory.customer()
    cid = str(customer.id)
    sale = await _sell(gql, cashier, [(skus[0], 3), (skus[2], 2)], customerId=cid)
    await _sell(gql, cashier, [(skus[2], 2)], customerId=cid)
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"]) == (2, "48.00")
    assert history["topProducts"] == [
        {"sku": skus[2], "quantity": 4},
        {"sku": skus[0], "quantity": 3},
    ]

    tea = next(line for line in sale["lines"] if line["sku"] == skus[0])
    variables = {"s": sale["id"], "input": {"lines": [{"lineId": tea["id"], "quantity": 2}]}}
    payload = _data(await gql(RETURN, variables, token=cashier))["saleReturn"]
    assert payload["errors"] == []
    assert payload["saleReturn"]["value"] == "20.00"

    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"], history["averageBasket"]) == (
        2, "28.00", "14.00"
    )  # fmt: skip
    assert history["topProducts"] == [
        {"sku": skus[2], "quantity": 4},
        {"sku": skus[0], "quantity": 1},
    ]
    # The last unit back: the product drops out of the top products.
    variables["input"] = {"lines": [{"lineId": tea["id"], "quantity": 1}]}
    assert _data(await gql(RETURN, variables, token=cashier))["saleReturn"]["errors"] == []
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert (history["visits"], history["totalSpent"]) == (2, "18.00")
    assert history["topProducts"] == [{"sku": skus[2], "quantity": 4}]


async def test_the_history_pages_newest_first_with_lines(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    other = await factory.customer()
    made = [await factory.completed_sale(customer.id, [(skus[n % 4], n + 1)]) for n in range(11)]
    await factory.completed_sale(other.id, [(skus[0], 1)])
    seen: list[tuple[str, list[dict[str, Any]]]] = []
    after = None
    while True:
        history = (await _history(gql, cashier, customer.id, 4, after))["salesHistory"]
        assert history["sales"]["totalCount"] == 11
        seen += [(e["node"]["id"], e["node"]["lines"]) for e in history["sales"]["edges"]]
        if not history["sales"]["pageInfo"]["hasNextPage"]:
            break
        after = history["sales"]["pageInfo"]["endCursor"]
    newest_first = list(reversed(made))
    assert [i for i, _ in seen] == [str(s.id) for s in newest_first]
    assert [lines for _, lines in seen] == [
        [{"sku": skus[n % 4], "quantity": n + 1}] for n in reversed(range(11))
    ]


# --- deletion rule (seed 004) --------------------------------------------------------------

DELETE = "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code field } } }"
SET_STATUS = """mutation($id: ID!) { customerSetStatus(id: $id, status: INACTIVE) {
  customer { status } errors { code } } }"""


async def test_a_customer_who_bought_cannot_be_deleted(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    await _sell(gql, cashier, [(skus[0], 2)], customerId=str(customer.id))
    payload = _data(await gql(DELETE, {"id": str(customer.id)}, token=cashier))["customerDelete"]
    assert payload == {"deletedId": None, "errors": [{"code": "CUSTOMER_HAS_TRANSACTIONS",
                                                       "field": ["id"]}]}  # fmt: skip
    assert (await _history(gql, cashier, customer.id))["salesHistory"]["visits"] == 1


async def test_a_customer_on_an_open_sale_cannot_be_deleted(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    await _open(gql, cashier, [(skus[0], 2)], customerId=str(customer.id))
    payload = _data(await gql(DELETE, {"id": str(customer.id)}, token=cashier))["customerDelete"]
    assert [e["code"] for e in payload["errors"]] == ["CUSTOMER_HAS_TRANSACTIONS"]
    assert payload["deletedId"] is None
    assert (await _history(gql, cashier, customer.id))["salesHistory"]["sales"]["totalCount"] == 1


async def test_deactivating_keeps_the_history_and_points(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    await _sell(gql, cashier, [(skus[0], 2), (skus[2], 1)], customerId=str(customer.id))
    before = await _history(gql, cashier, customer.id)
    assert before["loyaltyPoints"] > 0
    payload = _data(await gql(SET_STATUS, {"id": str(customer.id)}, token=cashier))
    assert payload["customerSetStatus"] == {"customer": {"status": "INACTIVE"}, "errors": []}
    after = await _history(gql, cashier, customer.id)
    assert after["status"] == "INACTIVE"
    assert after["salesHistory"] == before["salesHistory"]
    assert after["loyaltyPoints"] == before["loyaltyPoints"]


# --- who may read sales ----------------------------------------------------------------------

ONE = "query($id: ID!) { sale(id: $id) { id total } }"


async def test_reading_sales_needs_sale_create_or_report_view(gql, factory, skus) -> None:
    sale = await factory.completed_sale(None, [(skus[0], 1)])
    for permissions in ([P.SALE_CREATE], [P.REPORT_VIEW]):
        token = await factory.token(*permissions)
        listed = _data(await gql(SALES, token=token))["sales"]
        assert [e["node"]["id"] for e in listed["edges"]] == [str(sale.id)]
        found = _data(await gql(ONE, {"id": str(sale.id)}, token=token))["sale"]
        assert found == {"id": str(sale.id), "total": "10.00"}

    viewer = await factory.token(*(p for p in P if p not in (P.SALE_CREATE, P.REPORT_VIEW)))
    body = await gql(SALES, token=viewer)
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["sales"])
    ]
    assert "REPORT_VIEW or SALE_CREATE" in body["errors"][0]["message"]
    body = await gql(ONE, {"id": str(sale.id)}, token=await factory.token(P.CUSTOMER_VIEW))
    assert body["data"] == {"sale": None}
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["sale"])
    ]


async def test_a_sales_customer_needs_customer_view(gql, factory, skus) -> None:
    customer = await factory.customer(name="Private Person")
    sale = await factory.completed_sale(customer.id, [(skus[0], 1)])
    query = "query($id: ID!) { sale(id: $id) { id customerId customer { name } } }"

    analyst = await factory.token(P.REPORT_VIEW)
    body = await gql(query, {"id": str(sale.id)}, token=analyst)
    assert body["data"] == {
        "sale": {"id": str(sale.id), "customerId": str(customer.id), "customer": None}
    }
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["sale", "customer"])
    ]
    body = await gql(LIST, token=analyst)
    assert body["data"]["sales"]["edges"][0]["node"]["customer"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]

    manager = await factory.token(P.REPORT_VIEW, P.CUSTOMER_VIEW)
    body = await gql(query, {"id": str(sale.id)}, token=manager)
    assert _data(body)["sale"]["customer"] == {"name": "Private Person"}


async def test_sale_amounts_are_exact(gql, cashier, factory, skus) -> None:
    customer = await factory.customer()
    made = [await factory.completed_sale(customer.id, [(skus[1], 3)]) for _ in range(3)]
    history = (await _history(gql, cashier, customer.id))["salesHistory"]
    assert Decimal(history["totalSpent"]) == sum(s.total for s in made) == Decimal("90.09")
    assert history["averageBasket"] == "30.03"


async def test_a_list_of_customers_pages_each_ones_sales_like_the_screen(factory, skus) -> None:
    """Many customers at once (a ranked window) page as one customer alone does (an index
    range): the same sales, counts, next-page flags and applied discounts, with a cursor too."""
    buyers = [await factory.customer(name=f"Pager {n}") for n in range(3)]
    code = await factory.discount_code("PAGE10", "10")
    assert (await factory.discounts().assign(buyers[0].id, code.code, None)).errors == []
    for n, count in enumerate((7, 2, 0)):
        for _ in range(count):
            await factory.completed_sale(buyers[n].id, [(skus[0], 1)])
    ids = [b.id for b in buyers]
    service = factory.sales()

    def view(pages: Any, applied: Any) -> Any:
        return {
            customer_id: (
                page.total,
                page.has_next,
                [
                    (cursor, sale.id, [d.code for d in applied[sale.id]])
                    for cursor, sale in page.items
                ],
            )
            for customer_id, page in pages.items()
        }

    alone = {}
    for customer_id in ids:
        alone.update(view(*await service.customer_pages([customer_id], 3, None)))
    together = view(*await service.customer_pages(ids, 3, None))
    assert together == alone
    assert [together[i][:2] for i in ids] == [(7, True), (2, False), (0, False)]
    assert together[ids[0]][2][0][2] == ["PAGE10"]
    # After the first page of the first customer: the others are past their last sale
    # or have none, and still count all their sales.
    after = together[ids[0]][2][-1][0]
    alone = {}
    for customer_id in ids:
        alone.update(view(*await service.customer_pages([customer_id], 3, after)))
    together = view(*await service.customer_pages(ids, 3, after))
    assert together == alone
    assert [len(together[ids[0]][2]), together[ids[0]][1]] == [3, True]
    assert [together[i][0] for i in ids] == [7, 2, 0]
