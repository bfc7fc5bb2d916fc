"""Discount codes (seed 002): create, update, assign to a customer until an expiry, remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.services.customer_merge import CustomerMergeService
from app.services.discounts import DiscountCodeChange

CREATE = """mutation($input: DiscountCodeInput!) { discountCodeCreate(input: $input) {
  discountCode { id code percent description active } errors { field code } } }"""
UPDATE = """mutation($id: ID!, $input: DiscountCodeUpdateInput!) {
  discountCodeUpdate(id: $id, input: $input) {
  discountCode { id code percent description active } errors { field code } } }"""
ASSIGN = """mutation($c: ID!, $code: String!, $exp: DateTime) {
  customerDiscountAssign(customerId: $c, code: $code, expiresAt: $exp) {
  customer { id discount { code percent description expiresAt assignedBy assignedAt } }
  errors { field code } } }"""
REMOVE = """mutation($c: ID!) { customerDiscountRemove(customerId: $c) {
  customer { id discount { code } } errors { field code } } }"""
DISCOUNT = """query($id: ID!) { customer(id: $id) {
  discount { code percent description expiresAt assignedBy } } }"""
TRAIL = """query($id: ID!) { customer(id: $id) {
  auditTrail { edges { node { action actor before after } } } } }"""
CODES = """query($first: Int, $after: String, $active: Boolean) {
  discountCodes(first: $first, after: $after, active: $active) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { code active } } } }"""


def future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.fixture
async def manager(factory) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A discount manager who can also see customers and their audit trail."""
    return await factory.staff(P.DISCOUNT_MANAGE, P.CUSTOMER_VIEW, P.AUDIT_VIEW)


@pytest.fixture
def token(manager: tuple[str, str]) -> str:
    return manager[1]


async def make_code(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": {"percent": "10", **fields}}, token=token)
    return body["data"]["discountCodeCreate"]  # type: ignore[no-any-return]


async def assign(gql: Any, token: str, customer_id: Any, code: str, exp: str | None = None) -> Any:
    body = await gql(ASSIGN, {"c": str(customer_id), "code": code, "exp": exp}, token=token)
    assert "errors" not in body, body
    return body["data"]["customerDiscountAssign"]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def trail(gql: Any, token: str, customer_id: Any) -> list[dict[str, Any]]:
    body = await gql(TRAIL, {"id": str(customer_id)}, token=token)
    return [e["node"] for e in body["data"]["customer"]["auditTrail"]["edges"]]


# --- codes -----------------------------------------------------------------------------------


async def test_create_trims_keeps_two_decimals_and_is_active_by_default(gql, token) -> None:
    made = await make_code(gql, token, code="  VIP-10_a ", percent="7.5", description=" Staff ")
    assert made["errors"] == []
    assert made["discountCode"] == {
        "id": made["discountCode"]["id"],
        "code": "VIP-10_a",
        "percent": "7.50",
        "description": "Staff",
        "active": True,
    }
    edge = await make_code(gql, token, code="X" * 32, percent="100", active=False)
    assert edge["errors"] == []
    assert edge["discountCode"]["active"] is False
    assert edge["discountCode"]["percent"] == "100.00"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"code": "   "}, [("REQUIRED", ["input", "code"])]),
        ({"code": "X" * 33}, [("INVALID", ["input", "code"])]),
        ({"code": "VIP 10"}, [("INVALID", ["input", "code"])]),
        ({"code": "VIP10%"}, [("INVALID", ["input", "code"])]),
        ({"code": "Ä10"}, [("INVALID", ["input", "code"])]),
        ({"code": "A", "percent": "0"}, [("INVALID", ["input", "percent"])]),
        ({"code": "A", "percent": "-5"}, [("INVALID", ["input", "percent"])]),
        ({"code": "A", "percent": "100.01"}, [("INVALID", ["input", "percent"])]),
        ({"code": "A", "percent": "2.555"}, [("INVALID", ["input", "percent"])]),
        ({"code": "A", "description": "d" * 501}, [("INVALID", ["input", "description"])]),
        # Unique case-insensitively: a till typing "vip10" must not find two codes.
        ({"code": " vip10 "}, [("DISCOUNT_CODE_TAKEN", ["input", "code"])]),
    ],
)
async def test_create_refuses_bad_input(gql, token, raw_sql, fields, expected) -> None:
    assert (await make_code(gql, token, code="VIP10"))["errors"] == []
    made = await make_code(gql, token, **fields)
    assert made["discountCode"] is None
    assert codes(made) == expected
    assert await raw_sql("SELECT count(*) FROM discount_codes") == [(1,)]


