"""Customers over GraphQL: create, search, update with versions, status, delete, consent, audit."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission as P

CREATE = """
mutation($input: CustomerCreateInput!) {
  customerCreate(input: $input) {
    customer { id name phone email customerCode version status }
    errors { field code message }
  }
}"""
UPDATE = """
mutation($id: ID!, $input: CustomerUpdateInput!) {
  customerUpdate(id: $id, input: $input) {
    customer { id name phone email version }
    errors { field code }
  }
}"""
SEARCH = """
query($q: String, $first: Int, $after: String, $filter: CustomerFilter) {
  customers(search: $q, first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name } }
  }
}"""
CONSENT = """
mutation($id: ID!, $channel: MarketingChannel!, $on: Boolean!) {
  marketingConsentUpdate(customerId: $id, channel: $channel, subscribed: $on) {
    customer { marketingConsent { email { state source changedBy } sms { state } } }
    errors { field code }
  }
}"""
ALL = (
    P.CUSTOMER_VIEW,
    P.CUSTOMER_VIEW_PII,
    P.CUSTOMER_ADD,
    P.CUSTOMER_MODIFY,
    P.CUSTOMER_DELETE,
    P.AUDIT_VIEW,
)


@pytest.fixture
async def token(factory) -> str:  # type: ignore[no-untyped-def]
    return await factory.token(*ALL)


async def create(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": fields}, token=token)
    return body["data"]["customerCreate"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(e["code"], tuple(e["field"]) if e["field"] else None) for e in payload["errors"]]


async def count(raw_sql: Any, table: str) -> int:
    return int((await raw_sql(f"SELECT count(*) FROM {table}"))[0][0])  # noqa: S608


async def test_create_normalises_phone_and_email(gql, token) -> None:
    made = await create(
        gql, token, name="  Ada   Lovelace ", phone="(212) 555-0100", email="Ada@Example.COM"
    )
    assert made["errors"] == []
    customer = made["customer"]
    assert customer["name"] == "Ada Lovelace"
    assert customer["phone"] == "+12125550100"
    assert customer["email"] == "Ada@example.com"  # the domain is case-insensitive
    assert customer["version"] == 1
    assert customer["status"] == "ACTIVE"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": " ", "phone": "2125550100"}, [("REQUIRED", ("input", "name"))]),
        ({"name": "A", "phone": ""}, [("REQUIRED", ("input", "phone"))]),
        ({"name": "A", "phone": "12"}, [("PHONE_INVALID", ("input", "phone"))]),
        (
            {"name": "A", "phone": "2125550100", "email": "nope"},
            [("EMAIL_INVALID", ("input", "email"))],
        ),
        ({"name": "A" * 201, "phone": "2125550100"}, [("INVALID", ("input", "name"))]),
        (
            {"name": "", "phone": "x", "email": "@"},
            [
                ("REQUIRED", ("input", "name")),
                ("PHONE_INVALID", ("input", "phone")),
                ("EMAIL_INVALID", ("input", "email")),
            ],
        ),
    ],
)
async def test_create_refuses_bad_input_and_saves_nothing(gql, token, raw_sql, fields, expected):
    tables = ("customers", "audit_entries", "outbox", "notifications", "idempotency_keys")
    before = [await count(raw_sql, t) for t in tables]
    made = await create(gql, token, **fields)
    assert made["customer"] is None
    assert codes(made) == expected
    assert [await count(raw_sql, t) for t in tables] == before


async def test_duplicate_phone_in_another_format_and_duplicate_code(gql, token, raw_sql) -> None:
    first = await create(gql, token, name="A", phone="+1 212 555 0100", customerCode="C1")
    assert first["errors"] == []
    again = await create(gql, token, name="B", phone="212.555.0100", customerCode="C1")
    assert codes(again) == [
        ("PHONE_TAKEN", ("input", "phone")),
        ("CUSTOMER_CODE_TAKEN", ("input", "customerCode")),
    ]
    assert await count(raw_sql, "customers") == 1


async def test_idempotency_key_returns_the_first_result(gql, token, raw_sql) -> None:
    fields = {"name": "Ada", "phone": "2125550100", "idempotencyKey": "till-1-0001"}
    first = await create(gql, token, **fields)
    retry = await create(gql, token, **fields)
    assert retry["errors"] == []
    assert retry["customer"]["id"] == first["customer"]["id"]
    assert await count(raw_sql, "customers") == 1
    assert await count(raw_sql, "notifications") == 1
    other = await create(gql, token, name="Bob", phone="2125550199", idempotencyKey="till-1-0001")
    assert codes(other) == [("IDEMPOTENCY_KEY_REUSED", ("input", "idempotencyKey"))]
    assert await count(raw_sql, "customers") == 1


@pytest.mark.parametrize(
    "term",
    [
        "+1 212 555 0100",
        "2125550100",
        "(212) 555-0100",
        "212-555-0100",
        "212555",
        "+1212",
        "12125550",
    ],
)
async def test_search_by_phone_in_any_format_and_prefix(gql, token, term) -> None:
    await create(gql, token, name="Ada Lovelace", phone="2125550100")
    await create(gql, token, name="Other", phone="+44 20 7946 0958")
    found = (await gql(SEARCH, {"q": term}, token=token))["data"]["customers"]
    assert [e["node"]["name"] for e in found["edges"]] == ["Ada Lovelace"]
    assert found["totalCount"] == 1


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ada", ["Ada Lovelace"]),
        ("ADA LOVE", ["Ada Lovelace"]),
        ("love", ["Ada Lovelace"]),
        ("jose", ["José Álvarez"]),
        ("ALVAREZ", ["José Álvarez"]),
        ("K-77", ["Grace Hopper"]),
        ("GRACE@navy.MIL", ["Grace Hopper"]),
        ("nobody", []),
    ],
)
async def test_search_by_name_code_and_email(gql, token, term, expected) -> None:
    await create(gql, token, name="Ada Lovelace", phone="2125550100")
    await create(gql, token, name="José Álvarez", phone="2125550101")
    await create(
        gql,
        token,
        name="Grace Hopper",
        phone="2125550102",
        customerCode="K-77",
        email="grace@navy.mil",
    )
    found = (await gql(SEARCH, {"q": term}, token=token))["data"]["customers"]
    assert [e["node"]["name"] for e in found["edges"]] == expected


async def test_name_search_follows_a_rename(gql, token) -> None:
    made = (await create(gql, token, name="Ada Lovelace", phone="2125550100"))["customer"]
    await gql(
        UPDATE, {"id": made["id"], "input": {"expectedVersion": 1, "name": "Ada King"}}, token=token
    )
    assert (await gql(SEARCH, {"q": "love"}, token=token))["data"]["customers"]["totalCount"] == 0
    assert (await gql(SEARCH, {"q": "king"}, token=token))["data"]["customers"]["totalCount"] == 1


async def test_pages_walk_every_customer_once_in_name_order(gql, token, factory) -> None:
    names = [f"Customer {n:02d}" for n in range(25)]
    for n, name in enumerate(names):
        await factory.customer(name=name, phone=f"+1212555{n:04d}")
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(SEARCH, {"first": 10, "after": after}, token=token))["data"]["customers"]
        assert page["totalCount"] == 25
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(names)


async def test_a_bad_cursor_is_a_clear_error(gql, token) -> None:
    body = await gql(SEARCH, {"after": "not-a-cursor"}, token=token)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "malformed cursor"


async def test_filter_by_status(gql, token, factory) -> None:
    keep = await factory.customer(name="Active One")
    gone = await factory.customer(name="Inactive One")
    set_status = (
        "mutation($id: ID!) { customerSetStatus(id: $id, status: INACTIVE) { errors { code } } }"
    )
    assert (await gql(set_status, {"id": str(gone.id)}, token=token))["data"]["customerSetStatus"][
        "errors"
    ] == []
    found = await gql(SEARCH, {"filter": {"status": "INACTIVE"}}, token=token)
    assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [str(gone.id)]
    found = await gql(SEARCH, {"filter": {"status": "ACTIVE"}}, token=token)
    assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [str(keep.id)]


async def test_update_checks_the_version(gql, token, raw_sql) -> None:
    made = (await create(gql, token, name="Ada", phone="2125550100", email="a@example.com"))[
        "customer"
    ]
    ok = await gql(
        UPDATE,
        {"id": made["id"], "input": {"expectedVersion": 1, "name": "Ada L.", "email": None}},
        token=token,
    )
    payload = ok["data"]["customerUpdate"]
    assert payload["errors"] == []
    assert payload["customer"]["version"] == 2
    assert payload["customer"]["email"] is None
    stale = await gql(
        UPDATE, {"id": made["id"], "input": {"expectedVersion": 1, "name": "X"}}, token=token
    )
    assert codes(stale["data"]["customerUpdate"]) == [
        ("VERSION_CONFLICT", ("input", "expectedVersion"))
    ]
    assert await raw_sql("SELECT name, version FROM customers") == [("Ada L.", 2)]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": None}, [("REQUIRED", ("input", "name"))]),
        ({"phone": None}, [("REQUIRED", ("input", "phone"))]),
        ({"phone": "212 555 0199"}, [("PHONE_TAKEN", ("input", "phone"))]),
        ({"email": "bad@"}, [("EMAIL_INVALID", ("input", "email"))]),
    ],
)
async def test_update_refuses_bad_input(gql, token, raw_sql, change, expected) -> None:
    await create(gql, token, name="Other", phone="2125550199")
    made = (await create(gql, token, name="Ada", phone="2125550100"))["customer"]
    body = await gql(
        UPDATE, {"id": made["id"], "input": {"expectedVersion": 1, **change}}, token=token
    )
    assert codes(body["data"]["customerUpdate"]) == expected
    assert await raw_sql("SELECT version FROM customers WHERE name = 'Ada'") == [(1,)]


async def test_unknown_and_malformed_ids(gql, token) -> None:
    for bad in ("00000000-0000-4000-8000-00000000dead", "nope"):
        assert (
            await gql("query($id: ID!) { customer(id: $id) { id } }", {"id": bad}, token=token)
        )["data"]["customer"] is None
        body = await gql(UPDATE, {"id": bad, "input": {"expectedVersion": 1}}, token=token)
        assert codes(body["data"]["customerUpdate"]) == [("NOT_FOUND", ("id",))]


async def test_delete_only_without_sales(gql, token, factory, raw_sql) -> None:
    delete = "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code } } }"
    buyer = await factory.customer(name="Buyer")
    await factory.sale(buyer.id)
    refused = (await gql(delete, {"id": str(buyer.id)}, token=token))["data"]["customerDelete"]
    assert refused == {"deletedId": None, "errors": [{"code": "CUSTOMER_HAS_TRANSACTIONS"}]}
    browser = await factory.customer(name="Browser")
    done = (await gql(delete, {"id": str(browser.id)}, token=token))["data"]["customerDelete"]
    assert done == {"deletedId": str(browser.id), "errors": []}
    assert [r[0] for r in await raw_sql("SELECT name FROM customers")] == ["Buyer"]


async def test_consent_needs_the_channel_and_keeps_its_history(gql, token, factory) -> None:
    no_email = await factory.customer(name="No Email")
    refused = await gql(
        CONSENT, {"id": str(no_email.id), "channel": "EMAIL", "on": True}, token=token
    )
    assert codes(refused["data"]["marketingConsentUpdate"]) == [
        ("CONSENT_CHANNEL_MISSING", ("channel",))
    ]

    made = (await create(gql, token, name="Ada", phone="2125550100", email="a@example.com"))[
        "customer"
    ]
    body = await gql(CONSENT, {"id": made["id"], "channel": "EMAIL", "on": True}, token=token)
    consent = body["data"]["marketingConsentUpdate"]["customer"]["marketingConsent"]
    assert consent["email"]["state"] == "SUBSCRIBED"
    assert consent["email"]["source"] == "BACK_OFFICE"
    assert consent["sms"]["state"] == "NOT_SUBSCRIBED"  # off by default

    # Removing the email unsubscribes its channel.
    await gql(
        UPDATE, {"id": made["id"], "input": {"expectedVersion": 1, "email": None}}, token=token
    )
    trail = await gql(
        """query($id: ID!) { customer(id: $id) {
            marketingConsent { email { state } }
            auditTrail(first: 10) {
              totalCount edges { node { action actor before after } } } } }""",
        {"id": made["id"]},
        token=token,
    )
    customer = trail["data"]["customer"]
    assert customer["marketingConsent"]["email"]["state"] == "UNSUBSCRIBED"
    actions = [e["node"]["action"] for e in customer["auditTrail"]["edges"]]
    assert actions == ["consent", "update", "consent", "create"]  # newest first
    update = customer["auditTrail"]["edges"][1]["node"]
    assert update["before"] == {"email": "a@example.com"}
    assert update["after"] == {"email": None}


async def test_customer_list_screen_takes_a_constant_number_of_statements(
    gql, token, factory, count_statements
) -> None:
    screen = """{ customers(first: 20) { totalCount edges { node {
        id name phone status marketingConsent { email { state } sms { state } }
        auditTrail(first: 3) { totalCount edges { node { action } } } } } } }"""
    counts = []
    for target in (5, 20):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < target:
            await factory.customer()
        with count_statements() as counter:
            body = await gql(screen, token=token)
        assert len(body["data"]["customers"]["edges"]) == target
        counts.append(counter.count)
    assert counts[0] == counts[1]
    assert counts[1] <= 6  # token, count, page, consents, audit totals, audit pages


async def test_two_tills_creating_the_same_phone_at_once(gql, token, raw_sql) -> None:
    import asyncio

    for attempt in range(5):
        phone = f"21255501{attempt:02d}"
        results = await asyncio.gather(
            *(create(gql, token, name=f"Twin {n}", phone=phone) for n in range(4))
        )
        created = [r for r in results if r["customer"]]
        refused = [codes(r) for r in results if not r["customer"]]
        assert len(created) == 1
        assert refused == [[("PHONE_TAKEN", ("input", "phone"))]] * 3
    assert await count(raw_sql, "customers") == 5


async def test_a_retry_racing_the_first_call_gets_the_same_customer(gql, token, raw_sql) -> None:
    import asyncio

    fields = {"name": "Ada", "phone": "2125550100", "idempotencyKey": "till-9-42"}
    results = await asyncio.gather(*(create(gql, token, **fields) for _ in range(4)))
    assert all(r["errors"] == [] for r in results)
    assert len({r["customer"]["id"] for r in results}) == 1
    assert await count(raw_sql, "customers") == 1


HISTORY = """query($id: ID!) { customer(id: $id) { marketingConsent {
  history { channel previousState state source changedBy } } } }"""


async def test_every_consent_change_is_kept_in_the_history(gql, token, factory) -> None:
    made = await create(gql, token, name="Ann", phone="+12125550100", email="ann@example.com")
    customer_id = made["customer"]["id"]
    till = await factory.till((await factory.store()).id, P.CUSTOMER_MODIFY, P.CUSTOMER_VIEW)
    await gql(CONSENT, {"id": customer_id, "channel": "EMAIL", "on": True}, token=till)
    await gql(CONSENT, {"id": customer_id, "channel": "SMS", "on": True}, token=token)
    await gql(CONSENT, {"id": customer_id, "channel": "EMAIL", "on": False}, token=token)
    await gql(CONSENT, {"id": customer_id, "channel": "EMAIL", "on": False}, token=token)
    # Removing the email unsubscribes nothing more: email is already off.
    await gql(
        UPDATE, {"id": customer_id, "input": {"expectedVersion": 1, "email": None}}, token=token
    )
    body = await gql(HISTORY, {"id": customer_id}, token=token)
    history = body["data"]["customer"]["marketingConsent"]["history"]
    assert [(h["channel"], h["previousState"], h["state"], h["source"]) for h in history] == [
        ("EMAIL", "SUBSCRIBED", "UNSUBSCRIBED", "BACK_OFFICE"),
        ("SMS", "NOT_SUBSCRIBED", "SUBSCRIBED", "BACK_OFFICE"),
        ("EMAIL", "NOT_SUBSCRIBED", "SUBSCRIBED", "POS"),
    ]
    # The till and the back-office user are told apart.
    assert history[-1]["changedBy"] != history[0]["changedBy"]


REGISTER = """
mutation($input: CustomerCreateInput!) {
  customerCreate(input: $input) {
    customer { marketingConsent { email { state source } sms { state source } } }
    errors { field code }
  }
}"""


async def test_registration_can_subscribe_marketing_at_once(gql, token, factory, raw_sql) -> None:
    till = await factory.till((await factory.store()).id, P.CUSTOMER_ADD, P.CUSTOMER_VIEW)
    body = await gql(
        REGISTER,
        {"input": {"name": "Ann", "phone": "+12125550100", "smsMarketing": True}},
        token=till,
    )
    consent = body["data"]["customerCreate"]["customer"]["marketingConsent"]
    assert consent == {
        "email": {"state": "NOT_SUBSCRIBED", "source": None},
        "sms": {"state": "SUBSCRIBED", "source": "POS"},
    }
    # Seed 003: no email, no email subscription; and then nothing is created.
    body = await gql(
        REGISTER,
        {"input": {"name": "Bo", "phone": "+12125550101", "emailMarketing": True}},
        token=till,
    )
    assert body["data"]["customerCreate"]["errors"] == [
        {"field": ["input", "emailMarketing"], "code": "CONSENT_CHANNEL_MISSING"}
    ]
    assert await count(raw_sql, "customers") == 1


PLACES = """query($id: ID!) { customer(id: $id) { marketingConsent {
  email { state storeId tillId } sms { state storeId tillId }
  history { channel state storeId tillId } } } }"""


async def test_a_consent_change_records_the_store_and_till_where_it_was_made(
    gql, token, factory
) -> None:
    """Seed 003: where a customer agreed (or withdrew) is kept next to who and how."""
    made = await create(gql, token, name="Ann", phone="+12125550100", email="ann@example.com")
    customer_id = made["customer"]["id"]
    shop, branch = await factory.store(), await factory.store()
    till = await factory.till(shop.id, P.CUSTOMER_MODIFY, P.CUSTOMER_VIEW)
    till_id = (await gql("{ viewer { tillId } }", token=till))["data"]["viewer"]["tillId"]
    clerk = await factory.token(P.CUSTOMER_MODIFY, P.CUSTOMER_VIEW, store_id=branch.id)
    await gql(CONSENT, {"id": customer_id, "channel": "EMAIL", "on": True}, token=till)
    await gql(CONSENT, {"id": customer_id, "channel": "SMS", "on": True}, token=clerk)

    body = await gql(PLACES, {"id": customer_id}, token=token)
    consent = body["data"]["customer"]["marketingConsent"]
    assert consent["email"] == {"state": "SUBSCRIBED", "storeId": str(shop.id), "tillId": till_id}
    assert consent["sms"] == {"state": "SUBSCRIBED", "storeId": str(branch.id), "tillId": None}
    assert consent["history"] == [
        {"channel": "SMS", "state": "SUBSCRIBED", "storeId": str(branch.id), "tillId": None},
        {"channel": "EMAIL", "state": "SUBSCRIBED", "storeId": str(shop.id), "tillId": till_id},
    ]


async def test_a_list_counts_its_customers_only_when_asked(
    gql, token, factory, count_statements
) -> None:
    """Issue 12: a count over every match (the whole table for a list without a search)
    runs only when the query selects totalCount, itself or in a fragment."""
    for n in range(3):
        await factory.customer(name=f"Counted {n}")
    queries = {
        "plain": "{ customers(first: 2) { edges { node { id } } } }",
        "counted": "{ customers(first: 2) { totalCount edges { node { id } } } }",
        "fragment": "{ customers(first: 2) { ...n } } "
        "fragment n on CustomerConnection { totalCount edges { node { id } } }",
    }
    counts = {}
    for label, query in queries.items():
        with count_statements() as counter:
            body = await gql(query, token=token)
        assert len(body["data"]["customers"]["edges"]) == 2
        counts[label] = sum("count(" in s.lower() for s in counter.statements)
        if label != "plain":
            assert body["data"]["customers"]["totalCount"] == 3
    assert counts == {"plain": 0, "counted": 1, "fragment": 1}


async def test_a_list_answers_groups_and_cards_from_its_page_load(gql, token, factory) -> None:
    """Issue 12: a list loads its page's groups and cards at once and its nodes answer them
    as plain attributes; through fragments too, and the same as one customer's query."""
    carded = await factory.customer(name="Aa Carded")
    await factory.loyalty_card(carded.id, "LIST-1", percent="5")
    grouped = await factory.customer(name="Ab Grouped")
    group = await factory.group("Regulars", "10")
    await factory.add_to_group(group.id, grouped.id)
    await factory.customer(name="Ac Neither")
    fields = "name groups { name } loyaltyCard { cardNumber discountPercent }"
    listed = await gql(
        "{ customers(first: 3) { edges { ... on CustomerEdge { node { ...c } } } } } "
        f"fragment c on Customer {{ {fields} }}",
        token=token,
    )
    nodes = [e["node"] for e in listed["data"]["customers"]["edges"]]
    assert nodes == [
        {"name": "Aa Carded", "groups": [],
         "loyaltyCard": {"cardNumber": "LIST-1", "discountPercent": "5.00"}},
        {"name": "Ab Grouped", "groups": [{"name": "Regulars"}], "loyaltyCard": None},
        {"name": "Ac Neither", "groups": [], "loyaltyCard": None},
    ]  # fmt: skip
    for customer, node in zip((carded, grouped), nodes, strict=False):
        one = await gql(
            f"query($id: ID!) {{ customer(id: $id) {{ {fields} }} }}",
            {"id": str(customer.id)},
            token=token,
        )
        assert one["data"]["customer"] == node
