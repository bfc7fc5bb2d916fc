"""``poscrm``: serve | worker | migrate | create-admin | seed-demo | export-schema |
import-customers | export-customers | import-products."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.observability import configure_logging
from app.settings import Settings

SCHEMA_FILE = Path("schema.graphql")


def _migrate(settings: Settings) -> None:
    from app.db.migrate import upgrade
    from app.private_files import private_dir

    private_dir(settings.resolved_data_dir)
    upgrade(settings.effective_database_url)


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    _migrate(settings)
    print("database is at the latest migration")
    return 0


def proxy_options(settings: Settings, forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn's forwarded-header options: off unless trusted proxies are configured.

    uvicorn by default believes X-Forwarded-For from 127.0.0.1, so anything on the host
    (or a local proxy passing on whatever a client sent) could pick the address the login
    throttle keys on. Only the configured proxies' headers are believed.
    """
    allowed = (
        forwarded_allow_ips if forwarded_allow_ips is not None else settings.forwarded_allow_ips
    ).strip()
    if not allowed:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": allowed}


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from app import serve

    with_worker = settings.uses_embedded_redis if args.worker is None else args.worker
    print(
        f"poscrm: GraphiQL at http://{args.host}:{args.port}/graphql  (Ctrl-C stops)",
        flush=True,
    )
    serve.run(
        settings,
        host=args.host,
        port=args.port,
        workers=args.workers,
        with_worker=with_worker,
        proxy=proxy_options(settings, args.forwarded_allow_ips),
    )
    return 0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_worker(settings))


