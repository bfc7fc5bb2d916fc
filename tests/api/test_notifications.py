"""What was sent to customers and how it went (issue 10 §6), through GraphQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.db.repositories.paging import encode_cursor
from app.domain.permissions import Permission as P

NODE = """id customerId channel scenario status attempts lastError createdAt sentAt destination
  attemptHistory { number gateway outcome error startedAt finishedAt }"""
LIST = f"""query($filter: NotificationFilter, $first: Int!, $after: String) {{
  notifications(filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {NODE} }} }}
  }}
}}"""
OF_CUSTOMER = f"""query($id: ID!, $first: Int!, $after: String) {{
  customer(id: $id) {{ id notifications(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {NODE} }} }}
  }} }}
}}"""
MANAGER = (P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII, P.AUDIT_VIEW)


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in connection["edges"]]


async def test_a_customer_s_notifications_newest_first_with_their_attempts(
    gql: Any, factory: Any
) -> None:
    customer = await factory.customer(email="ada@example.com", phone="+12125550100")
    failed = await factory.notification(
        customer.id,
        "SMS",
        attempts=(("TRANSIENT", "HTTP 503"), ("PERMANENT", "HTTP 400: bad number")),
        status="FAILED",
    )
    sent = await factory.notification(customer.id, attempts=(("SENT", None),), status="SENT")
    token = await factory.token(*MANAGER)

    body = await gql(OF_CUSTOMER, {"id": str(customer.id), "first": 10}, token=token)
    connection = body["data"]["customer"]["notifications"]
    assert connection["totalCount"] == 3  # the registration message, queued at create
    newest, older, registration = nodes(connection)
    assert (newest["id"], older["id"]) == (str(sent), str(failed))
    assert newest["status"] == "SENT"
    assert newest["sentAt"] is not None
    assert newest["lastError"] is None
    assert [a["outcome"] for a in newest["attemptHistory"]] == ["SENT"]
    assert older["status"] == "FAILED"
    assert older["attempts"] == 2
    assert older["lastError"] == "HTTP 400: bad number"
    assert [(a["number"], a["outcome"], a["error"]) for a in older["attemptHistory"]] == [
        (1, "TRANSIENT", "HTTP 503"),
        (2, "PERMANENT", "HTTP 400: bad number"),
    ]
    assert older["attemptHistory"][0]["gateway"] == "test"
    assert registration["status"] == "QUEUED"
    assert registration["attemptHistory"] == []
    assert registration["scenario"] == "REGISTRATION"
    assert registration["customerId"] == str(customer.id)
    # Masked for every role, even one that sees the full address on the customer.
    assert (newest["channel"], newest["destination"]) == ("EMAIL", "a•••@example.com")
    assert (older["channel"], older["destination"]) == ("SMS", "+1••••••0100")


async def test_an_error_holding_an_address_is_shown_without_it(gql: Any, factory: Any) -> None:
    customer = await factory.customer(email="ada@example.com")
    # As a gateway that forgot to clean its answer would have recorded it.
    await factory.notification(
        customer.id,
        attempts=(("PERMANENT", "550 <ada@example.com>: no such user, call +12125550100"),),
        status="FAILED",
    )
    token = await factory.token(*MANAGER)
    body = await gql(LIST, {"filter": {"status": "FAILED"}, "first": 5}, token=token)
    [node] = nodes(body["data"]["notifications"])
    assert node["lastError"] == "550 <[recipient]>: no such user, call [number]"
    assert "ada@" not in node["attemptHistory"][0]["error"]


async def test_the_list_filters_and_pages_without_gaps_or_repeats(gql: Any, factory: Any) -> None:
    first = await factory.customer(email="one@example.com")
    second = await factory.customer()  # no email: its registration goes by SMS
    for _ in range(3):
        await factory.notification(first.id, attempts=(("SENT", None),), status="SENT")
    await factory.notification(second.id, "SMS", status="SKIPPED")
    token = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)

    seen: list[str] = []
    after = None
    while True:
        body = await gql(LIST, {"first": 2, "after": after}, token=token)
        connection = body["data"]["notifications"]
        assert connection["totalCount"] == 6
        seen += [n["id"] for n in nodes(connection)]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 6
    everything = nodes((await gql(LIST, {"first": 10}, token=token))["data"]["notifications"])
    assert [n["id"] for n in everything] == seen
    times = [n["createdAt"] for n in everything]
    assert times == sorted(times, reverse=True)

    async def ids(filter: dict[str, Any]) -> list[str]:
        body = await gql(LIST, {"filter": filter, "first": 10}, token=token)
        return [n["id"] for n in nodes(body["data"]["notifications"])]

    assert len(await ids({"status": "SENT"})) == 3
    assert len(await ids({"channel": "SMS"})) == 2
    assert len(await ids({"customerId": str(second.id)})) == 2
    assert len(await ids({"customerId": str(first.id), "status": "QUEUED"})) == 1
    assert len(await ids({"scenario": "REGISTRATION", "channel": "EMAIL"})) == 4
    assert await ids({"customerId": "not-an-id"}) == []
    assert await ids({"customerId": str(uuid.uuid4())}) == []
    # A customer's own page pages the same way.
    body = await gql(OF_CUSTOMER, {"id": str(first.id), "first": 3}, token=token)
    page = body["data"]["customer"]["notifications"]
    assert page["pageInfo"]["hasNextPage"] is True
    body = await gql(
        OF_CUSTOMER,
        {"id": str(first.id), "first": 3, "after": page["pageInfo"]["endCursor"]},
        token=token,
    )
    rest = body["data"]["customer"]["notifications"]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert len({n["id"] for n in nodes(page) + nodes(rest)}) == 4


async def test_a_bad_filter_value_is_refused_by_the_schema(gql: Any, factory: Any) -> None:
    token = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)
    body = await gql(LIST, {"filter": {"status": "LOST"}, "first": 5}, token=token)
    assert body["data"] is None
    assert "NotificationStatus" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        encode_cursor("2026-01-01T00:00:00", str(uuid.uuid4())),  # no offset
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor(7),
    ],
)
async def test_a_malformed_cursor_is_a_clear_error(gql: Any, factory: Any, cursor: str) -> None:
    customer = await factory.customer()
    token = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)
    body = await gql(LIST, {"first": 5, "after": cursor}, token=token)
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["malformed cursor"]
    body = await gql(
        OF_CUSTOMER, {"id": str(customer.id), "first": 5, "after": cursor}, token=token
    )
    assert [e["message"] for e in body["errors"]] == ["malformed cursor"]


async def test_without_audit_view_the_history_is_refused(gql: Any, factory: Any) -> None:
    customer = await factory.customer(email="ada@example.com")
    cashier = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII, P.CUSTOMER_MODIFY)
    body = await gql(LIST, {"first": 5}, token=cashier)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    auditor = await factory.token(P.AUDIT_VIEW)  # a customer's history needs CUSTOMER_VIEW too
    body = await gql(LIST, {"first": 5}, token=auditor)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    # The customer still answers; only the history is null.
    body = await gql(OF_CUSTOMER, {"id": str(customer.id), "first": 5}, token=cashier)
    assert body["data"]["customer"] == {"id": str(customer.id), "notifications": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_customers_with_notifications_take_a_constant_number_of_statements(
    gql: Any, factory: Any, count_statements: Any
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)
    screen = """{ customers(first: 20) { edges { node { id notifications(first: 3) {
        totalCount edges { node { id destination attemptHistory { outcome } } } } } } } }"""
    counts = []
    for target in (3, 12):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < target:
            customer = await factory.customer(email=f"c{uuid.uuid4().hex[:8]}@example.com")
            await factory.notification(customer.id, attempts=(("SENT", None),), status="SENT")
        with count_statements() as counter:
            body = await gql(screen, token=token)
        edges = body["data"]["customers"]["edges"]
        assert len(edges) == target
        assert all(e["node"]["notifications"]["totalCount"] == 2 for e in edges)
        counts.append(counter.count)
    assert counts[0] == counts[1]
    # token, customer count, customer page, notification totals, pages, attempts
    assert counts[1] <= 6
