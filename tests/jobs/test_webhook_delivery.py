"""Webhooks through the real path: mutation, outbox, arq worker, signed POST to a receiver.

Every receiver runs on 127.0.0.1 (tests never send anywhere else); the worker gets a
settings copy with POSCRM_WEBHOOK_ALLOW_PRIVATE on, except where the guard is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.domain.permissions import Permission
from app.jobs.worker import build_worker
from app.services.webhooks.delivery import WebhookSender
from app.services.webhooks.endpoints import WebhookEndpointChange, WebhookEndpointService
from app.settings import Settings
from tests.jobs.test_outbox_pipeline import RecordingGateway
from tests.webhook_receiver import HANG, Receiver, free_port, running_receiver

ALL_EVENTS = [
    "customer.created",
    "customer.updated",
    "customer.merged",
    "customer.deleted",
    "sale.completed",
    "sale.voided",
    "sale.returned",
    "consent.changed",
]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


def local(runtime: Any, **changes: Any) -> Settings:
    """The test settings, allowed to send to 127.0.0.1, retrying at once, with ``changes``."""
    update = {"webhook_allow_private": True, "webhook_retry_base_seconds": 0, **changes}
    settings: Settings = runtime.settings.model_copy(update=update)
    return settings


async def run_worker(runtime: Any, settings: Settings) -> None:
    worker = build_worker(
        settings, runtime.redis_url, db=runtime.db, gateway=RecordingGateway(), burst=True
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def endpoint(runtime: Any, receiver: Receiver, events: list[str], path: str = "/hook") -> str:
    created = await WebhookEndpointService(runtime.tx, local(runtime), None).create(
        receiver.url + path, events
    )
    assert created.value, created.errors
    assert created.value.secret
    receiver.secret = created.value.secret
    return str(created.value.id)


async def deliveries(raw_sql: Any) -> list[Any]:
    return await raw_sql(
        "SELECT event, status, attempts, last_status_code, last_error FROM webhook_deliveries "
        "ORDER BY created_at, event"
    )


async def endpoint_state(raw_sql: Any) -> tuple[Any, ...]:
    """The one endpoint's state (each test has one)."""
    [row] = await raw_sql(
        "SELECT is_active, consecutive_failures, disabled_reason FROM webhook_endpoints"
    )
    return (bool(row[0]), row[1], row[2])


# --- every event, signed, with no personal data ---------------------------------------------


