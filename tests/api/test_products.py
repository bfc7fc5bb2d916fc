"""Products (issue 4): create, update, search, and stock on hand per store."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from app.domain.errors import ErrorCode
from app.domain.permissions import Permission as P
from app.domain.products import sku_key
from app.services.products import ProductChange, ProductService
from app.services.unit_of_work import UnitOfWork

CREATE = """mutation($input: ProductInput!) { productCreate(input: $input) {
  product { id sku name category price active stock } errors { field code } } }"""
UPDATE = """mutation($id: ID!, $input: ProductUpdateInput!) {
  productUpdate(id: $id, input: $input) {
  product { sku name category price active updatedAt } errors { field code } } }"""
STOCK_SET = """mutation($p: ID!, $s: ID, $n: Int!) {
  productStockSet(productId: $p, storeId: $s, onHand: $n) {
  product { id } errors { field code } } }"""
STOCK_ADJUST = """mutation($p: ID!, $s: ID, $d: Int!, $r: String!) {
  productStockAdjust(productId: $p, storeId: $s, delta: $d, reason: $r) {
  product { id } errors { field code } } }"""
STOCK = """query($id: ID!, $s: ID) { product(id: $id) {
  stock(storeId: $s) here: stock stockLevels { storeId onHand } } }"""
LIST = """query($search: String, $category: String, $active: Boolean, $first: Int, $after: String) {
  products(search: $search, category: $category, active: $active, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { sku } } } }"""


@pytest.fixture
async def token(factory) -> str:  # type: ignore[no-untyped-def]
    return await factory.token(P.SETTINGS_MANAGE)


async def create(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": {"name": "Tea", "price": "4.50", **fields}}, token=token)
    assert "errors" not in body, body
    return body["data"]["productCreate"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def audits(raw_sql: Any, product_id: object) -> list[tuple[str, Any, Any]]:
    rows = await raw_sql(
        "SELECT action, before, after FROM audit_entries "
        "WHERE entity_type = 'product' AND entity_id = :id ORDER BY id",
        id=str(product_id),
    )

    def as_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return [(action, as_json(before), as_json(after)) for action, before, after in rows]


async def skus(gql: Any, token: str, **variables: Any) -> list[str]:
    body = await gql(LIST, {"first": 50, **variables}, token=token)
    assert "errors" not in body, body
    return [e["node"]["sku"] for e in body["data"]["products"]["edges"]]


# --- create ----------------------------------------------------------------------------------


async def test_create_cleans_input_and_is_audited(gql, token, raw_sql) -> None:
    made = await create(
        gql, token, sku="  tea-01/b.x_y ", name="  Green   tea ", price="4.5", category=" Drinks "
    )
    assert made["errors"] == []
    product = made["product"]
    assert product == {
        "id": product["id"],
        "sku": "tea-01/b.x_y",
        "name": "Green tea",
        "category": "Drinks",
        "price": "4.50",
        "active": True,
        "stock": 0,
    }
    [(action, before, after)] = await audits(raw_sql, product["id"])
    assert (action, before) == ("create", None)
    assert after == {
        "sku": "tea-01/b.x_y",
        "name": "Green tea",
        "price": "4.50",
        "category": "Drinks",
        "active": True,
        "leadTimeDays": 7,
        "minStock": None,
    }
    assert await raw_sql("SELECT sku_key FROM products") == [("TEA-01/B.X_Y",)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"sku": "  "}, [("REQUIRED", ["input", "sku"])]),
        ({"sku": "X" * 65}, [("INVALID", ["input", "sku"])]),
        ({"sku": "TEA 01"}, [("INVALID", ["input", "sku"])]),
        ({"sku": "TEA#1"}, [("INVALID", ["input", "sku"])]),
        ({"sku": "TÉA"}, [("INVALID", ["input", "sku"])]),
        ({"sku": "A", "name": "   "}, [("REQUIRED", ["input", "name"])]),
        ({"sku": "A", "name": "n" * 201}, [("INVALID", ["input", "name"])]),
        ({"sku": "A", "price": "-0.01"}, [("INVALID", ["input", "price"])]),
        ({"sku": "A", "price": "1.005"}, [("INVALID", ["input", "price"])]),
        ({"sku": "A", "price": "100000000.00"}, [("INVALID", ["input", "price"])]),
        ({"sku": "A", "category": "c" * 101}, [("INVALID", ["input", "category"])]),
        # One SKU in any case: a scanner's "tea-1" must not find two products.
        ({"sku": " tea-1 "}, [("SKU_TAKEN", ["input", "sku"])]),
        # Every reason at once, so a form can show them all.
        (
            {"sku": "", "name": "", "price": "-1"},
            [
                ("REQUIRED", ["input", "sku"]),
                ("REQUIRED", ["input", "name"]),
                ("INVALID", ["input", "price"]),
            ],
        ),
    ],
)
async def test_create_refuses_bad_input(gql, token, raw_sql, fields, expected) -> None:
    assert (await create(gql, token, sku="TEA-1"))["errors"] == []
    made = await create(gql, token, **fields)
    assert made["product"] is None
    assert codes(made) == expected
    assert await raw_sql("SELECT count(*) FROM products") == [(1,)]


async def test_edge_values_are_accepted(gql, token) -> None:
    made = await create(gql, token, sku="X" * 64, name="n" * 200, price="99999999.99")
    assert made["errors"] == []
    free = await create(gql, token, sku="FREE", price="0", category="   ")
    assert free["errors"] == []
    assert (free["product"]["price"], free["product"]["category"]) == ("0.00", None)


async def test_two_tills_creating_one_sku_at_once_make_one_product(runtime, raw_sql) -> None:
    service = ProductService(runtime.tx, None)
    results = await asyncio.gather(
        *(
            service.create(sku, "Tea", Decimal("1.00"), None)
            for sku in ("race-1", "RACE-1", "Race-1")
        )
    )
    assert sum(r.ok for r in results) == 1
    for refused in (r for r in results if not r.ok):
        assert [e.code for e in refused.errors] == [ErrorCode.SKU_TAKEN]
    assert await raw_sql("SELECT count(*) FROM products") == [(1,)]


# --- update ----------------------------------------------------------------------------------


async def test_update_changes_given_fields_and_audits_only_those(gql, token, raw_sql) -> None:
    product = (await create(gql, token, sku="UPD", category="Drinks"))["product"]
    body = await gql(
        UPDATE,
        {"id": product["id"], "input": {"price": "5.25", "active": False, "name": None}},
        token=token,
    )
    updated = body["data"]["productUpdate"]
    assert updated["errors"] == []
    assert {k: v for k, v in updated["product"].items() if k != "updatedAt"} == {
        "sku": "UPD",
        "name": "Tea",
        "category": "Drinks",
        "price": "5.25",
        "active": False,
    }
    assert updated["product"]["updatedAt"] is not None
    cleared = await gql(UPDATE, {"id": product["id"], "input": {"category": None}}, token=token)
    assert cleared["data"]["productUpdate"]["product"]["category"] is None
    same = await gql(UPDATE, {"id": product["id"], "input": {"price": "5.25"}}, token=token)
    assert same["data"]["productUpdate"]["errors"] == []

    trail = await audits(raw_sql, product["id"])
    assert [a for a, _, _ in trail] == ["create", "update", "update"]
    assert trail[1][1:] == ({"price": "4.50", "active": True}, {"price": "5.25", "active": False})
    assert trail[2][1:] == ({"category": "Drinks"}, {"category": None})


async def test_update_refuses_bad_input_and_unknown_products(gql, token) -> None:
    product = (await create(gql, token, sku="UPD"))["product"]
    body = await gql(
        UPDATE, {"id": product["id"], "input": {"name": " ", "price": "1.001"}}, token=token
    )
    assert codes(body["data"]["productUpdate"]) == [
        ("REQUIRED", ["input", "name"]),
        ("INVALID", ["input", "price"]),
    ]
    for unknown in (str(uuid.uuid4()), "not-an-id"):
        body = await gql(UPDATE, {"id": unknown, "input": {"name": "X"}}, token=token)
        assert codes(body["data"]["productUpdate"]) == [("NOT_FOUND", ["id"])]


async def test_the_sku_cannot_be_updated(gql, token) -> None:
    product = (await create(gql, token, sku="KEEP"))["product"]
    body = await gql(UPDATE, {"id": product["id"], "input": {"sku": "OTHER"}}, token=token)
    assert body["data"] is None
    assert "sku" in body["errors"][0]["message"]


# --- who may do what -------------------------------------------------------------------------


async def test_a_till_reads_products_but_cannot_change_them(gql, factory, raw_sql) -> None:
    store = await factory.store()
    product = await factory.product(sku="TILL-1", stock={store.id: 4})
    till = await factory.till(store.id, P.SALE_CREATE)
    body = await gql(STOCK, {"id": str(product.id)}, token=till)
    assert "errors" not in body, body
    # The till's own store by default.
    assert body["data"]["product"]["here"] == 4
    assert await skus(gql, till, search="till") == ["TILL-1"]

    before = await raw_sql("SELECT sku, name, price FROM products")
    made = await create(gql, till, sku="NEW")
    assert codes(made) == [("FORBIDDEN", None)]
    body = await gql(STOCK_SET, {"p": str(product.id), "n": 99}, token=till)
    assert codes(body["data"]["productStockSet"]) == [("FORBIDDEN", None)]
    body = await gql(UPDATE, {"id": str(product.id), "input": {"price": "0"}}, token=till)
    assert codes(body["data"]["productUpdate"]) == [("FORBIDDEN", None)]
    assert await raw_sql("SELECT sku, name, price FROM products") == before
    assert await raw_sql("SELECT on_hand FROM product_stock") == [(4,)]


async def test_anonymous_callers_see_no_products(gql, factory) -> None:
    await factory.product()
    body = await gql("{ products { totalCount } }")
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


# --- stock -----------------------------------------------------------------------------------


async def test_stock_set_and_adjust_per_store_with_audit(gql, token, factory, raw_sql) -> None:
    branch = await factory.store("BR1")
    product = (await create(gql, token, sku="STK"))["product"]
    pid = product["id"]

    counted = await gql(STOCK_SET, {"p": pid, "s": str(branch.id), "n": 10}, token=token)
    assert counted["data"]["productStockSet"]["errors"] == []
    delivered = await gql(
        STOCK_ADJUST, {"p": pid, "s": str(branch.id), "d": 5, "r": " Delivery  42 "}, token=token
    )
    assert delivered["data"]["productStockAdjust"]["errors"] == []
    broken = await gql(
        STOCK_ADJUST, {"p": pid, "s": str(branch.id), "d": -20, "r": "Flood"}, token=token
    )
    assert broken["data"]["productStockAdjust"]["errors"] == []
    # No store named: the caller has no home store, so head office.
    at_ho = await gql(STOCK_ADJUST, {"p": pid, "d": 3, "r": "Delivery"}, token=token)
    assert at_ho["data"]["productStockAdjust"]["errors"] == []

    body = await gql(STOCK, {"id": pid, "s": str(branch.id)}, token=token)
    found = body["data"]["product"]
    # Below zero is kept: it is what tells the shop to recount.
    assert (found["stock"], found["here"]) == (-5, 3)
    head_office = (await raw_sql("SELECT id FROM stores WHERE is_head_office"))[0][0]
    assert sorted((s["storeId"], s["onHand"]) for s in found["stockLevels"]) == sorted(
        [(str(branch.id), -5), (str(uuid.UUID(str(head_office))), 3)]
    )

    trail = await audits(raw_sql, pid)
    assert [(a, b, c) for a, b, c in trail[1:]] == [
        ("stock_set", {"store": "BR1", "onHand": None}, {"store": "BR1", "onHand": 10}),
        (
            "stock_adjust",
            {"store": "BR1", "onHand": 10},
            {"store": "BR1", "onHand": 15, "reason": "Delivery 42"},
        ),
        (
            "stock_adjust",
            {"store": "BR1", "onHand": 15},
            {"store": "BR1", "onHand": -5, "reason": "Flood"},
        ),
        (
            "stock_adjust",
            {"store": "HO", "onHand": 0},
            {"store": "HO", "onHand": 3, "reason": "Delivery"},
        ),
    ]


async def test_stock_changes_check_their_input(gql, token, factory, raw_sql) -> None:
    pid = (await create(gql, token, sku="STK"))["product"]["id"]
    for variables, expected in [
        ({"p": pid, "n": -1}, [("INVALID", ["onHand"])]),
        ({"p": pid, "n": 1_000_000_001}, [("INVALID", ["onHand"])]),
        ({"p": pid, "s": str(uuid.uuid4()), "n": 1}, [("NOT_FOUND", ["storeId"])]),
        ({"p": str(uuid.uuid4()), "n": 1}, [("NOT_FOUND", ["productId"])]),
    ]:
        body = await gql(STOCK_SET, variables, token=token)
        assert codes(body["data"]["productStockSet"]) == expected, variables
    for variables, expected in [
        ({"p": pid, "d": 0, "r": "x"}, [("INVALID", ["delta"])]),
        ({"p": pid, "d": 1_000_000_001, "r": "x"}, [("INVALID", ["delta"])]),
        ({"p": pid, "d": 1, "r": "  "}, [("REQUIRED", ["input", "reason"])]),
        ({"p": pid, "d": 1, "r": "r" * 201}, [("INVALID", ["input", "reason"])]),
    ]:
        body = await gql(STOCK_ADJUST, variables, token=token)
        assert codes(body["data"]["productStockAdjust"]) == expected, variables
    assert await raw_sql("SELECT count(*) FROM product_stock") == [(0,)]


async def test_an_unchanged_count_is_not_audited(gql, token, raw_sql) -> None:
    pid = (await create(gql, token, sku="STK"))["product"]["id"]
    for _ in range(2):
        body = await gql(STOCK_SET, {"p": pid, "n": 4}, token=token)
        assert body["data"]["productStockSet"]["errors"] == []
    assert [a for a, _, _ in await audits(raw_sql, pid)] == ["create", "stock_set"]


async def test_adjust_stock_adds_atomically_from_many_transactions(runtime, factory) -> None:
    """What the sale service relies on: concurrent sales of one product all count."""
    store = await factory.store()
    counted = await factory.product(stock={store.id: 100})
    fresh = await factory.product()

    async def sell(uow: UnitOfWork) -> None:
        await uow.products.adjust_stock(store.id, {counted.id: -1, fresh.id: -2}, uow.now)

    results = await asyncio.gather(*(runtime.tx.run(None, sell) for _ in range(8)))
    assert all(r.ok for r in results)

    async def give_back(uow: UnitOfWork) -> None:
        # Zero deltas write nothing (no row appears for a product never counted).
        await uow.products.adjust_stock(store.id, {counted.id: 3, uuid.uuid4(): 0}, uow.now)

    assert (await runtime.tx.run(None, give_back)).ok
    found = await ProductService(runtime.tx, None).on_hand(
        [(counted.id, store.id), (fresh.id, store.id)]
    )
    assert found == {(counted.id, store.id): 95, (fresh.id, store.id): -16}


async def test_by_sku_keys_finds_products_by_any_case(runtime, factory) -> None:
    tea = await factory.product(sku="Tea-1")
    cake = await factory.product(sku="cake.2")

    async def look(uow: UnitOfWork) -> dict[str, Any]:
        return await uow.products.by_sku_keys([sku_key(" tea-1"), sku_key("CAKE.2"), "NONE"])

    result = await runtime.tx.run(None, look)
    assert result.value == {"TEA-1": tea, "CAKE.2": cake}


# --- lists -----------------------------------------------------------------------------------


async def test_search_filters_and_pages(gql, token, factory) -> None:
    await factory.product(sku="TEA-1", name="Green tea", category="Drinks")
    await factory.product(sku="TEA-2", name="Black tea", category="Drinks")
    await factory.product(sku="CAKE-1", name="Teacake", category="Bakery")
    old = await factory.product(sku="TEA_OLD", name="Old tea", category="Drinks")
    assert (await factory.products().update(old.id, ProductChange(active=False))).ok

    assert await skus(gql, token) == ["CAKE-1", "TEA-1", "TEA-2", "TEA_OLD"]
    assert await skus(gql, token, search="tea") == ["CAKE-1", "TEA-1", "TEA-2", "TEA_OLD"]
    assert await skus(gql, token, search=" tea-") == ["TEA-1", "TEA-2"]
    assert await skus(gql, token, search="black") == ["TEA-2"]
    # '_' and '%' are literal, not LIKE wildcards.
    assert await skus(gql, token, search="tea_") == ["TEA_OLD"]
    assert await skus(gql, token, search="%") == []
    assert await skus(gql, token, category="Drinks", active=True) == ["TEA-1", "TEA-2"]
    assert await skus(gql, token, active=False) == ["TEA_OLD"]

    seen: list[str] = []
    after = None
    while True:
        body = await gql(LIST, {"first": 3, "after": after}, token=token)
        page = body["data"]["products"]
        assert page["totalCount"] == 4
        seen += [e["node"]["sku"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["CAKE-1", "TEA-1", "TEA-2", "TEA_OLD"]

    body = await gql(LIST, {"after": "bogus"}, token=token)
    assert body["data"] is None


async def test_the_product_list_loads_stock_in_constant_statements(
    gql, token, factory, count_statements
) -> None:
    store = await factory.store()
    screen = """query($s: ID) { products(first: 50) { edges { node {
      sku stock here: stock(storeId: $s) stockLevels { onHand } } } } }"""
    counts = []
    for size in (5, 20):
        while len(await skus(gql, token)) < size:
            await factory.product(stock={store.id: 2})
        with count_statements() as counter:
            body = await gql(screen, {"s": str(store.id)}, token=token)
        nodes = [e["node"] for e in body["data"]["products"]["edges"]]
        assert len(nodes) == size
        assert all(
            (n["stock"], n["here"], n["stockLevels"]) == (0, 2, [{"onHand": 2}]) for n in nodes
        )
        counts.append(counter.count)
    assert counts[0] == counts[1]


async def test_odd_search_text_and_minus_zero_are_handled(gql, token) -> None:  # type: ignore[no-untyped-def]
    created = await gql(
        CREATE, {"input": {"sku": "FREE-1", "name": "Sample", "price": "-0"}}, token=token
    )
    assert created["data"]["productCreate"]["product"]["price"] == "0.00"
    for search in ("a\U0010ffff", "sample", "tea pot"):
        body = await gql(LIST, {"search": search, "first": 5}, token=token)
        assert "errors" not in body, body
    found = await gql(LIST, {"search": "samp", "first": 5}, token=token)
    assert [e["node"]["sku"] for e in found["data"]["products"]["edges"]] == ["FREE-1"]


async def test_a_cursor_hiding_a_nul_is_refused_as_malformed(gql, token) -> None:  # type: ignore[no-untyped-def]
    import base64
    import json
    import uuid

    raw = json.dumps(["A\u0000", str(uuid.uuid4())]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    body = await gql(LIST, {"first": 5, "after": cursor}, token=token)
    assert body["data"] is None
    assert "malformed cursor" in body["errors"][0]["message"]
