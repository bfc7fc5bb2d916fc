"""Loyalty cards and points through GraphQL (seeds 001, 003): issue, replace, adjust, search."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from app.domain.permissions import Permission as P

CUSTOMER_FIELDS = """customer { id loyaltyPoints
  loyaltyCard { cardNumber discountPercent status issuedAt issuedBy } }
  errors { field code message }"""
ISSUE = f"""mutation($c: ID!, $input: LoyaltyCardInput!) {{
  loyaltyCardIssue(customerId: $c, input: $input) {{ {CUSTOMER_FIELDS} }} }}"""
REPLACE = f"""mutation($c: ID!, $input: LoyaltyCardReplaceInput!) {{
  loyaltyCardReplace(customerId: $c, input: $input) {{ {CUSTOMER_FIELDS} }} }}"""
ADJUST = f"""mutation($c: ID!, $input: LoyaltyPointsAdjustInput!) {{
  loyaltyPointsAdjust(customerId: $c, input: $input) {{ {CUSTOMER_FIELDS} }} }}"""
CUSTOMER = """query($id: ID!) { customer(id: $id) {
  loyaltyPoints loyaltyCard { cardNumber discountPercent status }
  pointsLedger(first: 50) { totalCount edges { node { kind points reason cardNumber actor } } }
  auditTrail(first: 50) { edges { node { action before after } } } } }"""
SEARCH = "query($s: String) { customers(search: $s) { edges { node { name } } } }"


@pytest.fixture
async def staff(factory: Any) -> tuple[str, str]:
    return await factory.staff(P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY, P.LOYALTY_ADJUST, P.AUDIT_VIEW)  # type: ignore[no-any-return]


@pytest.fixture
def token(staff: tuple[str, str]) -> str:
    return staff[1]


async def call(gql: Any, document: str, name: str, variables: dict[str, Any], token: str) -> Any:
    body = await gql(document, variables, token=token)
    assert "errors" not in body, body
    return body["data"][name]


async def issue(gql: Any, token: str, customer_id: object, number: str, percent: str = "5") -> Any:
    return await call(
        gql,
        ISSUE,
        "loyaltyCardIssue",
        {"c": str(customer_id), "input": {"cardNumber": number, "discountPercent": percent}},
        token,
    )


async def replace(gql: Any, token: str, customer_id: object, number: str, reason: str) -> Any:
    return await call(
        gql,
        REPLACE,
        "loyaltyCardReplace",
        {"c": str(customer_id), "input": {"newCardNumber": number, "reason": reason}},
        token,
    )


async def adjust(gql: Any, token: str, customer_id: object, points: int, reason: str) -> Any:
    return await call(
        gql,
        ADJUST,
        "loyaltyPointsAdjust",
        {"c": str(customer_id), "input": {"points": points, "reason": reason}},
        token,
    )


async def read(gql: Any, token: str, customer_id: object) -> Any:
    return await call(gql, CUSTOMER, "customer", {"id": str(customer_id)}, token)


async def found_by(gql: Any, token: str, term: str) -> list[str]:
    page = await call(gql, SEARCH, "customers", {"s": term}, token)
    return sorted(e["node"]["name"] for e in page["edges"])


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def actions(customer: dict[str, Any]) -> list[str]:
    return [e["node"]["action"] for e in customer["auditTrail"]["edges"]]


# --- issuing ----------------------------------------------------------------------------


async def test_issue_a_card(gql, staff, factory) -> None:
    username, token = staff
    customer = await factory.customer()
    made = await issue(gql, token, customer.id, " card-0001 ", "7.5")
    assert made["errors"] == []
    card = made["customer"]["loyaltyCard"]
    assert card["cardNumber"] == "CARD-0001"  # trimmed and upper-cased, as scanned
    assert card["discountPercent"] == "7.50"
    assert card["status"] == "ACTIVE"
    assert card["issuedBy"] == username
    assert made["customer"]["loyaltyPoints"] == 0

    shown = await read(gql, token, customer.id)
    assert shown["pointsLedger"]["totalCount"] == 0
    [entry] = [e["node"] for e in shown["auditTrail"]["edges"] if e["node"]["action"] != "create"]
    assert entry == {
        "action": "loyalty_card_issue",
        "before": None,
        "after": {"cardNumber": "CARD-0001", "discountPercent": "7.50"},
    }


async def test_a_customer_without_a_card_has_none(gql, token, factory) -> None:
    customer = await factory.customer()
    shown = await read(gql, token, customer.id)
    assert shown["loyaltyCard"] is None
    assert shown["loyaltyPoints"] == 0


@pytest.mark.parametrize(
    ("number", "percent", "expected"),
    [
        ("   ", "5", [("REQUIRED", ["input", "cardNumber"])]),
        ("abc", "5", [("INVALID", ["input", "cardNumber"])]),
        ("x" * 65, "5", [("INVALID", ["input", "cardNumber"])]),
        ("CARD 0001", "5", [("INVALID", ["input", "cardNumber"])]),
        ("CARD_0001", "5", [("INVALID", ["input", "cardNumber"])]),
        ("CARD-0001", "100.01", [("INVALID", ["input", "discountPercent"])]),
        ("CARD-0001", "-1", [("INVALID", ["input", "discountPercent"])]),
        ("CARD-0001", "2.555", [("INVALID", ["input", "discountPercent"])]),
    ],
)
async def test_issue_refuses_bad_input(
    gql, token, factory, raw_sql, number: str, percent: str, expected: list[Any]
) -> None:
    customer = await factory.customer()
    made = await issue(gql, token, customer.id, number, percent)
    assert made["customer"] is None
    assert codes(made) == expected
    assert await raw_sql("SELECT count(*) FROM loyalty_cards") == [(0,)]


async def test_the_shortest_and_longest_numbers_are_accepted(gql, token, factory) -> None:
    for number in ("A-12", "9" * 64):
        made = await issue(gql, token, (await factory.customer()).id, number, "0")
        assert made["errors"] == [], number


async def test_a_saved_card_cannot_be_modified(gql, token, factory, raw_sql) -> None:
    customer = await factory.customer()
    await issue(gql, token, customer.id, "CARD-0001", "5")
    again = await issue(gql, token, customer.id, "CARD-0002", "50")
    assert codes(again) == [("LOYALTY_CARD_IMMUTABLE", ["customerId"])]
    shown = await read(gql, token, customer.id)
    assert shown["loyaltyCard"] == {
        "cardNumber": "CARD-0001",
        "discountPercent": "5.00",
        "status": "ACTIVE",
    }
    assert await raw_sql("SELECT card_number FROM loyalty_cards") == [("CARD-0001",)]


async def test_a_card_number_belongs_to_one_card_in_any_case(gql, token, factory) -> None:
    first, second = await factory.customer(), await factory.customer()
    await issue(gql, token, first.id, "CARD-0001")
    taken = await issue(gql, token, second.id, "card-0001")
    assert codes(taken) == [("CARD_NUMBER_TAKEN", ["input", "cardNumber"])]


async def test_two_tills_issuing_one_number_at_once_give_it_to_one_customer(
    gql, token, factory, raw_sql
) -> None:
    people = [await factory.customer() for _ in range(2)]
    made = await asyncio.gather(*(issue(gql, token, c.id, "CARD-0001") for c in people))
    assert sorted(codes(m) for m in made) == [[], [("CARD_NUMBER_TAKEN", ["input", "cardNumber"])]]
    assert await raw_sql("SELECT count(*) FROM loyalty_cards") == [(1,)]


async def test_unknown_customer(gql, token) -> None:
    made = await issue(gql, token, "00000000-0000-4000-8000-000000000000", "CARD-0001")
    assert codes(made) == [("NOT_FOUND", ["customerId"])]


# --- replacing a lost card ----------------------------------------------------------------


async def test_a_lost_card_is_replaced_and_its_number_stops_working(gql, token, factory) -> None:
    customer = await factory.customer(name="Lost Card")
    await issue(gql, token, customer.id, "CARD-0001", "12.5")
    await adjust(gql, token, customer.id, 40, "Welcome bonus")
    assert await found_by(gql, token, "CARD-0001") == ["Lost Card"]

    made = await replace(gql, token, customer.id, "CARD-0002", "Lost at the beach")
    assert made["errors"] == []
    assert made["customer"]["loyaltyCard"]["cardNumber"] == "CARD-0002"
    assert made["customer"]["loyaltyCard"]["discountPercent"] == "12.50"  # carried
    assert made["customer"]["loyaltyPoints"] == 40  # the points belong to the customer

    assert await found_by(gql, token, "CARD-0001") == []
    assert await found_by(gql, token, "card-0002") == ["Lost Card"]

    await adjust(gql, token, customer.id, -10, "Gift")
    shown = await read(gql, token, customer.id)
    # Each entry names the card that was in use when it was made.
    assert [e["node"]["cardNumber"] for e in shown["pointsLedger"]["edges"]] == [
        "CARD-0002",
        "CARD-0001",
    ]
    [entry] = [
        e["node"]
        for e in shown["auditTrail"]["edges"]
        if e["node"]["action"] == "loyalty_card_replace"
    ]
    assert entry["before"] == {"cardNumber": "CARD-0001", "discountPercent": "12.50"}
    assert entry["after"] == {
        "cardNumber": "CARD-0002",
        "discountPercent": "12.50",
        "reason": "Lost at the beach",
    }


async def test_a_number_is_never_issued_again(gql, token, factory) -> None:
    customer, other = await factory.customer(), await factory.customer()
    await issue(gql, token, customer.id, "CARD-0001")
    await replace(gql, token, customer.id, "CARD-0002", "Stolen")

    back = await replace(gql, token, customer.id, "card-0001", "Found it again")
    assert codes(back) == [("CARD_NUMBER_TAKEN", ["input", "newCardNumber"])]
    same = await replace(gql, token, customer.id, "CARD-0002", "Damaged")
    assert codes(same) == [("CARD_NUMBER_TAKEN", ["input", "newCardNumber"])]
    reissued = await issue(gql, token, other.id, "CARD-0001")
    assert codes(reissued) == [("CARD_NUMBER_TAKEN", ["input", "cardNumber"])]


async def test_replace_needs_a_card_and_a_reason(gql, token, factory, raw_sql) -> None:
    customer = await factory.customer()
    none = await replace(gql, token, customer.id, "CARD-0002", "Lost")
    assert codes(none) == [("NOT_FOUND", ["customerId"])]

    await issue(gql, token, customer.id, "CARD-0001")
    blank = await replace(gql, token, customer.id, "CARD-0002", "  ")
    assert codes(blank) == [("REQUIRED", ["input", "reason"])]
    bad = await replace(gql, token, customer.id, "no", "Lost")
    assert codes(bad) == [("INVALID", ["input", "newCardNumber"])]
    assert await raw_sql("SELECT card_number, status FROM loyalty_cards") == [
        ("CARD-0001", "ACTIVE")
    ]


# --- points -------------------------------------------------------------------------------


async def test_adjust_up_and_down_with_a_reason(gql, staff, factory) -> None:
    username, token = staff
    customer = await factory.customer()
    up = await adjust(gql, token, customer.id, 50, " Complaint  goodwill ")
    assert up["errors"] == []
    assert up["customer"]["loyaltyPoints"] == 50
    down = await adjust(gql, token, customer.id, -20, "Entered twice")
    assert down["customer"]["loyaltyPoints"] == 30

    shown = await read(gql, token, customer.id)
    assert [e["node"] for e in shown["pointsLedger"]["edges"]] == [
        {
            "kind": "ADJUST",
            "points": -20,
            "reason": "Entered twice",
            "cardNumber": None,
            "actor": username,
        },
        {
            "kind": "ADJUST",
            "points": 50,
            "reason": "Complaint goodwill",
            "cardNumber": None,
            "actor": username,
        },
    ]
    adjusted = [
        (e["node"]["before"], e["node"]["after"])
        for e in shown["auditTrail"]["edges"]
        if e["node"]["action"] == "points_adjust"
    ]
    assert adjusted[0] == (
        {"balance": 50},
        {"balance": 30, "points": -20, "reason": "Entered twice"},
    )


@pytest.mark.parametrize(
    ("points", "reason", "expected"),
    [
        (-31, "Too many", [("INSUFFICIENT_POINTS", ["input", "points"])]),
        (0, "Nothing", [("INVALID", ["input", "points"])]),
        (1_000_001, "Too big", [("INVALID", ["input", "points"])]),
        (5, "   ", [("REQUIRED", ["input", "reason"])]),
    ],
)
async def test_adjust_refuses(
    gql, token, factory, raw_sql, points: int, reason: str, expected: list[Any]
) -> None:
    customer = await factory.customer()
    await adjust(gql, token, customer.id, 30, "Start")
    refused = await adjust(gql, token, customer.id, points, reason)
    assert refused["customer"] is None
    assert codes(refused) == expected
    assert (await read(gql, token, customer.id))["loyaltyPoints"] == 30
    assert await raw_sql("SELECT count(*) FROM loyalty_points_ledger") == [(1,)]


async def test_a_customer_without_points_cannot_go_below_zero(gql, token, factory) -> None:
    customer = await factory.customer()
    refused = await adjust(gql, token, customer.id, -1, "Oops")
    assert codes(refused) == [("INSUFFICIENT_POINTS", ["input", "points"])]


async def test_the_ledger_pages_newest_first(gql, token, factory) -> None:
    customer = await factory.customer()
    for n in range(1, 6):
        await adjust(gql, token, customer.id, n, f"Step {n}")
    document = """query($id: ID!, $after: String) { customer(id: $id) {
      pointsLedger(first: 2, after: $after) { totalCount
        pageInfo { hasNextPage endCursor } edges { node { points } } } } }"""
    seen: list[int] = []
    after = None
    while True:
        page = (
            await call(gql, document, "customer", {"id": str(customer.id), "after": after}, token)
        )["pointsLedger"]
        assert page["totalCount"] == 5
        seen += [e["node"]["points"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [5, 4, 3, 2, 1]


async def test_points_and_cards_need_loyalty_adjust(gql, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY)
    refused = await adjust(gql, token, customer.id, 10, "Goodwill")
    assert codes(refused) == [("FORBIDDEN", None)]
    # A card carries a discount: a cashier who may edit profiles cannot hand one out.
    refused = await issue(gql, token, customer.id, "FRIEND-1", "100")
    assert codes(refused) == [("FORBIDDEN", None)]


# --- search ---------------------------------------------------------------------------


async def test_search_finds_by_card_number_in_any_case(gql, token, factory) -> None:
    holder = await factory.customer(name="Card Holder", phone="+12125550100")
    await factory.customer(name="Someone Else", phone="+12125550199")
    await issue(gql, token, holder.id, "Vip-2024-0042")
    assert await found_by(gql, token, "VIP-2024-0042") == ["Card Holder"]
    assert await found_by(gql, token, " vip-2024-0042 ") == ["Card Holder"]
    assert await found_by(gql, token, "VIP-2024") == []  # a card is scanned whole


async def test_a_card_number_that_looks_like_a_phone_or_a_name(gql, token, factory) -> None:
    by_digits = await factory.customer(name="Digits Card", phone="+12125550100")
    by_word = await factory.customer(name="Word Card", phone="+12125550101")
    await factory.customer(name="Zed", phone="+16465550123")
    await issue(gql, token, by_digits.id, "6465550123")
    await issue(gql, token, by_word.id, "ZEDCARD")
    # The term is both someone's phone and someone else's card: both are found.
    assert await found_by(gql, token, "6465550123") == ["Digits Card", "Zed"]
    assert await found_by(gql, token, "zedcard") == ["Word Card"]


# --- loading ----------------------------------------------------------------------------


async def test_loyalty_fields_load_without_n_plus_1(gql, token, factory, count_statements) -> None:
    screen = """{ customers(first: 50) { edges { node { name loyaltyPoints
      loyaltyCard { cardNumber discountPercent }
      pointsLedger(first: 3) { totalCount edges { node { kind points cardNumber } } } } } } }"""
    counts = []
    made = 0
    await gql("{ __typename }", token=token)  # the token's grant cached, as at a till
    for size in (5, 20):
        while made < size:
            customer = await factory.customer()
            await factory.loyalty_card(customer.id)
            await factory.earn_points(customer.id, 10 + made)
            await factory.earn_points(customer.id, 1)
            made += 1
        with count_statements() as counter:
            body = await gql(screen, token=token)
        assert "errors" not in body, body
        nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
        assert len(nodes) == size
        assert all(n["loyaltyCard"]["cardNumber"].startswith("CARD-") for n in nodes)
        assert all(n["pointsLedger"]["totalCount"] == 2 for n in nodes)
        assert sorted(n["loyaltyPoints"] for n in nodes) == [11 + k for k in range(size)]
        counts.append(counter.count)
    assert counts[0] == counts[1]


async def test_a_balance_cannot_grow_past_its_cap(gql, token, factory, runtime) -> None:
    from app.db.models import PointsBalance
    from app.services.loyalty import BALANCE_MAX

    customer = await factory.customer()
    await adjust(gql, token, customer.id, 10, "Start")
    async with runtime.db.write() as session:  # a balance built up over years
        row = await session.get(PointsBalance, customer.id)
        row.points = BALANCE_MAX - 5
    refused = await adjust(gql, token, customer.id, 6, "One too many")
    assert codes(refused) == [("INVALID", ["input", "points"])]
    assert (await read(gql, token, customer.id))["loyaltyPoints"] == BALANCE_MAX - 5
    assert codes(await adjust(gql, token, customer.id, 5, "Exactly full")) == []


async def test_a_customer_with_a_card_is_not_deleted_and_its_number_stays_used(
    gql, token, factory
) -> None:
    customer = await factory.customer()
    number = await factory.loyalty_card(customer.id, "CARD-7777")
    deleter = await factory.token(P.CUSTOMER_DELETE)
    body = await gql(
        "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code } } }",
        {"id": str(customer.id)},
        token=deleter,
    )
    assert body["data"]["customerDelete"] == {
        "deletedId": None,
        "errors": [{"code": "CUSTOMER_HAS_TRANSACTIONS"}],
    }
    other = await factory.customer()
    refused = await factory.loyalty().issue_card(other.id, number, Decimal("5"))
    assert [e.code.value for e in refused.errors] == ["CARD_NUMBER_TAKEN"]