async def test_every_event_is_delivered_signed_and_without_personal_data(
    gql, factory, runtime, raw_sql, receiver, monkeypatch
) -> None:
    # Saved through the API, so the API's settings must allow the local receiver.
    monkeypatch.setattr(runtime.settings, "webhook_allow_private", True)
    token = await factory.token(*Permission)
    made = await gql(
        "mutation($i: WebhookEndpointInput!) { webhookEndpointCreate(input: $i) "
        "{ webhookEndpoint { id url events secret isActive } errors { code field } } }",
        {"i": {"url": receiver.url + "/hook", "events": ALL_EVENTS}},
        token=token,
    )
    payload = made["data"]["webhookEndpointCreate"]
    assert payload["errors"] == []
    receiver.secret = payload["webhookEndpoint"]["secret"]
    assert receiver.secret.startswith("whsec_")

    async def mutate(document: str, **variables: Any) -> dict[str, Any]:
        body = await gql(document, variables, token=token)
        assert "errors" not in body, body
        [(_, result)] = body["data"].items()
        assert result["errors"] == [], result
        return result  # type: ignore[no-any-return]

    create = (
        "mutation($name: String!, $phone: String!, $email: String) { customerCreate(input: "
        "{name: $name, phone: $phone, email: $email}) { customer { id version } errors { code } } }"
    )
    ada = (await mutate(create, name="Ada Lovelace", phone="2125550181", email="ada@example.com"))[
        "customer"
    ]
    await mutate(
        "mutation($id: ID!, $v: Int!) { customerUpdate(id: $id, input: "
        '{expectedVersion: $v, name: "Ada King"}) { customer { id } errors { code } } }',
        id=ada["id"],
        v=ada["version"],
    )
    await mutate(
        "mutation($id: ID!) { marketingConsentUpdate(customerId: $id, channel: EMAIL, "
        "subscribed: true) { customer { id } errors { code } } }",
        id=ada["id"],
    )
    twin = (await mutate(create, name="Ada Twin", phone="2125550182", email=None))["customer"]
    await mutate(
        "mutation($s: ID!, $t: ID!) { customerMerge(sourceId: $s, targetId: $t) "
        "{ customer { id } errors { code } } }",
        s=twin["id"],
        t=ada["id"],
    )
    gone = (await mutate(create, name="Brief Visit", phone="2125550183", email=None))["customer"]
    await mutate(
        "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code } } }",
        id=gone["id"],
    )
    product = await factory.product(price="10.00")
    ada_id = uuid.UUID(ada["id"])
    await factory.completed_sale(ada_id, [(product.sku, 1)])
    voided = await factory.completed_sale(ada_id, [(product.sku, 2)])
    await mutate(
        "mutation($s: ID!) { saleVoid(saleId: $s) { sale { id } errors { code } } }",
        s=str(voided.id),
    )
    returned = await factory.completed_sale(ada_id, [(product.sku, 3)])
    [line] = (await factory.sales().lines_for([returned.id]))[returned.id]
    await mutate(
        "mutation($s: ID!, $l: ID!) { saleReturn(saleId: $s, input: {lines: [{lineId: $l, "
        "quantity: 1}]}) { saleReturn { id } errors { code } } }",
        s=str(returned.id),
        l=str(line.id),
    )

    await run_worker(runtime, local(runtime))

    assert set(receiver.events()) == set(ALL_EVENTS)
    assert all(r.signature_ok for r in receiver.received)
    rows = await deliveries(raw_sql)
    assert {(status, attempts) for _, status, attempts, _, _ in rows} == {("DELIVERED", 1)}
    assert len(rows) == len(receiver.received)
    ids = await raw_sql("SELECT id FROM webhook_deliveries")
    assert {r.headers["x-poscrm-delivery"] for r in receiver.received} == {
        str(uuid.UUID(str(i))) for (i,) in ids
    }
    for r in receiver.received:
        assert r.headers["x-poscrm-event"] == r.json["type"]
        assert r.headers["content-type"] == "application/json"
        # Nothing that names or reaches a person: no names, phones, emails.
        text = r.body.decode()
        for personal in ("Ada", "Lovelace", "King", "Twin", "Brief", "example.com", "555018"):
            assert personal not in text, (personal, text)

    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in receiver.received:
        by_type.setdefault(r.json["type"], []).append(r.json["data"])
    assert {d["customerId"] for d in by_type["customer.created"]} == {
        ada["id"],
        twin["id"],
        gone["id"],
    }
    [updated] = by_type["customer.updated"]
    assert updated["customerId"] == ada["id"]
    assert "name" in updated["changedFields"]
    assert by_type["consent.changed"] == [
        {
            "customerId": ada["id"],
            "channel": "EMAIL",
            "state": "SUBSCRIBED",
            "source": "BACK_OFFICE",
        }
    ]
    assert by_type["customer.merged"] == [{"customerId": twin["id"], "mergedIntoId": ada["id"]}]
    assert by_type["customer.deleted"] == [{"customerId": gone["id"]}]
    totals = sorted(d["total"] for d in by_type["sale.completed"])
    assert totals == ["10.00", "20.00", "30.00"]
    [void] = by_type["sale.voided"]
    assert (void["saleId"], void["status"], void["total"]) == (str(voided.id), "VOIDED", "20.00")
    [back] = by_type["sale.returned"]
    assert (back["saleId"], back["value"], back["customerId"]) == (
        str(returned.id),
        "10.00",
        ada["id"],
    )


