"""arq worker settings: job functions, cron schedules, and the resources jobs find in ``ctx``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq import Worker, cron, func

from app.db.engine import Database
from app.jobs.analytics import refresh_sales_aggregates
from app.jobs.discount_audit import audit_discounts
from app.jobs.discounts import EXPIRY_MINUTES, expire_customer_discounts
from app.jobs.forecasts import refresh_demand_forecasts
from app.jobs.loyalty import expire_loyalty_points, refresh_loyalty_tiers
from app.jobs.marketing import fan_out_marketing
from app.jobs.notifications import deliver_notification
from app.jobs.outbox import relay_outbox
from app.jobs.queue import ArqJobQueue, redis_settings
from app.jobs.webhooks import deliver_webhook
from app.services.auth import generated_secrets_for
from app.services.delivery_gateways import gateways_from_settings
from app.services.gateways import MessageGateway, close_gateway
from app.services.marketing.messages import MarketingMessages
from app.services.notifications import NotificationDelivery
from app.services.stamps import VersionStamps
from app.services.unit_of_work import Transactions
from app.settings import Settings

log = logging.getLogger(__name__)


def functions(settings: Settings) -> list[Any]:
    return [
        # keep_result=0: the database row is the record, and a kept result would block
        # re-enqueueing the same job id (STYLE.md).
        func(
            deliver_notification,
            keep_result=0,
            max_tries=6,
            timeout=settings.delivery_job_timeout_seconds,
        ),
        # The delivery row counts attempts and ends the retries (webhook_max_attempts);
        # arq's own limit is only a backstop.
        func(
            deliver_webhook,
            keep_result=0,
            max_tries=100,
            timeout=settings.delivery_job_timeout_seconds,
        ),
        # 10,000 recipients are ten batches and ~5 s of enqueues; a run cut short by the
        # timeout is retried and carries on where it stopped, and a second start (after
        # the in-progress mark below lapses) enqueues only what is not yet queued.
        func(fan_out_marketing, keep_result=0, max_tries=10, timeout=600),
    ]


def _nightly(job: Any, *, hour: int, minute: int) -> Any:
    """A daily cron; run_at_startup catches up a night missed while no worker ran (each
    job's job_runs slot makes a done night a no-op)."""
    return cron(
        job,
        hour=hour,
        minute=minute,
        second=0,
        run_at_startup=True,
        unique=True,
        keep_result=0,
        timeout=3600,
    )


def build_worker(
    settings: Settings,
    redis_url: str,
    *,
    db: Database | None = None,
    gateway: MessageGateway | None = None,
    burst: bool = False,
    poll_delay: float = 0.05,
    handle_signals: bool = False,
) -> Worker:
    """An arq worker; ``db`` and ``gateway`` may be shared with an API process or a test."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        database = db or Database(settings.effective_database_url)
        ctx["own_db"] = db is None
        ctx["db"] = database
        ctx["settings"] = settings
        queue = ArqJobQueue(ctx["redis"], settings.queue_name)
        # Nothing cached here, but a delivery that disables an endpoint tells the API
        # processes, which cache the subscriptions (stamps.WEBHOOK_SUBSCRIPTIONS).
        stamps = VersionStamps(ctx["redis"], prefix=settings.redis_prefix)
        ctx["tx"] = Transactions(database, queue, stamps)
        # A gateway built here is this worker's to close (its kept-open connections).
        ctx["own_gateway"] = gateway is None
        ctx["delivery"] = NotificationDelivery(
            database,
            gateway or gateways_from_settings(settings),
            passwords=generated_secrets_for(settings),
            tx=ctx["tx"],
            marketing=MarketingMessages(database, settings.public_url),
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await close_own_gateway(ctx)
        if ctx.get("own_db"):
            await ctx["db"].dispose()

    worker = Worker(
        functions=functions(settings),
        cron_jobs=[
            cron(
                relay_outbox,
                second={0, 15, 30, 45},
                run_at_startup=True,
                unique=True,
                keep_result=0,
            ),
            # The job_runs row, not arq's unique flag, keeps two workers from both running
            # a slot; run_at_startup catches up on what expired while no worker ran.
            cron(
                expire_customer_discounts,
                minute=EXPIRY_MINUTES,
                second=0,
                run_at_startup=True,
                unique=True,
                keep_result=0,
                timeout=300,
            ),
            # Hourly; the watermark, not the slot, says what is new, so a late or missed
            # run leaves nothing unjudged, and the job_runs row keeps two workers apart.
            cron(
                audit_discounts,
                minute=20,
                second=0,
                run_at_startup=True,
                unique=True,
                keep_result=0,
                timeout=1800,
            ),
            # After midnight UTC, once the day's sales are in (a day is a UTC day); the
            # forecast runs the night's aggregates itself if it starts first.
            _nightly(refresh_demand_forecasts, hour=2, minute=20),
            _nightly(refresh_sales_aggregates, hour=2, minute=20),
            # Daily, in the quiet hours.
            _nightly(expire_loyalty_points, hour=3, minute=10),
            # After midnight UTC, the window's end: yesterday's sales count and the oldest
            # day drops out (demotions).
            _nightly(refresh_loyalty_tiers, hour=3, minute=40),
        ],
        redis_settings=redis_settings(redis_url),
        queue_name=settings.queue_name,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        burst=burst,
        poll_delay=poll_delay,
        max_jobs=100,
        handle_signals=handle_signals,
    )
    # arq marks a started job "in progress" in Redis for its longest function timeout plus
    # 10 s, and no worker runs the job again until the mark expires: with the hour-long
    # points expiry that was an hour before a killed worker's notification was sent. The
    # crons need no mark this long (a job_runs row guards each slot, app/services/
    # scheduled.py); deliveries need it as long as one delivery may run.
    worker.in_progress_timeout_s = settings.delivery_job_timeout_seconds + 10
    return worker


async def close_own_gateway(ctx: dict[str, Any]) -> None:
    """Close the gateway the worker built (kept-open SMTP and HTTP connections); never raises."""
    delivery = ctx.get("delivery")
    if not ctx.pop("own_gateway", False) or delivery is None:
        return
    try:
        await close_gateway(delivery.gateway)
    except Exception:
        log.warning("closing the notification gateways failed", exc_info=True)


async def run_worker(
    settings: Settings,
    redis_url: str,
    *,
    db: Database,
    gateway: MessageGateway | None = None,
    poll_delay: float = 0.05,
) -> None:
    """Run an arq worker until it fails or is cancelled, then release it whatever Redis's state.

    A new ``Worker`` each run: arq's keeps its pool and start-up state, so a supervisor
    (``app/supervisor.py``) restarts a dead worker by calling this again.
    """
    worker = build_worker(settings, redis_url, db=db, gateway=gateway, poll_delay=poll_delay)
    try:
        await worker.async_run()
    finally:
        await asyncio.shield(close_worker(worker))


async def close_worker(worker: Worker) -> None:
    """Cancel the worker's loop and jobs and close its Redis pool; never raises.

    arq's own ``Worker.close`` talks to Redis first (it deletes its health-check key) and,
    with Redis gone, raises before it closes anything (issue 9 §5). Jobs cut short here are
    retried: every job is idempotent and the outbox row is the record.
    """
    tasks = [t for t in (*worker.tasks.values(), worker.main_task) if t is not None]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=10)
    # arq's on_shutdown runs only from its own close, which this replaces.
    await close_own_gateway(worker.ctx)
    # arq's ``pool`` property hides whether it ever connected; ``_pool`` says.
    pool, worker._pool = worker._pool, None
    if pool is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pool.delete(worker.health_check_key), timeout=2)
    try:
        await pool.aclose(close_connection_pool=True)
    except Exception:
        log.warning("closing the worker's Redis pool failed", exc_info=True)
