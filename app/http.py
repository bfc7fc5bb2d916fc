"""ASGI middleware: request ids and access logs, body-size limit, and what /graphql accepts."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import request_id_var

log = logging.getLogger("app.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


async def _reply(send: Send, status: int, message: str, request_id: str) -> None:
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"requestId": request_id}}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class RequestGuard:
    """One pass per request: id, limits, access log (method, path, status, time; no bodies)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, graphql_path: str = "/graphql"
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}
        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                status_holder["status"] = refusal[0]
                await _reply(send, refusal[0], refusal[1], request_id)
                return

            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge
                return message

            response_started = False

            async def send_with_id(message: Message) -> None:
                nonlocal response_started
                if message["type"] == "http.response.start":
                    response_started = True
                    status_holder["status"] = message["status"]
                    message.setdefault("headers", [])
                    message["headers"] = [
                        *message["headers"],
                        (b"x-request-id", request_id.encode()),
                    ]
                await send(message)

            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                if response_started:
                    raise
                status_holder["status"] = 413
                await _reply(send, 413, "Request body too large.", request_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder["status"],
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return 413, "Request body too large."
        if scope["path"] == self.graphql_path and scope["method"] == "POST":
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            # JSON only: form posts and multipart are how cross-site requests and
            # uploads would sneak in (CSRF needs no preflight for those).
            if content_type != "application/json":
                return 415, "POST /graphql takes application/json."
        return None
