"""``poscrm serve``: the API in one process, or in N processes sharing one listening socket.

One process (the default) builds the app here and hands uvicorn the object. With
``--workers N`` uvicorn's supervisor binds the socket once and spawns N fresh
interpreters; a spawned process cannot receive objects built here, so it imports the app
factory and the HTTP protocol by name and reads the same ``POSCRM_*`` settings from the
environment it inherits. The supervisor replaces a process that dies or stops answering
its health check, rolls every process on SIGHUP (a new one serving before the old one
stops) and stops them all on SIGTERM/SIGINT.

Several processes share the database and Redis and nothing else: the caches that must
agree across processes are invalidated through Redis (docs/architecture.md).
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from starlette.applications import Starlette

from app.http_protocol import TimedHttpProtocol, timed_http_protocol
from app.observability import configure_logging
from app.settings import Settings

# How the parent tells its spawned processes whether each runs an arq worker too.
_WITH_WORKER = "POSCRM_SERVE_WITH_WORKER"


class ServedHttpProtocol(TimedHttpProtocol):
    """The header-timeout protocol for spawned processes, imported by name: its timeout
    comes from the inherited settings, not from a class made at run time."""

    header_timeout = Settings().header_timeout_seconds


def served_app() -> Starlette:
    """The app factory each spawned process calls (``uvicorn app.serve:served_app``)."""
    from app.main import create_app

    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings, with_worker=os.environ.get(_WITH_WORKER) == "1")


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    with_worker: bool,
    proxy: dict[str, Any],
) -> None:
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        # A spawned process imports the whole app before it answers; on a loaded machine
        # that takes longer than uvicorn's 5 s, and the supervisor would kill it unborn.
        "timeout_worker_healthcheck": 30,
        **proxy,
    }
    if workers == 1:
        from app.main import create_app

        uvicorn.run(
            create_app(settings, with_worker=with_worker),
            # httptools with a header-read timeout (slowloris), which uvicorn lacks.
            http=timed_http_protocol(settings.header_timeout_seconds),
            **options,
        )
        return
    os.environ[_WITH_WORKER] = "1" if with_worker else "0"
    uvicorn.run(
        "app.serve:served_app",
        factory=True,
        workers=workers,
        http="app.serve:ServedHttpProtocol",
        **options,
    )
