"""HTTP and GraphQL guards: health, GraphiQL offline, limits before resolvers, masking, logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import strawberry

from app.domain.permissions import Permission as P
from app.schema.limits import MaskUnexpectedErrors
from app.schema.schema import build_schema
from app.settings import Settings


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": True, "redis": True}


async def test_graphiql_is_served_with_its_assets_and_no_external_url(client) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "GraphiQL" in page.text
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert not [r for r in references if re.match(r"(https?:)?//", r)]
    assets = [r for r in references if r.startswith("/static/")]
    assert len(assets) >= 4
    for asset in assets:
        assert (await client.get(asset)).status_code == 200, asset


async def test_mutations_over_get_are_refused(client, factory, raw_sql) -> None:
    token = await factory.token()
    response = await client.get(
        "/graphql",
        params={"query": "mutation { logout { revoked } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert await raw_sql("SELECT count(*) FROM auth_tokens WHERE revoked_at IS NOT NULL") == [(0,)]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_only_json_posts(client, content_type: str) -> None:
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": content_type}
    )
    assert response.status_code == 415


async def test_large_bodies_are_refused(client, settings) -> None:
    big = b'{"query": "' + b" " * settings.max_body_bytes + b'{ __typename }"}'
    declared = await client.post(
        "/graphql", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413

    async def chunks() -> Any:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    streamed = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_request_id_is_echoed_or_made(client) -> None:
    mine = await client.get("/healthz", headers={"x-request-id": "till-7-req-000123"})
    assert mine.headers["x-request-id"] == "till-7-req-000123"
    made = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


async def test_depth_limit() -> None:
    # Our schema is shallower than the default limit of 10; a lower limit shows the wiring.
    schema = build_schema(Settings(max_query_depth=4))
    deep = "{ customers { edges { node { auditTrail { edges { node { action } } } } } } }"
    result = await schema.execute(deep)
    assert result.data is None
    assert "exceeds maximum operation depth" in (result.errors or [])[0].message


async def test_alias_and_token_limits(gql, settings) -> None:
    aliases = " ".join(f"a{n}: __typename" for n in range(settings.max_aliases + 1))
    assert (await gql("{ " + aliases + " }"))["data"] is None
    in_fragment = await gql("query { ...F } fragment F on Query { " + aliases + " }")
    assert in_fragment["data"] is None
    assert "aliases" in in_fragment["errors"][0]["message"]

    tokens = "{ " + " ".join("__typename" for _ in range(settings.max_tokens)) + " }"
    assert (await gql(tokens))["data"] is None


async def test_page_size_is_refused_before_any_resolver(gql, factory, count_statements) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    for query, variables in (
        ("{ customers(first: 101) { totalCount } }", None),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": 500}),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": -1}),
    ):
        with count_statements() as counter:
            body = await gql(query, variables, token=token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
        assert counter.count == 1  # the token lookup; no resolver ran
    ok = await gql("{ customers(first: 100) { totalCount } }", token=token)
    assert ok["data"]["customers"]["totalCount"] == 0


async def test_unexpected_errors_are_masked_with_a_reference(caplog) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def boom(self) -> str:
            raise RuntimeError("secret SQL detail")

    class Ctx:
        request_id = "req-42"

    schema = strawberry.Schema(query=Query, extensions=[MaskUnexpectedErrors])
    with caplog.at_level(logging.ERROR):
        result = await schema.execute("{ boom }", context_value=Ctx())
    [error] = result.errors or []
    assert error.message == "Unexpected error. Reference: req-42"
    assert error.extensions == {"code": "INTERNAL", "requestId": "req-42"}
    assert "secret" not in str(error.formatted)
    assert any("secret SQL detail" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_logs_carry_no_personal_data(gql, factory, caplog) -> None:
    token = await factory.token(P.CUSTOMER_ADD, P.CUSTOMER_VIEW)
    secrets = ["Zebulon Quartermaine", "+12125550177", "zebulon@example.com"]
    with caplog.at_level(logging.DEBUG):
        await gql(
            'mutation { customerCreate(input: {name: "Zebulon Quartermaine", '
            'phone: "212 555 0177", email: "zebulon@example.com"}) { errors { code } } }',
            token=token,
        )
        await gql('{ customers(search: "zebulon") { totalCount } }', token=token)
    logged = " ".join(
        f"{r.getMessage()} {r.__dict__}"
        for r in caplog.records
        if not r.name.startswith("sqlalchemy")
    )
    assert caplog.records, "expected access log lines"
    for secret in secrets:
        assert secret not in logged
