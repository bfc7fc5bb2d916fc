"""Real servers for the gateways to talk to, all on 127.0.0.1: SMTP (aiosmtpd) and an SMS
provider (a Starlette app under uvicorn). The tests never send anything anywhere else.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.jobs.worker import build_worker
from tests.local_http import HOST, serving


async def run_worker(runtime: Any, **settings: Any) -> None:
    """A real arq worker, in burst mode, whose gateways come from these settings."""
    changed = {
        key: SecretStr(value) if key in {"smtp_url", "sms_gateway_token"} else value
        for key, value in settings.items()
    }
    worker = build_worker(
        runtime.settings.model_copy(update=changed), runtime.redis_url, db=runtime.db, burst=True
    )
    try:
        await worker.main()
    finally:
        await worker.close()


def free_port() -> int:
    """A port nothing listens on (for a server started later, or for "server down")."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# --- SMTP -------------------------------------------------------------------------------


@dataclass
class SmtpHandler:
    """Keeps what it receives; answers RCPT for an address with the replies a test lists.

    Each RCPT for that address takes the next reply; when none is left it is accepted.
    """

    refuse: dict[str, list[str]] = field(default_factory=dict)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    # The client's (host, port) of each message received: one port, one connection.
    peers: list[tuple[str, int]] = field(default_factory=list)
    # Every session that said EHLO (the server side of each connection).
    sessions: list[Any] = field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if server not in self.sessions:
            self.sessions.append(server)
        return responses

    def drop_connections(self) -> None:
        """Close every connection from the server's side, and return once it is done."""
        done = threading.Event()

        def close() -> None:
            for server in self.sessions:
                if server.transport is not None:
                    server.transport.close()
            done.set()

        self.sessions[0].loop.call_soon_threadsafe(close)
        assert done.wait(5)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.refuse.get(address):
            return self.refuse[address].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.peers.append(tuple(session.peer[:2]))
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd answers a refusal with its 535 itself.
        return AuthResult(success=auth_data.password == b"s3cret pass", handled=False)


@dataclass
class Tls:
    """A CA made for the test and a certificate for 127.0.0.1 that it signed."""

    server_context: ssl.SSLContext
    cafile: Path


def make_tls(folder: Path) -> Tls:
    ca = trustme.CA()
    cert = ca.issue_cert(HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    cafile = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    return Tls(context, cafile)


@contextmanager
def smtp_server(
    handler: SmtpHandler,
    port: int | None = None,
    *,
    starttls: Tls | None = None,
    implicit_tls: Tls | None = None,
) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1; with ``starttls`` it demands STARTTLS and a login."""
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if starttls is not None:
        kwargs = {
            "tls_context": starttls.server_context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": handler.authenticate,
        }
    controller = Controller(
        handler,
        hostname=HOST,
        port=port,
        ssl_context=implicit_tls.server_context if implicit_tls else None,
        **kwargs,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word: what a hung server looks like."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, HOST, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


# --- SMS provider -----------------------------------------------------------------------


@dataclass
class SmsReply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class SmsRequest:
    headers: dict[str, str]
    json: dict[str, Any]
    at: float
    # The client's port: requests from one port came over one connection.
    client_port: int | None = None


@dataclass
class SmsProvider:
    """A provider whose next answers a test scripts; it answers 200 when the script is empty."""

    replies: list[SmsReply] = field(default_factory=list)
    requests: list[SmsRequest] = field(default_factory=list)
    url: str = ""

    async def receive(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(
            SmsRequest(
                dict(request.headers),
                body,
                asyncio.get_running_loop().time(),
                request.client.port if request.client else None,
            )
        )
        reply = self.replies.pop(0) if self.replies else SmsReply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return JSONResponse(
            reply.body if reply.body is not None else {"id": f"msg-{len(self.requests)}"},
            status_code=reply.status,
            headers=reply.headers,
        )


@asynccontextmanager
async def sms_provider(port: int | None = None) -> AsyncIterator[SmsProvider]:
    """The provider's HTTP API served by uvicorn on 127.0.0.1, in this event loop."""
    provider = SmsProvider()
    app = Starlette(routes=[Route("/v1/messages", provider.receive, methods=["POST"])])
    async with serving(app, port) as bound:
        provider.url = f"http://{HOST}:{bound}/v1/messages"
        yield provider