async def test_update_reprices_redescribes_deactivates_and_is_audited(gql, token, raw_sql) -> None:
    code = (await make_code(gql, token, code="SUMMER", percent="5", description="Old"))[
        "discountCode"
    ]
    body = await gql(
        UPDATE, {"id": code["id"], "input": {"percent": "12.5", "active": False}}, token=token
    )
    assert body["data"]["discountCodeUpdate"] == {
        "discountCode": {
            "id": code["id"],
            "code": "SUMMER",
            "percent": "12.50",
            "description": "Old",
            "active": False,
        },
        "errors": [],
    }
    cleared = await gql(UPDATE, {"id": code["id"], "input": {"description": None}}, token=token)
    assert cleared["data"]["discountCodeUpdate"]["discountCode"]["description"] is None

    refused = await gql(UPDATE, {"id": code["id"], "input": {"percent": "0"}}, token=token)
    assert codes(refused["data"]["discountCodeUpdate"]) == [("INVALID", ["input", "percent"])]
    unknown = await gql(UPDATE, {"id": "nope", "input": {"active": True}}, token=token)
    assert codes(unknown["data"]["discountCodeUpdate"]) == [("NOT_FOUND", ["id"])]

    rows = await raw_sql(
        "SELECT action, actor_label FROM audit_entries WHERE entity_type = 'discount_code' "
        "AND entity_id = :id ORDER BY id",
        id=code["id"],
    )
    assert [r[0] for r in rows] == ["create", "update", "update"]


async def test_the_code_itself_cannot_be_changed(gql, token) -> None:
    code = (await make_code(gql, token, code="FIXED"))["discountCode"]
    body = await gql(UPDATE, {"id": code["id"], "input": {"code": "OTHER"}}, token=token)
    assert body.get("data") is None
    assert "code" in body["errors"][0]["message"]


async def test_discount_codes_are_listed_paged_and_filtered(gql, token) -> None:
    for name in ("c", "A", "b"):
        await make_code(gql, token, code=name)
    await make_code(gql, token, code="Z-OFF", active=False)

    first = (await gql(CODES, {"first": 2}, token=token))["data"]["discountCodes"]
    assert first["totalCount"] == 4
    assert [e["node"]["code"] for e in first["edges"]] == ["A", "b"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await gql(CODES, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=token)
    assert [e["node"]["code"] for e in rest["data"]["discountCodes"]["edges"]] == ["c", "Z-OFF"]

    active = (await gql(CODES, {"active": True}, token=token))["data"]["discountCodes"]
    assert active["totalCount"] == 3
    assert all(e["node"]["active"] for e in active["edges"])
    inactive = (await gql(CODES, {"active": False}, token=token))["data"]["discountCodes"]
    assert [e["node"]["code"] for e in inactive["edges"]] == ["Z-OFF"]


# --- assignment ------------------------------------------------------------------------------


async def test_assign_shows_the_discount_with_who_and_when(gql, manager, factory) -> None:
    username, token = manager
    await make_code(gql, token, code="VIP10", percent="10", description="Regulars")
    customer = await factory.customer()
    expires = future()

    # The code is found whatever case the till types it in.
    done = await assign(gql, token, customer.id, "vip10", expires)
    assert done["errors"] == []
    shown = done["customer"]["discount"]
    assert {k: v for k, v in shown.items() if k not in ("assignedAt", "expiresAt")} == {
        "code": "VIP10",
        "percent": "10.00",
        "description": "Regulars",
        "assignedBy": username,
    }
    assert datetime.fromisoformat(shown["expiresAt"]) == datetime.fromisoformat(expires)
    assigned_at = datetime.fromisoformat(shown["assignedAt"])
    assert abs(assigned_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_without_expiry_the_discount_does_not_expire(gql, token, factory) -> None:
    await make_code(gql, token, code="FOREVER")
    customer = await factory.customer()
    done = await assign(gql, token, customer.id, "FOREVER")
    assert done["errors"] == []
    assert done["customer"]["discount"]["expiresAt"] is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NOSUCH", [("DISCOUNT_CODE_INVALID", ["code"])]),
        ("OFF", [("DISCOUNT_CODE_INVALID", ["code"])]),
    ],
)
async def test_only_active_known_codes_can_be_assigned(
    gql, token, factory, raw_sql, code, expected
) -> None:
    await make_code(gql, token, code="OFF", active=False)
    customer = await factory.customer()
    refused = await assign(gql, token, customer.id, code, future())
    assert refused["customer"] is None
    assert codes(refused) == expected
    assert await raw_sql("SELECT count(*) FROM customer_discounts") == [(0,)]


