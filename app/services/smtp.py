"""The email gateway: SMTP through aiosmtplib (issue 10 §1)."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from app.services.gateways import DeliveryFailed, OutgoingMessage, redact

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to reach the SMTP server, parsed from ``POSCRM_SMTP_URL``.

    ``smtp://`` speaks plain SMTP (a relay on the same host), ``smtp+starttls://`` or
    ``?starttls=true`` requires STARTTLS, ``smtps://`` is implicit TLS. ``?cafile=`` names
    a CA bundle to trust instead of the system's (a private CA, or a test's own).
    """

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None = None
    # Never shown: not in repr, never logged (the URL it came from is a SecretStr).
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in {"smtp", "smtps", "smtp+starttls"}:
            # The URL itself is not repeated: it may hold the password.
            raise ValueError(
                "POSCRM_SMTP_URL must start with smtp://, smtp+starttls:// or smtps://"
            )
        if not parts.hostname:
            raise ValueError("POSCRM_SMTP_URL has no host")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit_tls = scheme == "smtps"
        starttls = scheme == "smtp+starttls" or query.get("starttls", "").lower() in _TRUE
        if implicit_tls and starttls:
            raise ValueError("POSCRM_SMTP_URL: smtps:// is implicit TLS; STARTTLS does not apply")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("POSCRM_SMTP_URL has an invalid port") from None
        default_port = 465 if implicit_tls else 587 if starttls else 25
        return cls(
            host=parts.hostname,
            port=port or default_port,
            implicit_tls=implicit_tls,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            cafile=query.get("cafile") or None,
        )


def build_email(message: OutgoingMessage, sender: str) -> EmailMessage:
    """A multipart text + HTML email whose Message-ID is the notification's, on every try.

    A retried send after a lost answer carries the same Message-ID, so a mail system that
    deduplicates on it keeps one copy.
    """
    email_message = EmailMessage()
    email_message["From"] = sender
    email_message["To"] = message.recipient
    email_message["Subject"] = message.subject
    email_message["Date"] = email.utils.formatdate(localtime=False)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "poscrm.invalid"
    email_message["Message-ID"] = f"<{message.notification_id}@{domain}>"
    for name, value in message.headers:
        email_message[name] = value
    email_message.set_content(message.body)
    if message.html is not None:
        email_message.add_alternative(message.html, subtype="html")
    return email_message


def _smtp_code_failure(code: int, text: str, recipient: str, stage: str) -> DeliveryFailed:
    reason = redact(f"SMTP {code} at {stage}: {text}", recipient)
    # 4xx is the server's "try again later" (greylisting, a full queue); 5xx on the
    # recipient or the message itself will be answered the same way next time.
    return DeliveryFailed(reason, permanent=500 <= code < 600)


class _Client(aiosmtplib.SMTP):
    """An SMTP client that remembers whether any of the current message reached the server."""

    data_started = False

    async def data(self, *args: Any, **kwargs: Any) -> Any:
        self.data_started = True
        return await super().data(*args, **kwargs)


