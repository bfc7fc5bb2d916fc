"""HTTP and GraphQL guards: health, GraphiQL offline, limits before resolvers, masking, logs."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query

from app.db.repositories.paging import encode_cursor
from app.domain.permissions import Permission
from app.domain.permissions import Permission as P
from app.observability import JsonFormatter
from app.schema.limits import MaskUnexpectedErrors
from app.schema.schema import build_schema
from app.settings import Settings


async def test_health_and_readiness(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": True, "pool": True, "redis": True}


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


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_only_json_posts(client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    assert response.status_code == 415


async def test_json_posts_may_name_a_charset(client) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_bodies_up_to_the_limit_are_accepted_and_larger_ones_refused(
    client, settings, streamed: bool
) -> None:
    async def post(size: int) -> Any:
        head, tail = b'{"query": "', b'{ __typename }"}'
        body = head + b" " * (size - len(head) - len(tail)) + tail

        async def chunks() -> Any:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        response = await client.post(
            "/graphql",
            content=chunks() if streamed else body,
            headers={"content-type": "application/json"},
        )
        if streamed:  # no declared length to trust: the guard must count what arrives
            assert "content-length" not in response.request.headers
        return response

    assert (await post(settings.max_body_bytes)).status_code == 200
    assert (await post(settings.max_body_bytes + 1)).status_code == 413


async def test_request_id_is_echoed_or_made(client) -> None:
    mine = await client.get("/healthz", headers={"x-request-id": "till-7-req-000123"})
    assert mine.headers["x-request-id"] == "till-7-req-000123"
    # Ids go into every log line: odd characters and lengths are replaced, not echoed.
    for bad in ("bad id with spaces", "short", "x" * 65):
        made = await client.get("/healthz", headers={"x-request-id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


async def test_refusals_carry_the_request_id(client) -> None:
    response = await client.post(
        "/graphql",
        content=b"query=x",
        headers={"content-type": "text/plain", "x-request-id": "till-7-req-000124"},
    )
    assert response.status_code == 415
    assert response.headers["x-request-id"] == "till-7-req-000124"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "till-7-req-000124"


async def test_depth_limit() -> None:
    # A lower limit than the default shows the wiring on a short query.
    schema = build_schema(Settings(max_query_depth=4))
    deep = "{ customers { edges { node { auditTrail { edges { node { action } } } } } } }"
    result = await schema.execute(deep)
    assert result.data is None
    assert (result.errors or [])[0].extensions == {"code": "QUERY_TOO_DEEP", "limit": 4}


# Ten levels of fields (customers, edges, node, groups, members, edges, node, groups,
# members, totalCount); small pages keep the cost low so only the depth is tested.
TEN_LEVELS = """{ customers(first: 1) { edges { node { groups { members(first: 1) {
  edges { node { groups { members(first: 1) { totalCount } } } } } } } } } }"""
ELEVEN_LEVELS = TEN_LEVELS.replace("totalCount", "pageInfo { hasNextPage }")


async def test_depth_limit_counts_levels_of_fields(gql, factory, settings) -> None:
    # Strawberry's limiter counted the top field as depth 0: its 10 let 11 levels through.
    cashier = await factory.token(P.CUSTOMER_VIEW)
    assert settings.max_query_depth == 10
    at_limit = await gql(TEN_LEVELS, token=cashier)
    assert "errors" not in at_limit
    assert at_limit["data"] == {"customers": {"edges": []}}
    for query in (ELEVEN_LEVELS, "{ ...F } fragment F on Query " + ELEVEN_LEVELS):
        over = await gql(query, token=cashier)
        assert over["data"] is None
        [error] = over["errors"]
        assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "limit": 10}
        assert "10 levels" in error["message"]


async def test_depth_limit_ignores_introspection_and_survives_fragment_cycles() -> None:
    schema = build_schema(Settings(max_query_depth=3))
    # GraphiQL's introspection nests a type reference about 9 levels deep.
    assert (await schema.execute(get_introspection_query())).errors is None
    cyclic = await schema.execute(
        "{ ...A } fragment A on Query { me { id } ...B } fragment B on Query { ...A }"
    )
    assert cyclic.errors
    assert "QUERY_TOO_DEEP" not in str([e.extensions for e in cyclic.errors])


async def test_alias_and_token_limits(gql, settings) -> None:
    aliases = " ".join(f"a{n}: __typename" for n in range(settings.max_aliases + 1))
    assert (await gql("{ " + aliases + " }"))["data"] is None
    in_fragment = await gql("query { ...F } fragment F on Query { " + aliases + " }")
    assert in_fragment["data"] is None
    assert "aliases" in in_fragment["errors"][0]["message"]

    tokens = "{ " + " ".join("__typename" for _ in range(settings.max_tokens)) + " }"
    assert (await gql(tokens))["data"] is None


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ customers(first: 101) { totalCount } }", None),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": 500}),
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": -1}),
        # GraphQL's Int takes 500.0 as 500.
        ("query($n: Int) { customers(first: $n) { totalCount } }", {"n": 500.0}),
        ("query($n: Int! = 101) { customers(first: $n) { totalCount } }", None),
        ("{ customerGroups { edges { node { members(first: 101) { totalCount } } } } }", None),
    ],
    ids=["literal", "variable", "negative", "float", "variable-default", "nested"],
)
async def test_page_size_is_refused_before_any_resolver(
    gql, factory, count_statements, query: str, variables: dict[str, Any] | None
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    with count_statements() as counter:
        body = await gql(query, variables, token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    assert counter.count == 1  # the token lookup; no resolver ran


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ customers(first: 100) { totalCount } }", None),
        ("query($n: Int = 100) { customers(first: $n) { totalCount } }", None),
        # A value sent replaces the default, even one over the limit.
        ("query($n: Int = 101) { customers(first: $n) { totalCount } }", {"n": 100}),
    ],
    ids=["literal", "variable-default", "variable-over-default"],
)
async def test_page_size_at_the_limit_is_served(
    gql, factory, count_statements, query: str, variables: dict[str, Any] | None
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    with count_statements() as counter:
        body = await gql(query, variables, token=token)
    assert body["data"] == {"customers": {"totalCount": 0}}
    assert "errors" not in body
    assert counter.count > 1  # the resolver's SQL: what the refusals above must not see


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


async def test_graphql_errors_are_logged_without_the_query_text(gql, factory, caplog) -> None:
    # Strawberry logs each error; the error's str() quotes the query lines it points at.
    token = await factory.token(P.CUSTOMER_VIEW)
    secrets = ["Yolanda Pemberton", "+12125550188"]
    with caplog.at_level(logging.INFO):
        await gql('{ customers(search: "Yolanda Pemberton") { totalCount } }')  # anonymous
        await gql('{ customers(search: "+12125550188") { totalCountx } }', token=token)
    logged = [r for r in caplog.records if r.name == "strawberry.execution"]
    assert [r.getMessage() for r in logged] == [
        "Log in first.",
        "Cannot query field 'totalCountx' on type 'CustomerConnection'. Did you mean 'totalCount'?",
    ]
    # The caller's mistakes: INFO, without a traceback; ERROR is for bugs.
    assert [(r.levelno, r.exc_info) for r in logged] == [(logging.INFO, None)] * 2
    formatter = JsonFormatter()
    logged = " ".join(f"{formatter.format(r)} {r.__dict__}" for r in caplog.records)
    for secret in secrets:
        assert secret not in logged


async def test_badly_typed_variables_are_the_callers_error_and_not_logged(
    gql, factory, caplog
) -> None:
    token = await factory.token(P.CUSTOMER_ADD)
    create = """mutation($input: CustomerCreateInput!) {
      customerCreate(input: $input) { errors { code } } }"""
    with caplog.at_level(logging.INFO):
        typo = await gql(
            create, {"input": {"nmae": "Zebulon Quist", "phone": "2125550177"}}, token=token
        )
        number = await gql(
            create, {"input": {"name": "Zebulon Quist", "phone": 2125550177}}, token=token
        )
        enum = await gql(
            create, {"input": {"name": "A", "phone": "1", "gender": "Zebulon Quist"}}, token=token
        )
    for body in (typo, number, enum):
        (error,) = body["errors"]
        # The caller's own mistake, said plainly, not an "Unexpected error" with a reference.
        assert error["message"].startswith("Variable '$input'"), error
    logged = " ".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in ("Zebulon", "Quist", "2125550177"):
        assert secret not in logged


@pytest.mark.parametrize(
    ("query", "cursor"),
    [
        ("{ customers(after: $c) { totalCount } }", [None, "x"]),
        ("{ customers(after: $c) { totalCount } }", ["ann", "not-a-uuid"]),
        ("{ customerGroups(after: $c) { totalCount } }", [5, "00"]),
        ("{ discountCodes(after: $c) { totalCount } }", ["A", "nothex"]),
        ("{ customerChanges(after: $c) { endCursor } }", [True]),
        ("{ customerChanges(after: $c) { endCursor } }", [10**30]),
        ("{ customerChanges(after: $c) { endCursor } }", ["7"]),
    ],
)
async def test_a_crafted_cursor_is_a_clear_error(gql, factory, caplog, query, cursor) -> None:
    token = await factory.token(*Permission)
    crafted = encode_cursor(*cursor)
    with caplog.at_level(logging.INFO):
        body = await gql(query.replace("{", "query($c: String) {", 1), {"c": crafted}, token=token)
    [error] = body["errors"]
    assert (error["message"], error["extensions"]) == (
        "malformed cursor",
        {"code": "INVALID_CURSOR"},
    )
    # The caller's mistake: one INFO line with the code, no traceback, nothing at ERROR.
    [logged] = [r for r in caplog.records if r.name == "strawberry.execution"]
    assert (logged.levelno, logged.getMessage(), logged.exc_info) == (
        logging.INFO,
        "malformed cursor",
        None,
    )
    assert logged.__dict__["code"] == "INVALID_CURSOR"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("how", ["variable", "literal"])
async def test_text_with_a_nul_character_is_refused_before_anything_runs(
    gql, factory, raw_sql, how
) -> None:
    token = await factory.token(P.CUSTOMER_ADD)
    if how == "variable":
        body = await gql(
            'mutation($n: String!) { customerCreate(input: {name: $n, phone: "+12125550100"})'
            " { errors { code } } }",
            {"n": "Al\x00ice"},
            token=token,
        )
    else:
        body = await gql(
            'mutation { customerCreate(input: {name: "Al\\u0000ice", phone: "+12125550100"})'
            " { errors { code } } }",
            token=token,
        )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_TEXT"]
    assert (await raw_sql("SELECT COUNT(*) FROM customers"))[0][0] == 0
