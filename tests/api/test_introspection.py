"""Anonymous introspection is a setting (issue 9 §7): on for the single shop, off for a chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import GraphQLClient

SCHEMA = "{ __schema { queryType { name } } }"
TYPE = '{ __type(name: "Customer") { name } }'
IN_A_FRAGMENT = """query { ...f } fragment f on Query { me { id } __schema { types { name } } }"""


@pytest.fixture
async def chain_gql(migrated: Settings, app: Any) -> AsyncIterator[GraphQLClient]:
    """The app as a chain runs it (README: POSCRM_PUBLIC_INTROSPECTION=false), same data."""
    settings = migrated.model_copy(update={"public_introspection": False})
    chain = create_app(settings)
    async with chain.router.lifespan_context(chain):
        transport = httpx.ASGITransport(app=chain)
        async with httpx.AsyncClient(transport=transport, base_url="http://poscrm.test") as http:
            yield GraphQLClient(http)


async def test_the_single_shop_default_lets_graphiql_introspect_before_login(gql) -> None:
    assert Settings().public_introspection is True
    assert (await gql(SCHEMA))["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert (await gql(TYPE))["data"] == {"__type": {"name": "Customer"}}


def test_the_setting_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSCRM_PUBLIC_INTROSPECTION", "false")
    assert Settings().public_introspection is False


@pytest.mark.parametrize("query", [SCHEMA, TYPE, IN_A_FRAGMENT], ids=["schema", "type", "fragment"])
async def test_a_chain_refuses_anonymous_introspection(chain_gql, query: str) -> None:
    body = await chain_gql(query)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "POSCRM_PUBLIC_INTROSPECTION" in error["message"]


async def test_a_chain_still_lets_anyone_logged_in_introspect(chain_gql, factory) -> None:
    token = await factory.token()  # a role with no permissions at all
    body = await chain_gql(SCHEMA, token=token)
    assert body["data"] == {"__schema": {"queryType": {"name": "Query"}}}


async def test_typename_is_no_introspection(chain_gql) -> None:
    # Clients ask __typename everywhere; anonymous, it answers as before (login needs it).
    body = await chain_gql("{ __typename }")
    assert body["data"] == {"__typename": "Query"}
