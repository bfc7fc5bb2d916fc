"""``poscrm``: serve | worker | migrate | create-admin | seed-demo | export-schema."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from app.observability import configure_logging
from app.settings import Settings

SCHEMA_FILE = Path("schema.graphql")


def _migrate(settings: Settings) -> None:
    from app.db.migrate import upgrade

    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    _migrate(settings)
    print("database is at the latest migration")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    with_worker = settings.uses_embedded_redis if args.worker is None else args.worker
    app = create_app(settings, with_worker=with_worker)
    print(
        f"poscrm: GraphiQL at http://{args.host}:{args.port}/graphql  (Ctrl-C stops)",
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    from app.embedded_redis import EmbeddedRedis
    from app.jobs.worker import build_worker

    redis_url = settings.redis_url
    embedded = None
    if settings.uses_embedded_redis:
        embedded = EmbeddedRedis(settings.resolved_data_dir)
        redis_url = embedded.start()
    worker = build_worker(settings, redis_url, handle_signals=True)
    try:
        worker.run()
    finally:
        if embedded is not None:
            embedded.stop()
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


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from app.demo import seed_demo

    return asyncio.run(seed_demo(settings, customers=args.customers))


def cmd_export_schema(_: Settings, args: argparse.Namespace) -> int:
    from app.schema.export import sdl

    Path(args.output).write_text(sdl())
    print(f"wrote {args.output}")
    return 0


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

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", default=str(SCHEMA_FILE))
    export.set_defaults(handler=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    return int(args.handler(settings, args))


if __name__ == "__main__":
    sys.exit(main())
