"""A known bearer token and the business settings cost no SQL on the hot path (issue 12),
and a grant the database no longer holds is not served once Redis cannot vouch for it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import update

from app.db.engine import Database
from app.db.models import AuthToken
from app.domain.permissions import Permission as P
from app.runtime import Runtime
from app.services.auth import hash_token
from app.services.stamps import AUTH
from app.services.unit_of_work import utcnow
from tests.conftest import GraphQLClient
from tests.factories import Factory

TYPENAME = "{ __typename }"
CUSTOMERS = "{ customers(first: 1) { totalCount } }"
PHONE_SEARCH = '{ customers(search: "+17205550100", first: 20) { totalCount } }'


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def _revoke_in_database(db: Database, token: str) -> None:
    """Revoked behind every cache's back: no repository, so no stamp bump here."""
    async with db.write() as session:
        await session.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == hash_token(token))
            .values(revoked_at=utcnow())
        )


async def _bump_elsewhere(runtime: Runtime) -> None:
    """The auth stamp moved, as another process's unit of work moves it."""
    await runtime.redis.set(f"{runtime.settings.redis_prefix}:stamp:auth", "another-process")


async def _redis_vouches(runtime: Runtime) -> str:
    """The auth stamp, once Redis answers (an earlier test may leave it "away" a second)."""
    for _ in range(50):
        if (stamp := await runtime.stamps.read(AUTH)) is not None:
            return stamp
        await asyncio.sleep(0.1)
    raise AssertionError("Redis never vouched again")


async def test_a_known_token_and_the_phone_region_are_read_from_memory(
    gql: GraphQLClient, factory: Factory, count_statements: Any
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    for _ in range(2):  # the first sets the stamps, the second fills the caches
        await gql(TYPENAME, token=token)
        await gql(PHONE_SEARCH, token=token)

    with count_statements() as counter:
        body = await gql(TYPENAME, token=token)
    assert body["data"] == {"__typename": "Query"}
    assert counter.statements == []

    with count_statements() as counter:
        body = await gql(PHONE_SEARCH, token=token)
    assert body["data"]["customers"] == {"totalCount": 0}
    assert counter.statements, "the search itself still runs"
    assert not [s for s in counter.statements if "business_settings" in s]


async def test_with_redis_unreachable_a_cached_grant_is_checked_in_the_database(
    gql: GraphQLClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    for _ in range(2):
        assert (await gql(CUSTOMERS, token=token))["data"]["customers"] is not None

    # Revoked behind every cache's back, as if the change's stamp bump had been lost.
    await _revoke_in_database(db, token)
    # While Redis vouches for it, the cached grant is served: what the stamp is for.
    assert (await gql(CUSTOMERS, token=token))["data"]["customers"] is not None

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    stamps = runtime.stamps
    reachable = stamps.redis
    stamps.redis = Redis.from_url(f"redis://127.0.0.1:{closed_port}/0", socket_connect_timeout=1)
    try:
        assert _codes(await gql(CUSTOMERS, token=token)) == ["UNAUTHENTICATED"]
    finally:
        await stamps.redis.aclose()
        stamps.redis = reachable


async def _stamp_reads(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("get", "mget"))


async def test_a_request_reads_every_stamp_in_one_round_trip(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    await _redis_vouches(runtime)
    for _ in range(2):
        await gql(PHONE_SEARCH, token=token)

    before = await _stamp_reads(runtime.redis)
    body = await gql(PHONE_SEARCH, token=token)  # the caller's grant and the phone region
    assert body["data"]["customers"] == {"totalCount": 0}
    after = await _stamp_reads(runtime.redis)
    assert after - before == 1, "one MGET for both stamps (plus the INFO calls themselves)"


async def test_a_request_s_stamps_are_not_the_next_request_s(
    gql: GraphQLClient, factory: Factory, runtime: Runtime, db: Database
) -> None:
    # Both requests run in this test's task: what the first one read must not serve the
    # second, or another process's bump in between would go unseen.
    token = await factory.token(P.CUSTOMER_VIEW)
    for _ in range(2):
        assert (await gql(CUSTOMERS, token=token))["data"]["customers"] is not None

    # Another process revokes the token and bumps the stamp, as its unit of work does.
    await _revoke_in_database(db, token)
    await _bump_elsewhere(runtime)

    body = await gql(CUSTOMERS, token=token)
    assert body.get("data") is None or body["data"].get("customers") is None
    assert "UNAUTHENTICATED" in _codes(body)


async def test_what_a_request_read_is_dropped_when_it_ends(
    gql: GraphQLClient, factory: Factory, runtime: Runtime
) -> None:
    # The request ran in this task; a job or a command run after it in the same task must
    # not go on reading the request's stamps.
    token = await factory.token(P.CUSTOMER_VIEW)
    assert (await gql(CUSTOMERS, token=token))["data"]["customers"] is not None
    await _bump_elsewhere(runtime)
    assert await _redis_vouches(runtime) == "another-process"
