"""Notification deliveries per second through the whole pipeline, with one worker.

Usage: ``.venv/bin/python bench/notifications.py [--notifications N]`` (default 2,000).
With ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` it runs on PostgreSQL (a database of
its own, created and dropped); otherwise on a SQLite file in a temporary folder. Redis is
the embedded one unless ``POSCRM_REDIS_URL`` names another (only 127.0.0.1 here).

Each series first creates N customers with an email through CustomerService (as the API
does): each queues its registration notification, an outbox row that reaches arq at
commit. Then one arq worker, built as ``poscrm worker`` builds it (its own database
engines, ``max_jobs`` 100, the event loop ``poscrm worker`` runs), runs in burst mode
until the queue is empty, and every notification must be SENT with its outbox row
processed. Timed: the worker from start to the last job.

Gateways: the file gateway (the default, a JSON line per message in the data folder) and
SMTP to aiosmtpd on 127.0.0.1 in a process of its own (its Sink handler: accepts and
drops). Baseline in the same run, on the same Redis: N no-op arq jobs through a worker
with the same ``max_jobs`` and poll delay: what arq itself costs per job.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import scratch_database, temp_dir
from arq import Worker
from arq.connections import create_pool
from pydantic import SecretStr
from sqlalchemy import event, text

from app.db.engine import Database
from app.jobs.queue import redis_settings
from app.jobs.worker import build_worker
from app.runtime import Runtime
from app.settings import Settings

SENDER = "Bench Shop <shop@example.com>"
SINK = "aiosmtpd.handlers.Sink"  # accepts every message and keeps none
POLL_DELAY = 0.05  # build_worker's default, as `poscrm worker` runs


async def noop(_ctx: dict[str, Any]) -> None:
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def noop_rate(redis_url: str, n: int) -> tuple[float, float]:
    """Jobs per second, and this process's CPU seconds per job."""
    queue = f"bench-noop-{os.getpid()}"
    pool = await create_pool(redis_settings(redis_url))
    try:
        for i in range(n):
            await pool.enqueue_job("noop", _job_id=f"noop-{i}", _queue_name=queue)
        worker = Worker(
            functions=[noop],
            redis_settings=redis_settings(redis_url),
            queue_name=queue,
            burst=True,
            poll_delay=POLL_DELAY,
            max_jobs=100,
            keep_result=0,
            handle_signals=False,
        )
        started, cpu = time.perf_counter(), time.process_time()
        await worker.main()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        await worker.close()
        if worker.jobs_complete != n:
            raise RuntimeError(f"no-op: {worker.jobs_complete} of {n} jobs ran")
        return n / elapsed, cpu / n
    finally:
        await pool.aclose()


async def create_customers(runtime: Runtime, n: int, series: str) -> None:
    from tests.factories import Factory

    factory = Factory(runtime)
    area = {"file": 720, "smtp": 303}[series]
    for i in range(n):
        # Exchanges 555-599: up to 450,000 numbers a series.
        phone = f"+1{area}{555 + i // 10000}{i % 10000:04d}"
        await factory.customer(f"Bench {series} {i}", phone, email=f"{series}{i}@example.com")


async def deliver_all(
    runtime: Runtime, settings: Settings, n: int, series: str
) -> tuple[float, float, dict[str, float]]:
    """Deliveries per second, statements per delivery, and what the gateway and the
    worker's process (CPU ms per delivery, its database threads included) spent."""
    await create_customers(runtime, n, series)
    queued = await runtime.queue.pool.zcard(settings.queue_name)
    if queued < n:
        raise RuntimeError(f"only {queued} of {n} jobs reached arq")
    db = Database(settings.effective_database_url)  # `poscrm worker`'s: unbounded
    statements: Counter[str] = Counter()

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements[statement.split(None, 1)[0].upper()] += 1

    for engine in {db.engine, db.write_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    worker = build_worker(settings, runtime.redis_url, db=db, burst=True, poll_delay=POLL_DELAY)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await worker.main()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        gateway = worker.ctx["delivery"].gateway.by_channel["EMAIL"]
        await worker.close()
        await db.dispose()
    async with runtime.db.read() as session:
        unsettled = (
            await session.execute(text("SELECT count(*) FROM notifications WHERE status <> 'SENT'"))
        ).scalar_one()
        open_rows = (
            await session.execute(text("SELECT count(*) FROM outbox WHERE processed_at IS NULL"))
        ).scalar_one()
    if unsettled or open_rows:
        raise RuntimeError(f"{series}: {unsettled} not SENT, {open_rows} outbox rows open")
    seen = {"connections": getattr(gateway, "connects", 0), "cpu_ms": cpu / n * 1000}
    per_delivery = sum(statements.values()) / n
    print(
        f"  statements per delivery: {per_delivery:.1f} "
        f"({', '.join(f'{k} {v / n:.1f}' for k, v in sorted(statements.items()))})"
    )
    return n / elapsed, per_delivery, seen


async def run(n: int, smtp_port: int) -> None:
    tmp = temp_dir()
    async with scratch_database(tmp, "notifications") as database_url:
        base = Settings(
            data_dir=tmp,
            database_url=database_url,
            redis_url=os.environ.get("POSCRM_REDIS_URL", ""),
        )
        runtime = await Runtime.start(base)
        try:
            backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
            print(f"{backend}, {n} notifications per series, one worker (max_jobs 100)")
            noop_before, noop_cpu = await noop_rate(runtime.redis_url, n)
            rate_file, _, file_seen = await deliver_all(runtime, base, n, "file")
            await wait_for_port(smtp_port)
            smtp_settings = base.model_copy(
                update={
                    "smtp_url": SecretStr(f"smtp://127.0.0.1:{smtp_port}"),
                    "smtp_from": SENDER,
                }
            )
            rate_smtp, _, smtp_seen = await deliver_all(runtime, smtp_settings, n, "smtp")
            noop_after, _ = await noop_rate(runtime.redis_url, n)
            # The machine drifts over a run: the deliveries are compared with the mean of
            # the no-op rates measured before and after them.
            noop = (noop_before + noop_after) / 2
            print(
                f"arq no-op jobs:          {noop:6.0f} jobs/s (before {noop_before:.0f}, "
                f"after {noop_after:.0f}), {noop_cpu * 1000:.2f} ms CPU a job"
            )
            for label, rate, seen in (
                ("file gateway:", rate_file, file_seen),
                ("SMTP (aiosmtpd, local):", rate_smtp, smtp_seen),
            ):
                print(
                    f"{label:24s}{rate:6.0f} deliveries/s, {rate / noop:4.0%} of the no-op "
                    f"rate, {seen['cpu_ms']:.2f} ms CPU a delivery"
                    + (
                        f", {seen['connections']:.0f} SMTP connections"
                        if seen["connections"]
                        else ""
                    )
                )
        finally:
            await runtime.close()


async def wait_for_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("aiosmtpd did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notifications", type=int, default=2000)
    args = parser.parse_args()
    smtp_port = free_port()
    # A process of its own, so its work is not the worker's event loop's.
    smtp = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}", "-c", SINK],
        stdout=subprocess.DEVNULL,
    )
    try:
        # asyncio's own loop: `poscrm worker` runs on it (only `serve` runs uvloop).
        asyncio.run(run(args.notifications, smtp_port))
    finally:
        smtp.terminate()
        smtp.wait(10)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
