"""Malformed input gets a 4xx or a typed error: never an HTTP 500 or INTERNAL (issue 9 §6)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.db.base import Base
from app.domain.permissions import Permission as P
from app.services.sales import LineDraft, SaleCreate


@pytest.mark.parametrize(
    "body",
    [
        b'"a string"',
        b"42",
        b"null",
        b'{"query": "{ __typename }", "x": "\\xff\\xfe"}'.replace(b"\\xff\\xfe", b"\xff\xfe"),
        b'{"query": "{ __typename }", "variables": {"unused": ' + b"9" * 5000 + b"}}",
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
        b'{"query": "{ __typename }", "extensions": {"e": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 65 + b"]" * 65 + b"}}",
        b'{"query": "{ __typename }", "variables": {"v": NaN}}',
    ],
    ids=[
        *("string", "number", "null", "bad-utf8", "huge-int", "deep-variables"),
        *("deep-extensions", "65-deep", "nan-is-no-json"),
    ],
)
async def test_malformed_bodies_are_400_with_a_json_error(client, body: bytes) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("variables", '{"unused": ' + "9" * 5000 + "}"),
        # 5,000 levels: past the recursion limit, within the length a URL may have.
        ("variables", '{"v": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("extensions", '{"e": ' + "[" * 5000 + "]" * 5000 + "}"),
        ("variables", '{"v": ' + "[" * 65 + "]" * 65 + "}"),
        ("variables", "{"),
    ],
    ids=["huge-int", "deep-variables", "deep-extensions", "65-deep", "bad-json"],
)
async def test_malformed_json_in_a_get_query_string_is_400(client, name: str, value: str) -> None:
    # GET /graphql carries the same JSON in its URL: the same guard applies.
    response = await client.get(
        "/graphql",
        params={"query": "{ __typename }", name: value},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith(f"The {name} parameter")


async def test_json_nested_as_deep_as_a_request_needs_is_served(client) -> None:
    nested = "[" * 60 + "]" * 60
    for response in (
        await client.post(
            "/graphql",
            content=f'{{"query": "{{ __typename }}", "variables": {{"v": {nested}}}}}'.encode(),
            headers={"content-type": "application/json"},
        ),
        await client.get(
            "/graphql",
            params={"query": "{ __typename }", "variables": f'{{"v": {nested}}}'},
            headers={"accept": "application/json"},
        ),
    ):
        assert response.status_code == 200
        assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "query",
    [
        "{ customers(first: 9999) { totalCount } }",
        "{ customers(first: -9999) { totalCount } }",
        "query($n: Int = 9999) { customers(first: $n) { totalCount } }",
        "{ customerGroups { edges { node { members(first: 9999) { totalCount } } } } }",
        'mutation { productStockSet(productId: "{product}", onHand: 9999) { errors { code } } }',
        'mutation { productUpdate(id: "{product}", input: {price: 9999}) { errors { code } } }',
        'mutation { productUpdate(id: "{product}", input: {price: 0.9999}) { errors { code } } }',
    ],
    ids=["first", "negative", "variable-default", "nested", "int-argument", "decimal", "float"],
)
async def test_a_number_literal_past_the_int_string_limit_is_refused(
    gql, db, factory, query: str
) -> None:
    # 5,000 digits: graphql-core's int() of the literal failed inside validation, masked.
    product = await factory.product("MUG")
    token = await factory.token(*P)
    before = await snapshot(db)
    body = await gql(
        query.replace("9999", "9" * 5000).replace("{product}", str(product.id)), token=token
    )
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "A number may have at most 100 characters.",
            "extensions": {"code": "INVALID_NUMBER"},
        }
    ]
    assert await snapshot(db) == before


async def post(client, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    # json.dumps escapes a lone surrogate as "\\ud800", as a client's JSON encoder would;
    # httpx's own encoder would refuse to send it.
    response = await client.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"content-type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def expect_refusal(body: dict[str, Any], how: str) -> None:
    if how == "variable":
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_TEXT"]
    else:  # graphql-core refuses a lone surrogate in a literal as a syntax error
        assert [e["message"][:13] for e in body["errors"]] == ["Syntax Error:"]
        assert "data" not in body or body["data"] is None


@pytest.mark.parametrize("how", ["variable", "literal"])
async def test_a_lone_surrogate_in_a_name_is_refused_before_anything_runs(
    client, factory, raw_sql, how
) -> None:
    token = await factory.token(P.CUSTOMER_ADD)
    if how == "variable":
        body = await post(
            client,
            'mutation($n: String!) { customerCreate(input: {name: $n, phone: "+12125550100"})'
            " { errors { code } } }",
            {"n": "Al\ud800ice"},
            token,
        )
    else:
        body = await post(
            client,
            'mutation { customerCreate(input: {name: "Al\ud800ice", phone: "+12125550100"})'
            " { errors { code } } }",
            {},
            token,
        )
    expect_refusal(body, how)
    assert (await raw_sql("SELECT COUNT(*) FROM customers"))[0][0] == 0


@pytest.mark.parametrize("how", ["variable", "literal"])
async def test_a_lone_surrogate_in_a_search_is_refused(client, factory, how) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    if how == "variable":
        query = "query($s: String) { customers(search: $s) { totalCount } }"
        body = await post(client, query, {"s": "x\udfffy"}, token)
    else:
        query = '{ customers(search: "x\udfffy") { totalCount } }'
        body = await post(client, query, {}, token)
    expect_refusal(body, how)


@pytest.mark.parametrize("how", ["variable", "literal"])
@pytest.mark.parametrize("value", ["9e999999999", "sNaN", "NaN", "Infinity", "-Infinity", "1e-99"])
async def test_a_decimal_that_is_not_a_usable_number_is_a_validation_error(
    gql, factory, raw_sql, how, value
) -> None:
    token = await factory.token(P.CUSTOMER_ADD)
    fields = 'name: "Alice", phone: "+12125550100", allowCreditSale: true'
    if how == "variable":
        body = await gql(
            f"mutation($c: Decimal) {{ customerCreate(input: {{{fields}, creditLimit: $c}})"
            " { errors { code } } }",
            {"c": value},
            token=token,
        )
    else:
        body = await gql(
            f'mutation {{ customerCreate(input: {{{fields}, creditLimit: "{value}"}})'
            " { errors { code } } }",
            token=token,
        )
    assert body.get("data") is None
    assert [e["message"] for e in body["errors"] if "Decimal" in e["message"]], body
    assert not [e for e in body["errors"] if e.get("extensions", {}).get("code") == "INTERNAL"]
    assert (await raw_sql("SELECT COUNT(*) FROM customers"))[0][0] == 0


async def test_an_ordinary_decimal_still_parses(gql, factory) -> None:
    token = await factory.token(P.CUSTOMER_ADD)
    body = await gql(
        'mutation { customerCreate(input: {name: "Alice", phone: "+12125550100",'
        ' allowCreditSale: true, creditLimit: "1500.50"})'
        " { errors { code } customer { creditLimit } } }",
        token=token,
    )
    assert body["data"]["customerCreate"] == {"errors": [], "customer": {"creditLimit": "1500.50"}}


# -- every money input: a typed error or a refusal, never INTERNAL, nothing saved -----------


async def snapshot(db: Any) -> dict[str, list[str]]:
    """Every row of every table: a refused call changes nothing, not even an audit entry.

    Tokens are left out: each request notes when its token was last used.
    """
    async with db.read() as session:
        return {
            table.name: sorted(map(str, (await session.execute(select(table))).all()))
            for table in Base.metadata.sorted_tables
            if table.name != "auth_tokens"
        }


@dataclass
class World:
    token: str
    ids: dict[str, str]


@pytest.fixture
async def world(factory: Any, raw_sql: Any) -> World:
    """One of each record a money or reference input can name, and an all-powerful caller."""
    customer = await factory.customer(allow_credit_sale=True, credit_limit=Decimal(500))
    product = await factory.product("MUG", price="10.00")
    group = await factory.group("Regulars", "5")
    code = await factory.discount_code("SPRING", "10")
    sales = factory.sales()
    opened = await sales.create(SaleCreate(lines=(LineDraft("MUG", 1),), customer_id=customer.id))
    assert opened.value, opened.errors
    [line] = (await sales.lines_for([opened.value.id]))[opened.value.id]
    await factory.completed_sale(customer.id, [("MUG", 3)], payment="CREDIT")
    appointment = await factory.appointment(customer.id)
    role = (await factory.auth().create_role("Clerk", [P.CUSTOMER_VIEW])).value
    username, _ = await factory.staff(P.CUSTOMER_VIEW)
    [(user_id,)] = await raw_sql("SELECT id FROM staff_users WHERE username = :u", u=username)
    token = await factory.token(*P)
    ids = {
        "store": (await factory.head_office()).id,
        "customer": customer.id,
        "product": product.id,
        "group": group.id,
        "code": code.id,
        "sale": opened.value.id,
        "line": line.id,
        "appointment": appointment.id,
        "role": role.id,
        "user": user_id,
    }
    return World(token, {k: str(v) for k, v in ids.items()})


MONEY_INPUTS = {
    "creditLimit (create)": """mutation($v: Decimal) { r: customerCreate(input: {name: "Bo",
        phone: "+12125550142", allowCreditSale: true, creditLimit: $v}) {
        errors { field code message } } }""",
    "creditLimit (update)": """mutation($v: Decimal) { r: customerUpdate(id: "{customer}",
        input: {expectedVersion: 1, creditLimit: $v}) { errors { field code message } } }""",
    "creditLimit (offline)": """mutation($v: Decimal) { r: customerSyncOffline(storeId: "{store}",
        customers: [{
        clientId: "{client}", customer: {name: "Bo",
        phone: "+12125550142", allowCreditSale: true, creditLimit: $v}}]) {
        results { status } errors { field code message } } }""",
    "unitPrice (saleCreate)": """mutation($v: Decimal) { r: saleCreate(input: {lines: [{
        sku: "MUG", unitPrice: $v}]}) { errors { field code message } } }""",
    "unitPrice (saleAddLines)": """mutation($v: Decimal) { r: saleAddLines(saleId: "{sale}",
        lines: [{sku: "MUG", unitPrice: $v}]) { errors { field code message } } }""",
    "unitPrice (saleUpdateLine)": """mutation($v: Decimal) { r: saleUpdateLine(saleId: "{sale}",
        lineId: "{line}", input: {unitPrice: $v}) { errors { field code message } } }""",
    "amount": """mutation($v: Decimal!) { r: customerAccountPayment(customerId: "{customer}",
        input: {amount: $v, payment: CASH}) { errors { field code message } } }""",
    "price (create)": """mutation($v: Decimal!) { r: productCreate(input: {sku: "CUP",
        name: "Cup", price: $v}) { errors { field code message } } }""",
    "price (update)": """mutation($v: Decimal) { r: productUpdate(id: "{product}",
        input: {price: $v}) { errors { field code message } } }""",
    "discountPercent (group create)": """mutation($v: Decimal) { r: customerGroupCreate(
        input: {name: "VIP", discountPercent: $v}) { errors { field code message } } }""",
    "discountPercent (group update)": """mutation($v: Decimal) { r: customerGroupUpdate(
        id: "{group}", input: {discountPercent: $v}) { errors { field code message } } }""",
    "discountPercent (card)": """mutation($v: Decimal!) { r: loyaltyCardIssue(
        customerId: "{customer}", input: {cardNumber: "CARD-1001", discountPercent: $v}) {
        errors { field code message } } }""",
    "percent (code create)": """mutation($v: Decimal!) { r: discountCodeCreate(
        input: {code: "SUMMER", percent: $v}) { errors { field code message } } }""",
    "percent (code update)": """mutation($v: Decimal) { r: discountCodeUpdate(id: "{code}",
        input: {percent: $v}) { errors { field code message } } }""",
    "pointsPerCurrencyUnit": """mutation($v: Decimal) { r: businessSettingsUpdate(
        input: {pointsPerCurrencyUnit: $v}) { errors { field code message } } }""",
    "pointValue": """mutation($v: Decimal) { r: businessSettingsUpdate(input: {pointValue: $v}) {
        errors { field code message } } }""",
}

# The scalar refuses what no rule could compute with; the services refuse the rest.
REFUSED_BY_THE_SCALAR = ["9e999999999", "-9e999999999", "1e-999999999", "sNaN", "NaN", "Infinity"]
REFUSED_BY_THE_RULES = ["1.001", "0.0000001", "1e60", "-5", "-0.01", "1e-60"]


def fill(template: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        template = template.replace("{" + name + "}", value)
    return template


MONEY_FIELDS = {"creditLimit", "unitPrice", "amount", "price", "percent", "discountPercent"}
MONEY_FIELDS |= {"pointsPerCurrencyUnit", "pointValue"}


@pytest.mark.parametrize("money_input", MONEY_INPUTS)
async def test_every_money_input_refuses_a_bad_decimal_and_saves_nothing(
    gql, db, world, money_input: str
) -> None:
    for value in REFUSED_BY_THE_SCALAR + REFUSED_BY_THE_RULES:
        # A new offline client id each time: a resent one would get its first answer back.
        operation = fill(MONEY_INPUTS[money_input], {**world.ids, "client": str(uuid.uuid4())})
        before = await snapshot(db)
        body = await gql(operation, {"v": value}, token=world.token)
        if value in REFUSED_BY_THE_SCALAR:
            # Refused while the variables are read, before any resolver: data is null.
            assert body["data"] is None, value
            [error] = body["errors"]
            assert "cannot represent a Decimal" in error["message"], (value, error)
            assert error.get("extensions", {}).get("code") != "INTERNAL"
        elif money_input == "creditLimit (offline)":
            # A till's offline customer is answered, not refused: a CONFLICT for a manager,
            # kept so that a resend gets the same answer; no customer is made.
            assert body["data"]["r"] == {"results": [{"status": "CONFLICT"}], "errors": []}
            after = await snapshot(db)
            assert after["customers"] == before["customers"]
            assert len(after["offline_customers"]) == len(before["offline_customers"]) + 1
            continue
        else:
            assert "errors" not in body, (value, body)
            errors = body["data"]["r"]["errors"]
            # A field path to the value at fault, and a code the till can act on.
            assert all(e["code"] == "INVALID" and e["message"] for e in errors), (value, errors)
            assert any(e["field"][-1] in MONEY_FIELDS for e in errors), (value, errors)
        assert await snapshot(db) == before, value


@pytest.mark.parametrize("money_input", ["creditLimit (create)", "price (create)"])
async def test_minus_zero_is_zero(gql, raw_sql, world, money_input: str) -> None:
    # -0 is the number 0: it is accepted, and saved and shown as 0.00, never "-0.00".
    body = await gql(fill(MONEY_INPUTS[money_input], world.ids), {"v": "-0"}, token=world.token)
    assert body["data"]["r"]["errors"] == []
    saved = await raw_sql(
        "SELECT credit_limit FROM customers WHERE name = 'Bo'"
        if money_input.startswith("credit")
        else "SELECT price FROM products WHERE sku = 'CUP'"
    )
    assert [str(v) for (v,) in saved] == ["0.00"]


# -- ids that name nothing: NOT_FOUND (or a refusal), never a foreign-key failure -----------

UNKNOWN = str(uuid.UUID(int=1))  # well formed, names no record

REFERENCE_INPUTS = {
    "customerSyncOffline(storeId)": """mutation { r: customerSyncOffline(storeId: "{ref}",
        customers: [{clientId: "{client}", customer: {name: "Bo", phone: "+12125550142"}}]) {
        errors { field code } } }""",
    "customerDownloadToStore(storeId)": """mutation { r: customerDownloadToStore(
        customerId: "{customer}", storeId: "{ref}") { errors { field code } } }""",
    "customerCreate(homeStoreId)": """mutation { r: customerCreate(input: {name: "Bo",
        phone: "+12125550142", homeStoreId: "{ref}"}) { errors { field code } } }""",
    "customerUpdate(homeStoreId)": """mutation { r: customerUpdate(id: "{customer}",
        input: {expectedVersion: 1, homeStoreId: "{ref}"}) { errors { field code } } }""",
    "appointmentCreate(storeId)": """mutation { r: appointmentCreate(customerId: "{customer}",
        input: {service: "Cut", startsAt: "{starts}", storeId: "{ref}"}) {
        errors { field code } } }""",
    "appointmentCreate(staffId)": """mutation { r: appointmentCreate(customerId: "{customer}",
        input: {service: "Cut", startsAt: "{starts}", staffId: "{ref}"}) {
        errors { field code } } }""",
    "appointmentReschedule(staffId)": """mutation { r: appointmentReschedule(id: "{appointment}",
        input: {expectedVersion: 1, startsAt: "{starts}", staffId: "{ref}"}) {
        errors { field code } } }""",
    "productStockSet(storeId)": """mutation { r: productStockSet(productId: "{product}",
        onHand: 3, storeId: "{ref}") { errors { field code } } }""",
    "productStockAdjust(storeId)": """mutation { r: productStockAdjust(productId: "{product}",
        delta: 3, reason: "delivery", storeId: "{ref}") { errors { field code } } }""",
    "saleCreate(storeId)": """mutation { r: saleCreate(input: {storeId: "{ref}",
        lines: [{sku: "MUG"}]}) { errors { field code } } }""",
    "saleCreate(tillId)": """mutation { r: saleCreate(input: {tillId: "{ref}",
        lines: [{sku: "MUG"}]}) { errors { field code } } }""",
    "saleCreate(customerId)": """mutation { r: saleCreate(input: {customerId: "{ref}",
        lines: [{sku: "MUG"}]}) { errors { field code } } }""",
    "saleCreate(exchangeForSaleId)": """mutation { r: saleCreate(input: {
        exchangeForSaleId: "{ref}", lines: [{sku: "MUG"}]}) { errors { field code } } }""",
    "tillCreate(storeId)": """mutation { r: tillCreate(input: {name: "T", roleId: "{role}",
        storeId: "{ref}"}) { errors { field code } } }""",
    "tillCreate(roleId)": """mutation { r: tillCreate(input: {name: "T", roleId: "{ref}"}) {
        errors { field code } } }""",
    "staffUserCreate(storeId)": """mutation { r: staffUserCreate(input: {username: "newbie",
        password: "long-enough", roleId: "{role}", storeId: "{ref}"}) {
        errors { field code } } }""",
    "staffUserCreate(roleId)": """mutation { r: staffUserCreate(input: {username: "newbie",
        password: "long-enough", roleId: "{ref}"}) { errors { field code } } }""",
    "staffUserUpdate(storeId)": """mutation { r: staffUserUpdate(id: "{user}",
        input: {storeId: "{ref}"}) { errors { field code } } }""",
    "staffUserUpdate(roleId)": """mutation { r: staffUserUpdate(id: "{user}",
        input: {roleId: "{ref}"}) { errors { field code } } }""",
}


# An unknown original is answered as "no completed sale of that id".
EXPECTED_CODE = {"saleCreate(exchangeForSaleId)": "SALE_NOT_COMPLETED"}


@pytest.mark.parametrize("reference", REFERENCE_INPUTS)
async def test_an_id_that_names_nothing_is_not_found_and_changes_nothing(
    gql, db, world, reference: str
) -> None:
    # Well formed and unknown, and malformed (read as the all-zero id, which is unknown too).
    for ref in (UNKNOWN, "not-an-id"):
        starts = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        ids = {**world.ids, "ref": ref, "client": str(uuid.uuid4()), "starts": starts}
        before = await snapshot(db)
        body = await gql(fill(REFERENCE_INPUTS[reference], ids), token=world.token)
        assert "errors" not in body, (ref, body)
        errors = body["data"]["r"]["errors"]
        # One error, on the field that named nothing.
        field = reference[reference.index("(") + 1 : -1]
        expected = [
            {"field": errors[0]["field"], "code": EXPECTED_CODE.get(reference, "NOT_FOUND")}
        ]
        assert errors == expected, (ref, errors)
        assert errors[0]["field"][-1] == field, (ref, errors)
        assert await snapshot(db) == before, ref


async def test_a_too_short_password_is_a_typed_error(gql, db, world) -> None:
    # It was checked before the transaction, outside the rule that turns a refusal into data.
    before = await snapshot(db)
    body = await gql(
        'mutation { r: staffUserUpdate(id: "{user}", input: {password: "short"}) {'
        " errors { field code message } } }".replace("{user}", world.ids["user"]),
        token=world.token,
    )
    assert body["data"]["r"]["errors"] == [
        {
            "field": ["input", "password"],
            "code": "INVALID",
            "message": "A password needs at least 8 characters.",
        }
    ]
    assert await snapshot(db) == before


async def test_a_decimal_literal_is_read_exactly_not_through_a_float(gql, db, factory) -> None:
    # Read as a float first, 0.99999999999999999999 was a price of 1.00.
    product = await factory.product("MUG", price="5.00")
    token = await factory.token(*P)
    before = await snapshot(db)
    body = await gql(
        f'mutation {{ productUpdate(id: "{product.id}", input: {{price: 0.99999999999999999999}})'
        " { errors { field code } } }",
        token=token,
    )
    assert body["data"]["productUpdate"]["errors"] == [
        {"field": ["input", "price"], "code": "INVALID"}
    ]
    assert await snapshot(db) == before
    exact = await gql(
        f'mutation {{ productUpdate(id: "{product.id}", input: {{price: 12.5}})'
        " { errors { code } product { price } } }",
        token=token,
    )
    assert exact["data"]["productUpdate"] == {"errors": [], "product": {"price": "12.50"}}


# -- text longer than its column: INVALID on the field, not PostgreSQL's error ---------------

LONG = "x" * 300
LONG_TEXT_INPUTS = {
    "storeCreate(code)": f'mutation {{ r: storeCreate(input: {{code: "{LONG}", name: "Branch"}})'
    " { errors { field code } } }",
    "storeCreate(name)": f'mutation {{ r: storeCreate(input: {{code: "BR", name: "{LONG}"}})'
    " { errors { field code } } }",
    "roleCreate(name)": f'mutation {{ r: roleCreate(input: {{name: "{LONG}", permissions: []}})'
    " { errors { field code } } }",
    "roleUpdate(name)": f'mutation {{ r: roleUpdate(id: "{{role}}", input: {{name: "{LONG}",'
    " permissions: []}) { errors { field code } } }",
    "staffUserCreate(username)": f'mutation {{ r: staffUserCreate(input: {{username: "{LONG}",'
    ' password: "long-enough", roleId: "{role}"}) { errors { field code } } }',
    "tillCreate(name)": f'mutation {{ r: tillCreate(input: {{name: "{LONG}", roleId: "{{role}}"}})'
    " { errors { field code } } }",
}


@pytest.mark.parametrize("text_input", LONG_TEXT_INPUTS)
async def test_text_longer_than_its_column_is_invalid_and_changes_nothing(
    gql, db, world, text_input: str
) -> None:
    # SQLite stores any length; PostgreSQL refused the insert: INTERNAL (fuzz seed 4).
    before = await snapshot(db)
    body = await gql(fill(LONG_TEXT_INPUTS[text_input], world.ids), token=world.token)
    assert "errors" not in body, body
    field = text_input[text_input.index("(") + 1 : -1]
    assert body["data"]["r"]["errors"] == [{"field": ["input", field], "code": "INVALID"}]
    assert await snapshot(db) == before
