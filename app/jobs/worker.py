"""arq worker settings: job functions, cron schedules, and the resources jobs find in ``ctx``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq import Worker, cron, func

from app.db.engine import Database
from app.jobs.analytics import refresh_sales_aggregates
from app.jobs.discounts import EXPIRY_MINUTES, expire_customer_discounts
from app.jobs.loyalty import expire_loyalty_points
from app.jobs.notifications import deliver_notification
from app.jobs.outbox import relay_outbox
from app.jobs.queue import ArqJobQueue, redis_settings
from app.jobs.webhooks import deliver_webhook
from app.services.auth import passwords_for
from app.services.delivery_gateways import gateways_from_settings
from app.services.gateways import MessageGateway
from app.services.notifications import NotificationDelivery
from app.services.unit_of_work import Transactions
from app.settings import Settings

log = logging.getLogger(__name__)

FUNCTIONS = [
    # keep_result=0: the database row is the record, and a kept result would block
    # re-enqueueing the same job id (STYLE.md).
    func(deliver_notification, keep_result=0, max_tries=6, timeout=60),
    # The delivery row counts attempts and ends the retries (webhook_max_attempts);
    # arq's own limit is only a backstop.
    func(deliver_webhook, keep_result=0, max_tries=100, timeout=60),
]


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
        ctx["tx"] = Transactions(database, queue)
        ctx["delivery"] = NotificationDelivery(
            database,
            gateway or gateways_from_settings(settings),
            passwords=passwords_for(settings),
            tx=ctx["tx"],
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if ctx.get("own_db"):
            await ctx["db"].dispose()

    return Worker(
        functions=FUNCTIONS,
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
            # Daily, in the quiet hours; run_at_startup catches up after downtime.
            cron(
                expire_loyalty_points,
                hour=3,
                minute=10,
                second=0,
                run_at_startup=True,
                unique=True,
                keep_result=0,
                timeout=3600,
            ),
            # After midnight UTC, when yesterday's sales are all in (a day is a UTC day).
            cron(
                refresh_sales_aggregates,
                hour=2,
                minute=20,
                second=0,
                run_at_startup=True,
                unique=True,
                keep_result=0,
                timeout=3600,
            ),
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
