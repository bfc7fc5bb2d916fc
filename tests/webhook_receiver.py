"""A real webhook receiver for tests: Starlette under uvicorn on a free 127.0.0.1 port.

It checks each delivery's signature the way the README tells a shop to, and answers
with the status codes a test queues (default 200); a bad signature gets 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.local_http import serving

HANG = -1  # an answer that never comes in time


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The README's verification snippet, word for word."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old: a replay
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-poscrm-signature", "")
        ok = bool(self.secret) and verify(self.secret, header, body)
        self.received.append(Received(request.url.path, dict(request.headers), body, ok))
        answer = self.answers.pop(0) if self.answers else 200
        if answer == HANG:
            await asyncio.sleep(2)
            answer = 200
        if not ok:
            return Response("bad signature", status_code=400)
        headers = {"Location": "/elsewhere"} if 300 <= answer < 400 else None
        return Response(status_code=answer, headers=headers)

    def events(self) -> list[str]:
        return [r.json["type"] for r in self.received]


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    async with serving(app) as port:
        receiver.url = f"http://127.0.0.1:{port}"
        yield receiver


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (a refused connection)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
