"""GET /metrics: Prometheus text for what was sent and how it went (issue 10 §6).

Off unless ``POSCRM_METRICS_TOKEN`` is set: the totals are business volumes (how many
customers registered, how many marketing messages went out), so a scraper must send
``Authorization: Bearer <token>``. Without a token the route answers 404, as if absent;
a wrong or missing token gets 401. No loopback exception: behind a reverse proxy on the
same host every request comes from loopback.

Everything is read at scrape time, so the answer is right whichever process serves it
and however many workers deliver (app/services/delivery_metrics.py):

- ``poscrm_notifications_total{channel,scenario,status}``: SENT, FAILED and SKIPPED;
- ``poscrm_notifications_queued{channel,scenario}``: waiting for a (re)try;
- ``poscrm_webhook_deliveries_total{event,status}``: DELIVERED, FAILED (the failures)
  and SKIPPED; ``poscrm_webhook_deliveries_pending{event}``;
- ``poscrm_queue_depth``: jobs in the arq queue now (Redis asked with a short timeout);
- ``poscrm_metrics_source_up{source}``: 0 when the database or Redis did not answer in
  time (its metrics are then left out rather than reported as zero);
- ``poscrm_metrics_scrape_seconds``: what this scrape cost;
- any gauge registered with ``register_gauge`` (e.g. SMS credits left, read when scraped).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app.runtime import Runtime
from app.services.delivery_metrics import DeliveryTotals, delivery_totals
from app.services.sms_credits import SmsCreditService

log = logging.getLogger(__name__)

# A scrape answers within about this long per source, whatever is stuck.
SOURCE_WAIT_SECONDS = 1.0

# What a notification or webhook delivery ends as; the rest are waiting.
NOTIFICATION_WAITING = "QUEUED"
WEBHOOK_WAITING = "PENDING"


@dataclass(frozen=True, slots=True)
class ScrapeGauge:
    name: str
    documentation: str
    read: Callable[[Runtime], Awaitable[float | None]]


_GAUGES: dict[str, ScrapeGauge] = {}


def register_gauge(
    name: str, documentation: str, read: Callable[[Runtime], Awaitable[float | None]]
) -> None:
    """Add a gauge read at every scrape, e.g. SMS credits left from the credits table.

    ``read`` gets the runtime (its database, Redis); None leaves the gauge out. Reading
    the value when scraped, not setting it when it changes, keeps it right across
    processes.
    """
    _GAUGES[name] = ScrapeGauge(name, documentation, read)


async def _sms_credits_available(runtime: Runtime) -> float:
    return float((await SmsCreditService(runtime.tx, None).get()).available)


register_gauge(
    "poscrm_sms_credits_available",
    "SMS credits (segments) left to send with; reserved ones are not counted.",
    _sms_credits_available,
)


class _Scraped(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self.metrics)


def _delivery_metrics(totals: DeliveryTotals) -> list[Metric]:
    sent = CounterMetricFamily(
        "poscrm_notifications",
        "Notifications that ended SENT, FAILED or SKIPPED.",
        labels=["channel", "scenario", "status"],
    )
    queued = GaugeMetricFamily(
        "poscrm_notifications_queued",
        "Notifications waiting for their first send or a retry.",
        labels=["channel", "scenario"],
    )
    for channel, scenario, status, count in totals.notifications:
        if status == NOTIFICATION_WAITING:
            queued.add_metric([channel, scenario], count)
        else:
            sent.add_metric([channel, scenario, status], count)
    webhooks = CounterMetricFamily(
        "poscrm_webhook_deliveries",
        "Webhook deliveries that ended DELIVERED, FAILED or SKIPPED.",
        labels=["event", "status"],
    )
    pending = GaugeMetricFamily(
        "poscrm_webhook_deliveries_pending",
        "Webhook deliveries with retries left.",
        labels=["event"],
    )
    for event, status, count in totals.webhooks:
        if status == WEBHOOK_WAITING:
            pending.add_metric([event], count)
        else:
            webhooks.add_metric([event, status], count)
    return [sent, queued, webhooks, pending]


async def _within(source: str, read: Awaitable[object]) -> object | None:
    try:
        async with asyncio.timeout(SOURCE_WAIT_SECONDS):
            return await read
    except Exception:
        log.warning("a metrics source did not answer", extra={"source": source})
        return None


async def scrape(runtime: Runtime) -> bytes:
    """The Prometheus text of one scrape."""
    started = time.perf_counter()
    metrics: list[Metric] = []
    up = GaugeMetricFamily(
        "poscrm_metrics_source_up",
        "1 when the source answered this scrape in time.",
        labels=["source"],
    )
    totals = await _within("database", delivery_totals(runtime.db))
    up.add_metric(["database"], 1 if totals is not None else 0)
    if isinstance(totals, DeliveryTotals):
        metrics += _delivery_metrics(totals)
    depth = await _within("redis", runtime.redis.zcard(runtime.settings.queue_name))
    up.add_metric(["redis"], 1 if depth is not None else 0)
    if isinstance(depth, int):
        metrics.append(
            GaugeMetricFamily("poscrm_queue_depth", "Jobs waiting in the arq queue.", value=depth)
        )
    for gauge in list(_GAUGES.values()):
        value = await _within(gauge.name, gauge.read(runtime))
        if isinstance(value, int | float):
            metrics.append(GaugeMetricFamily(gauge.name, gauge.documentation, value=value))
    metrics.append(up)
    metrics.append(
        GaugeMetricFamily(
            "poscrm_metrics_scrape_seconds",
            "How long this scrape took to read its sources.",
            value=time.perf_counter() - started,
        )
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scraped(metrics))
    return generate_latest(registry)


def _authorized(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def metrics_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = runtime.settings.metrics_token.get_secret_value()
    if not token:
        return PlainTextResponse("Not Found", status_code=404)
    if not _authorized(request, token):
        return PlainTextResponse(
            "Unauthorized", status_code=401, headers={"www-authenticate": "Bearer"}
        )
    return Response(await scrape(runtime), media_type=CONTENT_TYPE_LATEST)
