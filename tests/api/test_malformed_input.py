"""Malformed input gets a 4xx or a typed error: never an HTTP 500 or INTERNAL (issue 9 §6)."""

from __future__ import annotations

import pytest


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
