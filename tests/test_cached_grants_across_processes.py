"""Cached grants and settings across processes (issue 12): two real `poscrm serve` processes
on the suite's database and Redis. A token used on B (so B caches its grant) and then
revoked, deactivated or stripped of a permission through A is refused by B on the very
next request; settings changed through A are what B answers next.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.domain.permissions import Permission as P
from app.runtime import Runtime
from tests.factories import Factory
from tests.test_cli import ROOT

ME = "{ me { id roleId } viewer { tillId } }"
CUSTOMERS = "{ customers(first: 1) { totalCount } }"
LOGOUT = "mutation { logout { revoked errors { code } } }"
ROLE_UPDATE = """mutation($id: ID!, $input: RoleInput!) {
  roleUpdate(id: $id, input: $input) { errors { code } } }"""
USER_UPDATE = """mutation($id: ID!, $input: StaffUserUpdateInput!) {
  staffUserUpdate(id: $id, input: $input) { errors { code } } }"""
TILL_REVOKE = "mutation($id: ID!) { tillRevoke(id: $id) { errors { code } } }"
SETTINGS = "{ businessSettings { defaultPhoneRegion } }"
SETTINGS_UPDATE = """mutation($region: String!) {
  businessSettingsUpdate(input: {defaultPhoneRegion: $region}) { errors { code } } }"""


ENDPOINT_CREATE = """mutation($url: String!) {
  webhookEndpointCreate(input: {url: $url, events: ["sale.completed"]}) {
  webhookEndpoint { id } errors { code } } }"""
ENDPOINT_UPDATE = """mutation($id: ID!, $on: Boolean!) {
  webhookEndpointUpdate(id: $id, input: {isActive: $on}) { errors { code } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id) { totalCount } }"""
SALE_CREATE = """mutation($sku: String!) {
  saleCreate(input: {lines: [{sku: $sku, quantity: 1}]}) { sale { id } errors { code } } }"""
SALE_COMPLETE = """mutation($id: ID!) {
  saleComplete(saleId: $id, input: {payment: CASH}) { errors { code } } }"""


SERVE = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--no-worker"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def _servers(runtime: Runtime, data: Path, count: int) -> Iterator[list[httpx.Client]]:
    """``count`` `poscrm serve` processes on the suite's database and Redis (and key prefix,
    so the suite's clean-up empties what they leave there)."""
    settings = runtime.settings
    processes, clients = [], []
    try:
        for n in range(count):
            folder = data / f"p{n}"
            folder.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("POSCRM_")}
            env.update(
                POSCRM_DATA_DIR=str(folder),
                POSCRM_DATABASE_URL=settings.database_url,
                POSCRM_REDIS_URL=runtime.redis_url,
                POSCRM_REDIS_PREFIX=settings.redis_prefix,
                POSCRM_PASSWORD_MEMORY_KIB="1024",
                POSCRM_LOG_LEVEL="WARNING",
                POSCRM_WEBHOOK_ALLOW_PRIVATE="true",
            )
            port = _free_port()
            with (folder / "serve.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(  # noqa: S603  (our own CLI)
                        [*SERVE, "--port", str(port)],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
        for n, (process, client) in enumerate(zip(processes, clients, strict=True)):
            _wait_until_up(process, client, data / f"p{n}" / "serve.log")
        yield clients
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _wait_until_up(process: subprocess.Popen[bytes], client: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"poscrm serve exited: {log.read_text()}"
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"poscrm serve did not start: {log.read_text()}")


def _gql(
    client: httpx.Client, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def _ok(body: dict[str, Any]) -> None:
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["errors"] == [], body


@pytest.fixture
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("grants"))


async def test_a_change_made_on_one_process_is_refused_by_the_other_on_the_next_request(
    runtime: Runtime, factory: Factory, data: Path
) -> None:
    admin = await factory.token(*P)
    _, revoked_by_role = await factory.staff(P.CUSTOMER_VIEW)
    _, deactivated = await factory.staff(P.CUSTOMER_VIEW)
    _, logged_out = await factory.staff(P.CUSTOMER_VIEW)
    till = await factory.till((await factory.head_office()).id, P.CUSTOMER_VIEW)

    with _servers(runtime, data, 2) as (a, b):
        ids = {}
        for token in (revoked_by_role, deactivated, logged_out, till):
            # Twice on B: the second answer comes from B's cache.
            for _ in range(2):
                assert _gql(b, CUSTOMERS, token)["data"]["customers"] is not None
            ids[token] = _gql(b, ME, token)["data"]

        # A permission taken from the role, through A.
        role_id = ids[revoked_by_role]["me"]["roleId"]
        _ok(_gql(a, ROLE_UPDATE, admin, id=role_id, input={"name": "clerk", "permissions": []}))
        refused = _gql(b, CUSTOMERS, revoked_by_role)
        assert refused["data"] is None or refused["data"]["customers"] is None
        assert _codes(refused) == ["FORBIDDEN"]

        # A user deactivated through A.
        user_id = ids[deactivated]["me"]["id"]
        _ok(_gql(a, USER_UPDATE, admin, id=user_id, input={"isActive": False}))
        assert _codes(_gql(b, CUSTOMERS, deactivated)) == ["UNAUTHENTICATED"]

        # A logout on A.
        assert _gql(a, LOGOUT, logged_out)["data"]["logout"]["revoked"] is True
        assert _codes(_gql(b, CUSTOMERS, logged_out)) == ["UNAUTHENTICATED"]

        # A till revoked through A.
        _ok(_gql(a, TILL_REVOKE, admin, id=ids[till]["viewer"]["tillId"]))
        assert _codes(_gql(b, CUSTOMERS, till)) == ["UNAUTHENTICATED"]

        # The admin's own grant, untouched, is still served on B.
        assert _gql(b, CUSTOMERS, admin)["data"]["customers"] is not None

        # Business settings: B caches them, A changes them, B answers the new ones.
        for _ in range(2):
            region = _gql(b, SETTINGS, admin)["data"]["businessSettings"]["defaultPhoneRegion"]
        other = "GB" if region != "GB" else "IN"
        _ok(_gql(a, SETTINGS_UPDATE, admin, region=other))
        answer = _gql(b, SETTINGS, admin)["data"]["businessSettings"]
        assert answer == {"defaultPhoneRegion": other}


def _sell(client: httpx.Client, token: str, sku: str) -> None:
    created = _gql(client, SALE_CREATE, token, sku=sku)
    _ok(created)
    _ok(_gql(client, SALE_COMPLETE, token, id=created["data"]["saleCreate"]["sale"]["id"]))


async def test_webhook_subscriptions_changed_on_one_process_reach_the_others_next_sale(
    runtime: Runtime, factory: Factory, data: Path
) -> None:
    """B caches which endpoints take which events (a sale reads them at every commit)."""
    admin = await factory.token(*P)
    sku = (await factory.product("HOOK-1", "2.00")).sku
    with _servers(runtime, data, 2) as (a, b):
        for _ in range(2):
            _sell(b, admin, sku)  # B now holds "no endpoints" in its cache
        created = _gql(a, ENDPOINT_CREATE, admin, url="http://127.0.0.1:9/hook")
        _ok(created)
        endpoint = created["data"]["webhookEndpointCreate"]["webhookEndpoint"]["id"]

        def deliveries() -> int:
            body = _gql(a, DELIVERIES, admin, id=endpoint)
            return int(body["data"]["webhookDeliveries"]["totalCount"])

        _sell(b, admin, sku)
        assert deliveries() == 1
        _sell(b, admin, sku)  # from B's cache again
        assert deliveries() == 2

        _ok(_gql(a, ENDPOINT_UPDATE, admin, id=endpoint, on=False))
        _sell(b, admin, sku)
        assert deliveries() == 2
