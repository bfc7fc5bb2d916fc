"""customerSearchFirst (seed 000, "Search Mobile Number/Name first while selecting customer"):
which meaning of an ambiguous term leads the till's results."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission as P

SEARCH = """
query($q: String, $first: Int, $after: String) {
  customers(search: $q, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { name } }
  }
}"""
SET_FIRST = """mutation($first: SearchFirst!) {
  businessSettingsUpdate(input: {customerSearchFirst: $first}) { errors { code } } }"""


async def search_first(gql: Any, factory: Any, first: str) -> None:
    admin = await factory.token(P.SETTINGS_MANAGE)
    body = await gql(SET_FIRST, {"first": first}, token=admin)
    assert body["data"]["businessSettingsUpdate"]["errors"] == []


async def names(gql: Any, token: str, term: str, first: int = 20) -> list[str]:
    found = (await gql(SEARCH, {"q": term, "first": first}, token=token))["data"]["customers"]
    return [e["node"]["name"] for e in found["edges"]]


@pytest.fixture
async def token(factory: Any) -> str:
    return await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)


@pytest.mark.parametrize(
    ("first", "expected"),
    [("PHONE", ["Zed Phone", "Amy Code"]), ("NAME", ["Amy Code", "Zed Phone"])],
)
async def test_digits_that_are_a_phone_ending_and_a_code(gql, factory, token, first, expected):
    # By name alone Amy would always lead: PHONE must put the number's owner first.
    await factory.customer(name="Zed Phone", phone="+12125554242")
    await factory.customer(name="Amy Code", phone="+12125550001", customer_code="4242")
    await search_first(gql, factory, first)
    assert await names(gql, token, "4242") == expected


@pytest.mark.parametrize(
    ("first", "expected"),
    [("PHONE", ["Bob Brown", "Zoe Adams"]), ("NAME", ["Zoe Adams", "Bob Brown"])],
)
async def test_a_word_that_is_a_name_and_an_email(gql, factory, token, first, expected):
    await factory.customer(name="Zoe Adams", phone="+12125550002")
    await factory.customer(name="Bob Brown", phone="+12125550003", email="adams.b@navy.mil")
    await search_first(gql, factory, first)
    assert await names(gql, token, "adams") == expected


@pytest.mark.parametrize("first", ["PHONE", "NAME"])
async def test_pages_walk_the_ranked_results_once(gql, factory, token, first) -> None:
    for n in range(3):
        await factory.customer(name=f"Adams {n}", phone=f"+1212555100{n}")
    for n in range(3):
        await factory.customer(
            name=f"Mail {n}", phone=f"+1212555200{n}", email=f"adams{n}@navy.mil"
        )
    await search_first(gql, factory, first)
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(SEARCH, {"q": "adams", "first": 2, "after": after}, token=token))["data"][
            "customers"
        ]
        assert page["totalCount"] == 6
        seen += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    named = [f"Adams {n}" for n in range(3)]
    emails = [f"Mail {n}" for n in range(3)]
    assert seen == (emails + named if first == "PHONE" else named + emails)


async def test_a_cursor_of_a_ranked_search_is_checked(gql, factory, token) -> None:
    await factory.customer(name="Zed Phone", phone="+12125554242")
    # A plain list's cursor (name, id) is not a ranked search's (rank, name, id).
    plain = (await gql(SEARCH, {"first": 1}, token=token))["data"]["customers"]
    after = plain["pageInfo"]["endCursor"]
    body = await gql(SEARCH, {"q": "4242", "after": after}, token=token)
    assert body["data"] is None
    assert body["errors"][0]["message"] == "malformed cursor"


async def test_a_masked_role_cannot_search_by_an_email_beginning(gql, factory) -> None:
    # An email's beginning, one letter at a time, would spell the address (issue 9).
    await factory.customer(name="Zoe Adams", phone="+12125550002")
    await factory.customer(name="Bob Brown", phone="+12125550003", email="adams.b@navy.mil")
    cashier = await factory.token(P.CUSTOMER_VIEW)
    assert await names(gql, cashier, "adams") == ["Zoe Adams"]
    assert await names(gql, cashier, "adams.b@navy.mil") == ["Bob Brown"]


async def test_a_short_word_is_a_name_only(gql, factory, token) -> None:
    await factory.customer(name="Bob Brown", phone="+12125550003", email="ad@navy.mil")
    assert await names(gql, token, "ad") == []
