"""Malformed input gets a 4xx or a typed error: never an HTTP 500 or INTERNAL (issue 9 §6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain.permissions import Permission as P


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
    ],
    ids=["string", "number", "null", "bad-utf8", "huge-int", "deep-variables", "deep-extensions"],
)
async def test_malformed_bodies_are_400_with_a_json_error(client, body: bytes) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


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
