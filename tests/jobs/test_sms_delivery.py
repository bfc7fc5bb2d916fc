"""SMS through a real HTTP provider (Starlette under uvicorn on 127.0.0.1), by the real worker."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from app.services.delivery_gateways import gateways_from_settings
from app.services.gateways import OutgoingMessage
from app.services.notifications import NotificationDelivery
from tests.gateway_servers import SmsReply, free_port, run_worker, sms_provider

PHONE = "+12125550101"
FAST_RETRIES = {"notification_retry_base_seconds": 0.01}


@pytest.fixture(autouse=True)
async def _credits(factory: Any) -> None:
    await factory.sms_credits(100)


def provider_settings(url: str) -> dict[str, Any]:
    return {"sms_gateway_url": url, "sms_gateway_token": "tok-123"}


async def notification(raw_sql: Any) -> tuple[uuid.UUID, str, int, str | None]:
    [(notification_id, channel, status, attempts, error)] = await raw_sql(
        "SELECT id, channel, status, attempts, error FROM notifications"
    )
    assert channel == "SMS"
    return uuid.UUID(str(notification_id)), status, attempts, error


async def attempts(raw_sql: Any) -> list[tuple[int, str, str | None, str | None]]:
    rows = await raw_sql(
        "SELECT number, gateway, outcome, error FROM notification_attempts ORDER BY number"
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def deliver_once(runtime: Any, raw_sql: Any, **settings: Any) -> Any:
    """One attempt, as one run of the job makes it."""
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    changed = {
        key: SecretStr(value) if key == "sms_gateway_token" else value
        for key, value in settings.items()
    }
    gateways = gateways_from_settings(runtime.settings.model_copy(update=changed))
    try:
        return await NotificationDelivery(runtime.db, gateways).deliver(
            uuid.UUID(str(outbox_id)), attempt=1
        )
    finally:
        await gateways.aclose()


async def test_an_sms_is_posted_as_json_with_the_notification_id_as_idempotency_key(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    async with sms_provider() as provider:
        await run_worker(runtime, **provider_settings(provider.url))

    notification_id, status, count, error = await notification(raw_sql)
    assert (status, count, error) == ("SENT", 1, None)
    assert await attempts(raw_sql) == [(1, "sms-http", "SENT", None)]
    [request] = provider.requests
    assert request.headers["idempotency-key"] == str(notification_id)
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.headers["content-type"] == "application/json"
    assert request.json["to"] == PHONE
    assert request.json["reference"] == str(notification_id)
    assert request.json["text"].startswith("Hello Bo, you are now registered")
    assert request.headers["x-attempt"] == "1"


async def test_the_worker_posts_many_sms_over_kept_connections(factory, runtime, raw_sql) -> None:
    for n in range(6):
        await factory.customer(name=f"Bo {n}", phone=f"+1212555010{n}")
    async with sms_provider() as provider:
        await run_worker(runtime, **provider_settings(provider.url))
        # Sequential sends on one gateway: one connection, kept between them.
        gateways = gateways_from_settings(
            runtime.settings.model_copy(update={"sms_gateway_url": provider.url})
        )
        sms = gateways.by_channel["SMS"]
        before = len(provider.requests)
        try:
            for n in range(3):
                await sms.send(
                    OutgoingMessage(uuid.uuid4(), "SMS", f"+1212555020{n}", "", f"Hi {n}")
                )
        finally:
            await gateways.aclose()
    assert await raw_sql("SELECT status, count(*) FROM notifications GROUP BY status") == [
        ("SENT", 6)
    ]
    assert len({r.client_port for r in provider.requests[before:]}) == 1


async def test_a_server_error_is_retried_with_the_same_idempotency_key(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    async with sms_provider() as provider:
        provider.replies = [SmsReply(503, {"error": "upstream busy"})]
        await run_worker(runtime, **provider_settings(provider.url), **FAST_RETRIES)

    notification_id, status, count, error = await notification(raw_sql)
    assert (status, count, error) == ("SENT", 2, None)
    assert await attempts(raw_sql) == [
        (1, "sms-http", "TRANSIENT", 'SMS gateway HTTP 503: {"error":"upstream busy"}'),
        (2, "sms-http", "SENT", None),
    ]
    # A provider that honours the key charges the retry once.
    keys = [r.headers["idempotency-key"] for r in provider.requests]
    assert keys == [str(notification_id)] * 2


async def test_too_many_requests_waits_as_long_as_the_provider_asks(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    async with sms_provider() as provider:
        provider.replies = [SmsReply(429, {"error": "slow down"}, {"Retry-After": "1"})]
        await run_worker(runtime, **provider_settings(provider.url), **FAST_RETRIES)

    assert (await notification(raw_sql))[1:] == ("SENT", 2, None)
    first, second = provider.requests
    # The backoff alone would be 10 ms; Retry-After asked for a second.
    assert second.at - first.at >= 0.95
    assert [row[2] for row in await attempts(raw_sql)] == ["TRANSIENT", "SENT"]


async def test_a_refused_number_fails_at_once_and_the_reason_keeps_no_number(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    async with sms_provider() as provider:
        provider.replies = [SmsReply(400, {"error": f"invalid destination {PHONE}"})]
        await run_worker(runtime, **provider_settings(provider.url), **FAST_RETRIES)

    _, status, count, error = await notification(raw_sql)
    assert (status, count) == ("FAILED", 1)
    assert error == 'SMS gateway HTTP 400: {"error":"invalid destination [recipient]"}'
    assert await attempts(raw_sql) == [(1, "sms-http", "PERMANENT", error)]
    assert len(provider.requests) == 1
    assert await raw_sql("SELECT count(*) FROM outbox WHERE processed_at IS NULL") == [(0,)]


async def test_a_provider_that_answers_too_late_is_a_transient_failure(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    async with sms_provider() as provider:
        provider.replies = [SmsReply(delay=1.0)]
        outcome = await deliver_once(
            runtime,
            raw_sql,
            **provider_settings(provider.url),
            sms_gateway_timeout_seconds=0.2,
        )
    assert outcome.retry
    assert (await notification(raw_sql))[1:3] == ("QUEUED", 1)
    [(_, _, result, error)] = await attempts(raw_sql)
    assert result == "TRANSIENT"
    assert error is not None
    assert error.startswith("SMS gateway: ReadTimeout")


async def test_a_provider_that_is_down_is_a_transient_failure(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    url = f"http://127.0.0.1:{free_port()}/v1/messages"
    outcome = await deliver_once(runtime, raw_sql, **provider_settings(url))
    assert outcome.retry
    [(_, _, result, error)] = await attempts(raw_sql)
    assert result == "TRANSIENT"
    assert error is not None
    assert error.startswith("SMS gateway: ConnectError")


async def test_sms_provider_down_then_back(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/messages"
    assert (await deliver_once(runtime, raw_sql, **provider_settings(url))).retry
    async with sms_provider(port) as provider:
        # The job is still in the queue: the worker runs it (its try 1, our attempt 2).
        await run_worker(runtime, **provider_settings(provider.url))
    assert (await notification(raw_sql))[1:] == ("SENT", 2, None)
    assert [row[2] for row in await attempts(raw_sql)] == ["TRANSIENT", "SENT"]
    assert len(provider.requests) == 1


async def test_two_runs_of_one_job_send_once(factory, runtime, raw_sql) -> None:
    # arq runs a job again when it outlives its timeout, while the first run may still be
    # sending: the attempt count is the claim, and only one run moves it on.
    await factory.customer(name="Bo", phone=PHONE)
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    async with sms_provider() as provider:
        provider.replies = [SmsReply(delay=0.3)]
        gateways = gateways_from_settings(
            runtime.settings.model_copy(update={"sms_gateway_url": provider.url})
        )
        delivery = NotificationDelivery(runtime.db, gateways)
        outcomes = await asyncio.gather(
            delivery.deliver(uuid.UUID(str(outbox_id)), attempt=1),
            delivery.deliver(uuid.UUID(str(outbox_id)), attempt=1),
        )
    assert sorted(o.status for o in outcomes) == ["QUEUED", "SENT"]
    assert not any(o.retry for o in outcomes)
    assert len(provider.requests) == 1
    assert (await notification(raw_sql))[1:] == ("SENT", 1, None)


async def test_a_send_cut_short_stays_on_record_and_the_next_run_numbers_after_it(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone=PHONE)
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    async with sms_provider() as provider:
        provider.replies = [SmsReply(delay=5)]
        gateways = gateways_from_settings(
            runtime.settings.model_copy(update={"sms_gateway_url": provider.url})
        )
        delivery = NotificationDelivery(runtime.db, gateways)
        # arq cancels a job at its timeout: the send is cut off mid-request.
        interrupted = asyncio.create_task(delivery.deliver(uuid.UUID(str(outbox_id)), attempt=1))
        for _ in range(500):
            if provider.requests:
                break
            await asyncio.sleep(0.01)
        interrupted.cancel()
        with pytest.raises(asyncio.CancelledError):
            await interrupted
        assert await attempts(raw_sql) == [(1, "sms-http", None, None)]

        outcome = await delivery.deliver(uuid.UUID(str(outbox_id)), attempt=2)
    assert outcome.status == "SENT"
    assert await attempts(raw_sql) == [(1, "sms-http", None, None), (2, "sms-http", "SENT", None)]
    assert (await notification(raw_sql))[1:] == ("SENT", 2, None)
    # Both hand-overs carried one key: a provider that honours it sends one SMS.
    assert {r.headers["idempotency-key"] for r in provider.requests} == {
        str((await notification(raw_sql))[0])
    }