async def _worker(settings: Settings) -> int:
    """Run a supervised worker until SIGTERM/SIGINT (0) or until it keeps dying (1).

    A worker that dies is restarted (logged); after ``POSCRM_WORKER_RESTART_LIMIT`` quick
    deaths in a row the process exits non-zero, for its service manager to see. On the
    embedded Redis it owns the server only if it started first, and never stops one that
    another poscrm process still uses (issue 9 §5).
    """
    import logging
    import signal

    from app.runtime import Runtime

    log = logging.getLogger("app.worker")
    runtime = await Runtime.start(
        settings,
        with_worker=True,
        worker_restart_limit=settings.worker_restart_limit,
        bounded=False,
    )
    worker = runtime.worker
    assert worker is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(worker.gave_up.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        await runtime.close()
    if worker.gave_up.is_set():
        log.error("worker: exiting with status 1, the worker kept dying")
        return 1
    log.info("worker stopped")
    return 0


async def _create_admin(settings: Settings, username: str, password: str) -> int:
    from app.db.engine import Database
    from app.services.auth import AuthService
    from app.services.unit_of_work import Transactions

    db = Database(settings.effective_database_url)
    try:
        service = AuthService(Transactions(db, None), settings, throttle=None, actor=None)
        result = await service.create_admin(username, password)
    finally:
        await db.dispose()
    if result.errors:
        for error in result.errors:
            print(f"error: {error.code}: {error.message}", file=sys.stderr)
        return 1
    print(f"created administrator {username!r}")
    return 0


def cmd_create_admin(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_create_admin(settings, args.username, args.password))


async def _run_job(settings: Settings, name: str, day: str | None) -> int:
    """Run one scheduled job now, for ``day``'s slot (default: now), through its run key."""
    import json
    from datetime import UTC, datetime, time

    from app.db.engine import Database
    from app.services.job_registry import SCHEDULED_JOBS
    from app.services.unit_of_work import Transactions, utcnow

    job = SCHEDULED_JOBS.get(name)
    if job is None:
        print(f"error: no job {name!r}; jobs: {', '.join(sorted(SCHEDULED_JOBS))}", file=sys.stderr)
        return 2
    try:
        at = datetime.combine(datetime.fromisoformat(day).date(), time(), UTC) if day else utcnow()
    except ValueError:
        print(f"error: --for takes a date such as 2026-12-01, not {day!r}", file=sys.stderr)
        return 2
    db = Database(settings.effective_database_url)
    try:
        run = await job.run(Transactions(db, None), at)
    finally:
        await db.dispose()
    if not run.claimed:
        print(f"{name}: that slot was already done (see jobRuns)")
        return 0
    print(json.dumps({"job": name, **(run.result or {})}, default=str))
    return 0


def cmd_run_job(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run_job(settings, args.name, args.day))


async def _rebuild_aggregates(settings: Settings) -> int:
    import json

    from app.db.engine import Database
    from app.services.sales_aggregates import rebuild
    from app.services.unit_of_work import Transactions

    db = Database(settings.effective_database_url)
    try:
        result = await rebuild(Transactions(db, None))
    finally:
        await db.dispose()
    print(json.dumps({"rebuilt": result}))
    return 0


def cmd_rebuild_aggregates(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(_rebuild_aggregates(settings))


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import seed_demo

    return asyncio.run(seed_demo(settings, customers=args.customers))


async def _import_customers(settings: Settings, args: argparse.Namespace) -> int:
    from app.db.engine import Database
    from app.progress import ProgressBar
    from app.services.customer_import import (
        CustomerImportService,
        ImportRefused,
        default_report_path,
        read_csv,
        write_report,
    )
    from app.services.unit_of_work import Transactions

    source_path = Path(args.file)
    try:
        source = read_csv(source_path)
    except ImportRefused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    db = Database(settings.effective_database_url)
    bar = ProgressBar()
    try:
        service = CustomerImportService(Transactions(db, None), settings, actor=None)
        outcome = await service.run(
            source, all_or_nothing=args.all_or_nothing, dry_run=args.dry_run, progress=bar.update
        )
    finally:
        bar.close()
        await db.dispose()
    report = Path(args.report) if args.report else default_report_path(source_path)
    if outcome.rejects:
        write_report(source, outcome.rejects, report)
    verb = "would import" if args.dry_run else "imported"
    count = outcome.accepted if args.dry_run else outcome.imported
    if args.all_or_nothing and outcome.rejects:
        count = 0
    print(f"{verb} {count} of {outcome.rows} rows, rejected {len(outcome.rejects)}")
    if outcome.rejects:
        print(f"rejected rows and reasons: {report}")
    if args.all_or_nothing and outcome.rejects:
        print("nothing imported: --all-or-nothing and some rows were rejected", file=sys.stderr)
    return 0 if count > 0 else 1


def cmd_import_customers(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_import_customers(settings, args))


async def _import_products(settings: Settings, args: argparse.Namespace) -> int:
    from app.db.engine import Database
    from app.progress import ProgressBar
    from app.services.customer_import import ImportRefused, default_report_path, write_report
    from app.services.product_import import ProductImportService, read_products
    from app.services.unit_of_work import Transactions

    source_path = Path(args.file)
    db = Database(settings.effective_database_url)
    bar = ProgressBar()
    try:
        source = read_products(source_path)
        service = ProductImportService(Transactions(db, None), actor=None)
        outcome = await service.run(
            source, store_code=args.store, dry_run=args.dry_run, progress=bar.update
        )
    except ImportRefused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        await db.dispose()
    report = Path(args.report) if args.report else default_report_path(source_path)
    if outcome.rejects:
        write_report(source, outcome.rejects, report)
    verb = "would create" if args.dry_run else "created"
    print(
        f"{verb} {outcome.created}, updated {outcome.updated}, unchanged {outcome.unchanged}"
        f" of {outcome.rows} rows, rejected {len(outcome.rejects)};"
        f" stock set for {outcome.stock_set} in {outcome.store_code}"
    )
    if outcome.rejects:
        print(f"rejected rows and reasons: {report}")
    return 0 if outcome.accepted or not outcome.rejects else 1


def cmd_import_products(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_import_products(settings, args))


async def _export_customers(settings: Settings, args: argparse.Namespace) -> int:
    from app.db.engine import Database
    from app.services.customer_export import CustomerExportService
    from app.services.unit_of_work import Transactions

    db = Database(settings.effective_database_url)
    service = CustomerExportService(Transactions(db, None), settings, actor=None)
    target = Path(args.output) if args.output else None
    try:
        if target is None:
            outcome = await service.export(sys.stdout, include_pii=args.include_pii)
        else:
            # Written aside and renamed: a failed export never leaves half a file behind.
            partial = target.with_name(target.name + ".partial")
            with partial.open("w", encoding="utf-8", newline="") as out:
                outcome = await service.export(out, include_pii=args.include_pii)
            partial.replace(target)
    finally:
        await db.dispose()
    where = target or "stdout"
    print(f"exported {outcome.customers} customers to {where}", file=sys.stderr)
    if outcome.addresses_left_out:
        print(
            f"note: {outcome.addresses_left_out} customers have more than one address;"
            " only the first is in the file",
            file=sys.stderr,
        )
    return 0


def cmd_export_customers(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_export_customers(settings, args))


def cmd_export_schema(_: Settings, args: argparse.Namespace) -> int:
    from app.schema.export import sdl

    Path(args.output).write_text(sdl())
    print(f"wrote {args.output}")
    return 0


def _process_count(text: str) -> int:
    count = int(text)
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("between 1 and 64")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="poscrm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (and, on embedded Redis, a worker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--worker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run an arq worker in-process (default: on with embedded Redis)",
    )
    serve.add_argument(
        "--workers",
        type=_process_count,
        default=1,
        help="API processes sharing the port (default 1); for a chain on PostgreSQL and a "
        "shared Redis, about one per core",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="comma-separated proxy addresses whose X-Forwarded-For/-Proto are believed "
        "(default: POSCRM_FORWARDED_ALLOW_IPS, else none: the peer address is the client)",
    )
    serve.set_defaults(handler=cmd_serve)

    commands.add_parser("worker", help="run an arq worker").set_defaults(handler=cmd_worker)
    commands.add_parser("migrate", help="upgrade the database").set_defaults(handler=cmd_migrate)

    admin = commands.add_parser("create-admin", help="create the first administrator")
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", required=True)
    admin.set_defaults(handler=cmd_create_admin)

    demo = commands.add_parser("seed-demo", help="fill an empty database with a demo shop")
    demo.add_argument("--customers", type=int, default=300)
    demo.set_defaults(handler=cmd_seed_demo)

    job = commands.add_parser("run-job", help="run one scheduled job now, under its run key")
    job.add_argument("name", help="the job's name, as jobRuns lists it")
    job.add_argument("--for", dest="day", help="the day whose slot to run (YYYY-MM-DD)")
    job.set_defaults(handler=cmd_run_job)

    commands.add_parser(
        "rebuild-aggregates",
        help="recompute every daily aggregate and customer segment from all sales",
    ).set_defaults(handler=cmd_rebuild_aggregates)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", default=str(SCHEMA_FILE))
    export.set_defaults(handler=cmd_export_schema)

    load = commands.add_parser(
        "import-customers",
        help="import customers from a CSV file (valid rows, committed 5,000 at a time; "
        "rejects to a report)",
    )
    load.add_argument("file", help="UTF-8 CSV, a header row of API field names")
    load.add_argument(
        "--all-or-nothing",
        action="store_true",
        help="import nothing if any row is rejected (one transaction: tills wait for it)",
    )
    load.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
    load.add_argument("--report", help="rejects report path (default: FILE.rejects.csv)")
    load.set_defaults(handler=cmd_import_customers)

    products = commands.add_parser(
        "import-products",
        help="create or update products from a CSV price list (valid rows; rejects to a report)",
    )
    products.add_argument("file", help="UTF-8 CSV: sku,name,price[,category][,stock]")
    products.add_argument("--dry-run", action="store_true", help="check every row, change nothing")
    products.add_argument(
        "--store", help="store code the stock column counts (default: head office)"
    )
    products.add_argument("--report", help="rejects report path (default: FILE.rejects.csv)")
    products.set_defaults(handler=cmd_import_products)

    dump = commands.add_parser(
        "export-customers", help="write customers as CSV, in the columns the import reads"
    )
    dump.add_argument("--output", help="CSV file to write (default: stdout)")
    dump.add_argument(
        "--include-pii",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="phones, emails, addresses, birth dates, tax numbers (default: included)",
    )
    dump.set_defaults(handler=cmd_export_customers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    return int(args.handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
