"""ASGI middleware: request ids and access logs, body size and time limits, and what /graphql
accepts."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.engine import hold_reads, release_reads
from app.observability import request_id_var
from app.services.stamps import hold_stamps, release_stamps

log = logging.getLogger("app.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Set in a request's scope["extensions"] by the server (app/http_protocol.py) when the
# client disconnected before the response was complete.
CLIENT_GONE = "poscrm.client_gone"
# What the access log says of such a request: nginx's "client closed request".
CLIENT_CLOSED_REQUEST = 499


async def _reply(
    send: Send, status: int, message: str, request_id: str, *, close: bool = False
) -> None:
    body = json.dumps(
        {"errors": [{"message": message, "extensions": {"requestId": request_id}}]}
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if close:
        # The rest of the request may still be on its way: the connection is done.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# Any one of these on a multipart POST /graphql (non-empty): headers a cross-site page
# cannot send without a CORS preflight.
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-requested-with")
UPLOAD_NEEDS_PREFLIGHT = (
    "A multipart POST /graphql needs the header Apollo-Require-Preflight: true (or "
    "X-Requested-With), which cross-site pages cannot send."
)


def multipart_field_refusal(name: str, raw: str) -> tuple[dict[str, Any], str | None]:
    """A multipart request's ``operations`` or ``map`` field parsed, or why it is refused:
    the same JSON checks as a POST body's, and an object (one operation, no batches)."""
    parsed, problem = _json_problem(raw)
    if problem is not None:
        return {}, f"The {name} field {problem}."
    if not isinstance(parsed, dict):
        return {}, f"The {name} field must be a JSON object."
    return parsed, None


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


# Deeper JSON than any real request needs; recursive code further on (Strawberry,
# graphql-core, our own checks) would otherwise meet a RecursionError: an HTTP 500.
MAX_JSON_DEPTH = 64


def _too_deep(value: Any) -> bool:
    # Iterative, so that the check itself cannot recurse too deeply.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have.
    raise ValueError(f"{name} is not JSON")


def _json_problem(raw: bytes | str) -> tuple[Any, str | None]:
    """The parsed value, or why ``raw`` is no JSON we accept: checked before Strawberry."""
    try:
        # Invalid UTF-8 (UnicodeDecodeError), an integer beyond Python's int-string
        # limit and bad JSON are ValueErrors; very deep nesting is a RecursionError.
        parsed = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None, "is not valid JSON"
    if _too_deep(parsed):
        return None, f"nests deeper than {MAX_JSON_DEPTH} levels"
    return parsed, None


def _body_refusal(body: bytes) -> str | None:
    """Why a POST /graphql body is no GraphQL request, or None."""
    parsed, problem = _json_problem(body)
    if problem is not None:
        return f"The body {problem}."
    if not isinstance(parsed, dict):
        return "The body must be a JSON object."
    return None


def _query_string_refusal(query_string: bytes) -> str | None:
    """Why a GET /graphql's JSON parameters are no GraphQL request, or None.

    A query over GET carries its variables and extensions as JSON in the URL, where the
    same integers and nesting would fail Strawberry's parser (a RecursionError, an HTTP
    500) as in a POST body. Decoded as Starlette decodes them.
    """
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in ("variables", "extensions") and value:
            _, problem = _json_problem(value)
            if problem is not None:
                return f"The {name} parameter {problem}."
    return None


class RequestGuard:
    """One pass per request: id, limits, access log (method, path, status, time; no bodies).

    The body must arrive whole within ``body_timeout`` seconds of the headers, or the
    answer is 408 and the connection is closed: a client trickling a body (the slowloris
    of bodies) holds a connection and a task no longer than that. 256 KiB in 30 s is
    9 KiB/s, slower than any till's link.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout: float = 30.0,
        graphql_path: str = "/graphql",
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # A multipart POST /graphql carries a file (a profile picture): its own limit.
        self.max_upload_bytes = max_upload_bytes or max_body_bytes
        self.body_timeout = body_timeout
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
        held = hold_stamps()
        reads = hold_reads()
        try:
            upload = self._is_upload(scope, headers)
            max_bytes = self.max_upload_bytes if upload else self.max_body_bytes
            refusal = self._refusal(scope, headers, max_bytes)
            if refusal is not None:
                status_holder["status"] = refusal[0]
                await _reply(send, refusal[0], refusal[1], request_id)
                return

            received = 0
            body_deadline = asyncio.get_running_loop().time() + self.body_timeout
            body_done = False

            async def limited_receive() -> Message:
                nonlocal received, body_done
                if body_done:
                    return await receive()  # e.g. waiting for a disconnect: no deadline
                try:
                    async with asyncio.timeout_at(body_deadline):
                        message = await receive()
                except TimeoutError:
                    raise _BodyTooSlow from None
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_bytes:
                        raise _BodyTooLarge
                    body_done = not message.get("more_body", False)
                else:
                    body_done = True
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
                if upload:
                    # Streamed on to the form parser, which spools the file to disk;
                    # the operations part is checked there (app/main.py).
                    await self.app(scope, limited_receive, send_with_id)
                elif scope["path"] == self.graphql_path and scope["method"] == "POST":
                    body = await self._read_body(limited_receive)
                    problem = _body_refusal(body)
                    if problem is not None:
                        status_holder["status"] = 400
                        await _reply(send, 400, problem, request_id)
                        return
                    await self.app(scope, _replay(body, receive), send_with_id)
                else:
                    await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                if response_started:
                    raise
                status_holder["status"] = 413
                await _reply(send, 413, "Request body too large.", request_id)
            except _BodyTooSlow:
                if response_started:
                    raise
                status_holder["status"] = 408
                message = f"The request body took longer than {self.body_timeout:g} s."
                await _reply(send, 408, message, request_id, close=True)
        finally:
            status = status_holder["status"]
            if CLIENT_GONE in scope.get("extensions", {}):
                # One line, as any request's: the client left before the answer was
                # complete, which is theirs to retry, not our error.
                status = CLIENT_CLOSED_REQUEST
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            try:
                await release_reads(reads)
            finally:
                release_stamps(held)
                request_id_var.reset(token)

    @staticmethod
    async def _read_body(receive: Receive) -> bytes:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _is_upload(self, scope: Scope, headers: dict[str, str]) -> bool:
        return (
            scope["path"] == self.graphql_path
            and scope["method"] == "POST"
            and _content_type(headers) == "multipart/form-data"
        )

    def _refusal(
        self, scope: Scope, headers: dict[str, str], max_bytes: int
    ) -> tuple[int, str] | None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return 413, "Request body too large."
        if scope["path"] == self.graphql_path and scope["method"] == "POST":
            content_type = _content_type(headers)
            # A browser sends form posts and multipart cross-site with the user's
            # cookies and no CORS preflight (CSRF): JSON, or multipart only with a header
            # no page of another site can add without a preflight, which this server
            # never grants (it sends no CORS headers), as Apollo's CSRF prevention does.
            if content_type == "multipart/form-data":
                if not any(headers.get(name, "").strip() for name in PREFLIGHT_HEADERS):
                    return 400, UPLOAD_NEEDS_PREFLIGHT
            elif content_type != "application/json":
                return 415, "POST /graphql takes application/json (or multipart uploads)."
        if scope["path"] == self.graphql_path and scope["method"] == "GET":
            problem = _query_string_refusal(scope["query_string"])
            if problem is not None:
                return 400, problem
        return None


def _content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, once, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
