"""A real HTTP server on 127.0.0.1 for what lies outside our walls (an SMS provider, a
webhook receiver): uvicorn serving a small Starlette app in the test's own event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


@asynccontextmanager
async def serving(app: ASGIApp, port: int | None = None) -> AsyncIterator[int]:
    """Serve ``app`` on ``port`` (any free one by default) until the block ends; its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A fixed port is the one a "down, then back" test serves again: no TIME_WAIT refusal.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port or 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()