@pytest.mark.parametrize(
    "expires",
    [
        (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        # No offset: a till's local time read as UTC would move the expiry by hours.
        (datetime.now(UTC) + timedelta(days=3)).replace(tzinfo=None).isoformat(),
        # Past year 9999 once in UTC, and far beyond any sensible expiry.
        "9999-12-31T23:00:00-05:00",
        "2300-01-01T00:00:00+00:00",
    ],
)
async def test_an_expiry_in_the_past_or_without_offset_is_refused(
    gql, token, factory, raw_sql, expires
) -> None:
    await make_code(gql, token, code="VIP")
    customer = await factory.customer()
    refused = await assign(gql, token, customer.id, "VIP", expires)
    assert codes(refused) == [("INVALID", ["expiresAt"])]
    assert await raw_sql("SELECT count(*) FROM customer_discounts") == [(0,)]


async def test_unknown_or_merged_customers_are_refused(gql, token, factory) -> None:
    await make_code(gql, token, code="VIP")
    unknown = await assign(gql, token, "00000000-0000-4000-8000-000000000000", "VIP")
    assert codes(unknown) == [("NOT_FOUND", ["customerId"])]

    source, target = await factory.customer(), await factory.customer()
    merged = await CustomerMergeService(factory.runtime.tx, None).merge(source.id, target.id)
    assert merged.errors == []
    refused = await assign(gql, token, source.id, "VIP")
    assert codes(refused) == [("CUSTOMER_MERGED", ["customerId"])]


async def test_assigning_replaces_the_previous_code_and_is_audited(
    gql, manager, factory, raw_sql
) -> None:
    username, token = manager
    await make_code(gql, token, code="FIRST", percent="5")
    await make_code(gql, token, code="SECOND", percent="15")
    customer = await factory.customer()
    first_expiry = future(10)
    await assign(gql, token, customer.id, "FIRST", first_expiry)
    second = await assign(gql, token, customer.id, "SECOND")
    assert second["customer"]["discount"]["code"] == "SECOND"
    assert await raw_sql("SELECT count(*) FROM customer_discounts") == [(1,)]

    entries = await trail(gql, token, customer.id)
    assert [(e["action"], e["actor"]) for e in entries[:2]] == [
        ("discount_assign", username),
        ("discount_assign", username),
    ]
    newest, oldest = entries[0], entries[1]
    assert oldest["before"] is None
    assert oldest["after"]["discountCode"] == "FIRST"
    assert datetime.fromisoformat(oldest["after"]["expiresAt"]) == datetime.fromisoformat(
        first_expiry
    )
    assert newest["before"] == oldest["after"]
    assert newest["after"] == {"discountCode": "SECOND", "expiresAt": None}


async def test_remove_takes_the_code_away_and_is_audited(gql, manager, factory) -> None:
    username, token = manager
    await make_code(gql, token, code="VIP")
    customer = await factory.customer()
    await assign(gql, token, customer.id, "VIP")
    removed = await gql(REMOVE, {"c": str(customer.id)}, token=token)
    assert removed["data"]["customerDiscountRemove"] == {
        "customer": {"id": str(customer.id), "discount": None},
        "errors": [],
    }
    entries = await trail(gql, token, customer.id)
    assert (entries[0]["action"], entries[0]["actor"]) == ("discount_remove", username)
    assert entries[0]["before"] == {"discountCode": "VIP", "expiresAt": None}

    # Removing what is not there changes nothing and is not audited again.
    again = await gql(REMOVE, {"c": str(customer.id)}, token=token)
    assert again["data"]["customerDiscountRemove"]["errors"] == []
    assert len(await trail(gql, token, customer.id)) == len(entries)
    unknown = await gql(REMOVE, {"c": "nope"}, token=token)
    assert codes(unknown["data"]["customerDiscountRemove"]) == [("NOT_FOUND", ["customerId"])]


# --- what applies ----------------------------------------------------------------------------


async def test_an_expired_discount_shows_as_none_before_the_job_runs(gql, token, factory) -> None:
    await make_code(gql, token, code="OLD")
    customer = await factory.customer()
    await factory.assign_discount(customer.id, "OLD", datetime.now(UTC) - timedelta(seconds=1))
    body = await gql(DISCOUNT, {"id": str(customer.id)}, token=token)
    assert body["data"]["customer"]["discount"] is None


async def test_a_deactivated_code_stops_applying_and_comes_back(gql, token, factory) -> None:
    code = (await make_code(gql, token, code="PAUSE"))["discountCode"]
    customer = await factory.customer()
    await assign(gql, token, customer.id, "PAUSE", future())
    await gql(UPDATE, {"id": code["id"], "input": {"active": False}}, token=token)
    body = await gql(DISCOUNT, {"id": str(customer.id)}, token=token)
    assert body["data"]["customer"]["discount"] is None
    await gql(UPDATE, {"id": code["id"], "input": {"active": True}}, token=token)
    body = await gql(DISCOUNT, {"id": str(customer.id)}, token=token)
    assert body["data"]["customer"]["discount"]["code"] == "PAUSE"


async def test_discount_for_answers_what_a_sale_at_a_time_gets(factory) -> None:
    """The read issue 4's sales use: valid at the time of sale, not at the time of asking."""
    code = await factory.discount_code("SALE5", "5")
    customer = await factory.customer()
    expires = datetime(2031, 1, 1, tzinfo=UTC)
    await factory.assign_discount(customer.id, "SALE5", expires)
    service = factory.discounts()

    found = await service.discount_for(customer.id, expires - timedelta(seconds=1))
    assert found is not None
    assert (found.code, found.percent) == ("SALE5", Decimal("5.00"))
    assert await service.discount_for(customer.id, expires) is None
    assert await service.discount_for(customer.id, expires + timedelta(days=1)) is None
    assert await service.discount_for((await factory.customer()).id, expires) is None

    await service.update(code.id, DiscountCodeChange(active=False))
    assert await service.discount_for(customer.id, expires - timedelta(days=1)) is None


async def test_a_code_change_reaches_the_stores_holding_its_customers(gql, token, factory) -> None:
    """A till's local copy shows the discount; re-pricing a code must reach it."""
    feed = (
        "query($s: ID, $after: String) { customerChanges(storeId: $s, after: $after, first: 100) "
        "{ endCursor changes { customerId } } }"
    )
    stores = (await gql("{ stores { id isHeadOffice } }", token=token))["data"]["stores"]
    [head_office] = [s["id"] for s in stores if s["isHeadOffice"]]
    code = (await make_code(gql, token, code="FEED"))["discountCode"]
    holder, other = await factory.customer(), await factory.customer()
    await assign(gql, token, holder.id, "FEED")
    cursor = (await gql(feed, {"s": head_office}, token=token))["data"]["customerChanges"][
        "endCursor"
    ]

    await gql(UPDATE, {"id": code["id"], "input": {"percent": "20"}}, token=token)
    body = await gql(feed, {"s": head_office, "after": cursor}, token=token)
    changes = body["data"]["customerChanges"]
    assert [c["customerId"] for c in changes["changes"]] == [str(holder.id)]
    assert str(other.id) not in str(changes)


async def test_the_customer_list_loads_discounts_in_constant_statements(
    gql, token, factory, count_statements
) -> None:
    await make_code(gql, token, code="LIST", percent="3")
    screen = "{ customers(first: 50) { edges { node { name discount { code percent } } } } }"
    counts = []
    for size in (5, 20):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < size:
            customer = await factory.customer()
            await assign(gql, token, customer.id, "LIST", future())
        with count_statements() as counter:
            body = await gql(screen, token=token)
        edges = body["data"]["customers"]["edges"]
        assert len(edges) == size
        assert all(e["node"]["discount"] == {"code": "LIST", "percent": "3.00"} for e in edges)
        counts.append(counter.count)
    assert counts[0] == counts[1]
