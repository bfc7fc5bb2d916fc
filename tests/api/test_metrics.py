"""GET /metrics (issue 10 §6): behind a token, totals read from the rows at scrape time."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.db.repositories.webhooks import WebhookRepository
from app.domain.permissions import Permission
from app.metrics import register_gauge
from app.services.unit_of_work import UnitOfWork
from app.services.webhooks.endpoints import WebhookEndpointService
from tests.jobs.test_outbox_pipeline import RecordingGateway, run_worker

TOKEN = "scrape-" + uuid.uuid4().hex


@pytest.fixture
def metrics_on(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    on = runtime.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    monkeypatch.setattr(runtime, "settings", on)


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def notifications(status: str, channel: str = "EMAIL") -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"channel": channel, "scenario": "REGISTRATION", "status": status}
    return ("poscrm_notifications_total", tuple(sorted(labels.items())))


async def test_metrics_are_off_without_a_token(client: Any) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert "poscrm" not in response.text


@pytest.mark.usefixtures("metrics_on")
async def test_a_scraper_needs_the_token(client: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert "poscrm_" not in response.text


@pytest.mark.usefixtures("metrics_on")
async def test_totals_after_a_real_delivery(
    client: Any, gql: Any, factory: Any, runtime: Any
) -> None:
    token = await factory.token(Permission.CUSTOMER_ADD)
    created = await gql(
        'mutation { customerCreate(input: {name: "Ada", phone: "2125550100", '
        'email: "ada@example.com"}) { customer { id } errors { code } } }',
        token=token,
    )
    customer_id = uuid.UUID(created["data"]["customerCreate"]["customer"]["id"])
    before = await scrape(client)
    queued = ("poscrm_notifications_queued", (("channel", "EMAIL"), ("scenario", "REGISTRATION")))
    assert before[queued] == 1
    assert before[("poscrm_queue_depth", ())] == 1
    assert notifications("SENT") not in before

    await run_worker(runtime, RecordingGateway())
    await factory.notification(
        customer_id, "SMS", attempts=(("PERMANENT", "HTTP 400"),), status="FAILED"
    )
    await factory.notification(customer_id, "SMS", status="SKIPPED")

    after = await scrape(client)
    assert after[notifications("SENT")] == 1
    assert after[notifications("FAILED", "SMS")] == 1
    assert after[notifications("SKIPPED", "SMS")] == 1
    assert after.get(queued, 0) == 0
    assert after[("poscrm_queue_depth", ())] == 0
    assert after[("poscrm_metrics_source_up", (("source", "database"),))] == 1
    assert after[("poscrm_metrics_source_up", (("source", "redis"),))] == 1
    assert 0 < after[("poscrm_metrics_scrape_seconds", ())] < 1


@pytest.mark.usefixtures("metrics_on")
async def test_webhook_failures_are_counted(client: Any, factory: Any, runtime: Any) -> None:
    local = factory.settings.model_copy(update={"webhook_allow_private": True})
    endpoint = await WebhookEndpointService(runtime.tx, local, None).create(
        "http://127.0.0.1:9/never", ["sale.completed"]
    )
    assert endpoint.value

    async def record(uow: UnitOfWork) -> None:
        rows = [
            {
                "endpoint_id": endpoint.value.id,
                "event_id": uuid.uuid4(),
                "event": "sale.completed",
                "payload": {},
                "status": status,
                "attempts": 1,
            }
            for status in ("FAILED", "FAILED", "DELIVERED", "PENDING")
        ]
        await WebhookRepository(uow.session).insert_deliveries(
            [{"id": uuid.uuid4(), **row} for row in rows]
        )

    assert (await runtime.tx.run(None, record)).errors == []
    samples = await scrape(client)
    event = ("event", "sale.completed")
    assert samples[("poscrm_webhook_deliveries_total", (event, ("status", "FAILED")))] == 2
    assert samples[("poscrm_webhook_deliveries_total", (event, ("status", "DELIVERED")))] == 1
    assert samples[("poscrm_webhook_deliveries_pending", (event,))] == 1


@pytest.mark.usefixtures("metrics_on")
async def test_a_registered_gauge_is_read_at_scrape_and_a_stuck_one_left_out(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.metrics as metrics

    monkeypatch.setattr(metrics, "_GAUGES", {})
    monkeypatch.setattr(metrics, "SOURCE_WAIT_SECONDS", 0.05)

    async def credits(_: Any) -> float:
        return 42

    async def stuck(_: Any) -> float:
        await asyncio.sleep(5)
        return 1

    register_gauge("poscrm_sms_credits_available", "SMS credits left.", credits)
    register_gauge("poscrm_stuck", "Never answers.", stuck)
    samples = await scrape(client)
    assert samples[("poscrm_sms_credits_available", ())] == 42
    assert ("poscrm_stuck", ()) not in samples


@pytest.mark.usefixtures("metrics_on")
async def test_sms_credits_left_are_read_at_scrape(client: Any, factory: Any) -> None:
    await factory.sms_credits(37)
    samples = await scrape(client)
    assert samples[("poscrm_sms_credits_available", ())] == 37