async def test_only_subscribed_events_are_sent(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.deleted"])
    await factory.customer(name="Not Sent")
    assert await deliveries(raw_sql) == []
    await run_worker(runtime, local(runtime))
    assert receiver.received == []


# --- retries, failures, disabling ------------------------------------------------------------


async def test_a_500_is_retried_with_the_same_delivery_id_until_delivered(
    factory, runtime, raw_sql, receiver
) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [500, 503, 429, 200]
    await factory.customer(name="Retried")
    await run_worker(runtime, local(runtime))

    assert len(receiver.received) == 4
    # One delivery: a receiver deduplicates on X-Poscrm-Delivery; the body never changes.
    assert len({r.headers["x-poscrm-delivery"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert await deliveries(raw_sql) == [("customer.created", "DELIVERED", 4, 200, None)]
    assert await endpoint_state(raw_sql) == (True, 0, None)

    # arq delivers at least once: running the job again sends nothing more.
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox WHERE job_name = 'deliver_webhook'")
    outcome = await WebhookSender(runtime.db, local(runtime)).deliver(uuid.UUID(str(outbox_id)))
    assert outcome.status == "DELIVERED"
    assert len(receiver.received) == 4


async def test_retries_end_after_the_last_attempt(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [500] * 10
    await factory.customer(name="Never Answered")
    await run_worker(runtime, local(runtime, webhook_max_attempts=3))
    assert len(receiver.received) == 3
    assert await deliveries(raw_sql) == [("customer.created", "FAILED", 3, 500, "HTTP 500")]
    assert await endpoint_state(raw_sql) == (True, 1, None)


async def test_a_4xx_fails_the_delivery_at_once(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [404]
    await factory.customer(name="Gone Away")
    await run_worker(runtime, local(runtime))
    assert len(receiver.received) == 1
    assert await deliveries(raw_sql) == [("customer.created", "FAILED", 1, 404, "HTTP 404")]


async def test_a_redirect_is_not_followed(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [302]
    await factory.customer(name="Redirected")
    await run_worker(runtime, local(runtime))
    assert [r.path for r in receiver.received] == ["/hook"]
    assert await deliveries(raw_sql) == [("customer.created", "FAILED", 1, 302, "HTTP 302")]


async def test_a_timeout_is_retried(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [HANG, 200]
    await factory.customer(name="Slow Receiver")
    await run_worker(runtime, local(runtime, webhook_timeout_seconds=0.5))
    assert len(receiver.received) == 2
    [(_, status, attempts, code, _)] = await deliveries(raw_sql)
    assert (status, attempts, code) == ("DELIVERED", 2, 200)


async def test_a_refused_connection_is_retried_then_failed(factory, runtime, raw_sql) -> None:
    settings = local(runtime, webhook_max_attempts=2)
    created = await WebhookEndpointService(runtime.tx, settings, None).create(
        f"http://127.0.0.1:{free_port()}/hook", ["customer.created"]
    )
    assert created.value
    await factory.customer(name="Nobody Home")
    await run_worker(runtime, settings)
    [(_, status, attempts, code, error)] = await deliveries(raw_sql)
    assert (status, attempts, code) == ("FAILED", 2, None)
    assert error.startswith("ConnectError")


async def test_an_endpoint_failing_n_times_in_a_row_is_disabled_and_says_why(
    gql, factory, runtime, raw_sql, receiver
) -> None:
    endpoint_id = await endpoint(runtime, receiver, ["customer.created"])
    settings = local(runtime, webhook_disable_after_failures=3)
    receiver.answers = [410] * 10
    for n in range(3):
        await factory.customer(name=f"Failing {n}")
    await run_worker(runtime, settings)
    assert len(receiver.received) == 3

    token = await factory.token(Permission.WEBHOOK_MANAGE)
    query = "{ webhookEndpoints { id isActive disabledReason consecutiveFailures secret } }"
    [shown] = (await gql(query, token=token))["data"]["webhookEndpoints"]
    assert shown == {
        "id": endpoint_id,
        "isActive": False,
        "disabledReason": "3 deliveries in a row failed; the last: HTTP 410",
        "consecutiveFailures": 3,
        "secret": None,
    }

    # What happened, newest first, paged.
    history = await gql(
        "query($e: ID!) { webhookDeliveries(endpointId: $e, first: 2) { totalCount "
        "pageInfo { hasNextPage endCursor } edges { node { event status attempts "
        "lastStatusCode lastError finishedAt } } } }",
        {"e": endpoint_id},
        token=token,
    )
    page = history["data"]["webhookDeliveries"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    nodes = [edge["node"] for edge in page["edges"]]
    assert [(n["status"], n["attempts"], n["lastStatusCode"]) for n in nodes] == [
        ("FAILED", 1, 410)
    ] * 2
    assert all(n["lastError"] == "HTTP 410" and n["finishedAt"] for n in nodes)
    rest = await gql(
        "query($e: ID!, $a: String) { webhookDeliveries(endpointId: $e, after: $a) "
        "{ pageInfo { hasNextPage } edges { node { id } } } }",
        {"e": endpoint_id, "a": page["pageInfo"]["endCursor"]},
        token=token,
    )
    assert len(rest["data"]["webhookDeliveries"]["edges"]) == 1
    assert rest["data"]["webhookDeliveries"]["pageInfo"]["hasNextPage"] is False

    # Disabled: a new event is not queued for it at all.
    await factory.customer(name="Not Queued")
    assert len(await deliveries(raw_sql)) == 3

    # Turned back on: the count and the reason are cleared, and deliveries resume.
    again = await gql(
        "mutation($id: ID!) { webhookEndpointUpdate(id: $id, input: {isActive: true}) "
        "{ webhookEndpoint { isActive disabledReason consecutiveFailures } errors { code } } }",
        {"id": endpoint_id},
        token=token,
    )
    assert again["data"]["webhookEndpointUpdate"] == {
        "webhookEndpoint": {"isActive": True, "disabledReason": None, "consecutiveFailures": 0},
        "errors": [],
    }
    receiver.answers = []
    await factory.customer(name="Back On")
    await run_worker(runtime, settings)
    assert (await deliveries(raw_sql))[-1][:2] == ("customer.created", "DELIVERED")


async def test_a_delivery_resets_the_failure_count(factory, runtime, raw_sql, receiver) -> None:
    await endpoint(runtime, receiver, ["customer.created"])
    receiver.answers = [400]
    await factory.customer(name="First Fails")
    await run_worker(runtime, local(runtime))
    assert await endpoint_state(raw_sql) == (True, 1, None)
    await factory.customer(name="Second Works")
    await run_worker(runtime, local(runtime))
    assert await endpoint_state(raw_sql) == (True, 0, None)


async def test_an_endpoint_turned_off_or_deleted_before_delivery_gets_nothing(
    factory, runtime, raw_sql, receiver
) -> None:
    endpoint_id = await endpoint(runtime, receiver, ["customer.created"])
    service = WebhookEndpointService(runtime.tx, local(runtime), None)
    await factory.customer(name="Queued First")
    await service.update(uuid.UUID(endpoint_id), WebhookEndpointChange(is_active=False))
    await run_worker(runtime, local(runtime))
    assert receiver.received == []
    assert await deliveries(raw_sql) == [
        ("customer.created", "SKIPPED", 0, None, "the endpoint is disabled")
    ]

    await service.update(uuid.UUID(endpoint_id), WebhookEndpointChange(is_active=True))
    await factory.customer(name="Queued Second")
    assert (await service.delete(uuid.UUID(endpoint_id))).errors == []
    await run_worker(runtime, local(runtime))
    assert receiver.received == []
    assert await deliveries(raw_sql) == []
    # The jobs ran and found nothing: no outbox row is left open.
    assert await raw_sql(
        "SELECT count(*) FROM outbox WHERE job_name = 'deliver_webhook' AND processed_at IS NULL"
    ) == [(0,)]


# --- the address guard at delivery -----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_the_guard_refuses_a_private_address_at_delivery(
    factory, runtime, raw_sql, receiver, host: str
) -> None:
    # Saved while private addresses were allowed (or resolving elsewhere, as a rebinding
    # name would); delivered by a worker that does not allow them.
    port = receiver.url.rsplit(":", 1)[1]
    created = await WebhookEndpointService(runtime.tx, local(runtime), None).create(
        f"http://{host}:{port}/hook", ["customer.created"]
    )
    assert created.value
    await factory.customer(name="Guarded")
    await run_worker(runtime, local(runtime, webhook_allow_private=False))
    assert receiver.received == []
    [(_, status, attempts, code, error)] = await deliveries(raw_sql)
    assert (status, attempts, code) == ("FAILED", 1, None)
    assert error.startswith(f"refused: {host} resolves to ")
    assert "loopback" in error


async def test_a_receiver_trickling_its_answer_is_cut_off(factory, runtime, raw_sql) -> None:
    # Each byte comes before httpx's read timeout; the whole answer never comes in time.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = local(runtime, webhook_max_attempts=1, webhook_timeout_seconds=0.5)
    try:
        created = await WebhookEndpointService(runtime.tx, settings, None).create(
            f"http://127.0.0.1:{port}/hook", ["customer.created"]
        )
        assert created.value
        await factory.customer(name="Trickled")
        started = time.monotonic()
        await run_worker(runtime, settings)
        assert time.monotonic() - started < 10
    finally:
        server.close()
    assert await deliveries(raw_sql) == [("customer.created", "FAILED", 1, None, "timed out")]