def _classified(failure: Exception, recipient: str, host: str) -> DeliveryFailed:
    """A gateway failure saying whether retrying can help, with no address in its reason."""
    if isinstance(failure, aiosmtplib.SMTPRecipientsRefused):
        first = failure.recipients[0]
        return _smtp_code_failure(first.code, first.message, recipient, "RCPT")
    if isinstance(failure, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        stage = "DATA" if isinstance(failure, aiosmtplib.SMTPDataError) else "RCPT"
        return _smtp_code_failure(failure.code, failure.message, recipient, stage)
    if isinstance(failure, aiosmtplib.SMTPResponseException):
        # Refused before any recipient (HELO, AUTH, MAIL FROM): our configuration or the
        # server's state, not this message. Retried, so a fix made meanwhile still
        # delivers it; logged so the operator sees it.
        log.warning("SMTP server refused the session", extra={"code": failure.code, "host": host})
        return DeliveryFailed(redact(f"SMTP {failure.code}: {failure.message}", recipient))
    # Timeouts, refused connections, TLS handshakes, dropped sessions: transient.
    return DeliveryFailed(redact(f"SMTP: {type(failure).__name__}: {failure}", recipient))


_SMTP_FAILURES = (aiosmtplib.SMTPException, OSError)


class SmtpGateway:
    """Sends email over a few kept-open SMTP connections; failures come out classified.

    A connection is set up once (TCP, TLS, EHLO, AUTH: several round trips, and a login
    a provider may rate-limit) and carries message after message. At most ``connections``
    are open, each carrying one message at a time; one left idle for ``idle_seconds`` is
    closed (servers drop idle sessions after a few minutes anyway). ``aclose`` ends them
    all at shutdown.
    """

    name = "smtp"

    def __init__(
        self,
        config: SmtpConfig,
        sender: str,
        *,
        timeout: float,
        connections: int = 4,
        idle_seconds: float = 30.0,
    ) -> None:
        self.config = config
        self.sender = sender
        self.timeout = timeout
        self.idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(connections)
        # Idle connections with when each was last used (monotonic); the newest last.
        self._idle: list[tuple[_Client, float]] = []
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        # Connections opened so far: what the tests and the bench read to see reuse.
        self.connects = 0

    async def send(self, message: OutgoingMessage) -> None:
        if self._closed:
            raise DeliveryFailed("SMTP: the gateway is shut down")
        email_message = build_email(message, self.sender)
        recipient = message.recipient
        async with self._slots:
            client = self._take_idle()
            reused = client is not None
            try:
                if client is None:
                    client = await self._connect()
                try:
                    await self._transfer(client, email_message)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    if not reused or client.data_started:
                        raise
                    # A kept connection the server had dropped (an idle timeout, a restart)
                    # before any of this message went out: nothing was delivered, so
                    # sending it on a new connection cannot make a duplicate.
                    self._discard(client)
                    client = await self._connect()
                    await self._transfer(client, email_message)
            except _SMTP_FAILURES as failure:
                if client is not None:
                    # After an error the session's state is unknown: never reused.
                    self._discard(client)
                raise _classified(failure, recipient, self.config.host) from None
            except BaseException:
                # Cancelled mid-session (arq's timeout, shutdown), or a bug: the session is
                # in an unknown state, and closed rather than left open unowned.
                if client is not None:
                    self._discard(client)
                raise
            self._give_back(client)

    async def _transfer(self, client: _Client, email_message: EmailMessage) -> None:
        client.data_started = False
        await client.send_message(email_message)

    async def _connect(self) -> _Client:
        config = self.config
        client = _Client(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.implicit_tls,
            start_tls=config.starttls,
            cert_bundle=config.cafile,
            timeout=self.timeout,
        )
        self.connects += 1
        try:
            await client.connect()
        except BaseException:
            client.close()
            raise
        return client

    def _take_idle(self) -> _Client | None:
        while self._idle:
            client, _ = self._idle.pop()
            # The server closed it while it waited (seen by the event loop): not worth a try.
            if client.is_connected:
                return client
            client.close()
        return None

    def _give_back(self, client: _Client) -> None:
        if self._closed:
            client.close()
            return
        self._idle.append((client, time.monotonic()))
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._close_idle())

    def _discard(self, client: _Client) -> None:
        client.close()

    async def _close_idle(self) -> None:
        while self._idle:
            oldest = self._idle[0][1]
            await asyncio.sleep(max(0.0, oldest + self.idle_seconds - time.monotonic()))
            now = time.monotonic()
            stale = [client for client, used in self._idle if now - used >= self.idle_seconds]
            self._idle = [(c, used) for c, used in self._idle if now - used < self.idle_seconds]
            for client in stale:
                await _quit(client, self.timeout)

    async def aclose(self) -> None:
        """Say QUIT on every idle connection and stop; sends after this fail (transiently)."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _quit(client, min(self.timeout, 2.0))


async def _quit(client: _Client, wait: float) -> None:
    # A polite goodbye if the server still listens; the socket is closed either way.
    with contextlib.suppress(Exception):
        if client.is_connected:
            await client.quit(timeout=wait)
    client.close()
