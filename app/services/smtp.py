"""The email gateway: SMTP through aiosmtplib (issue 10 §1)."""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
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


class SmtpGateway:
    """Sends each email over its own SMTP connection; failures come out classified."""

    name = "smtp"

    def __init__(self, config: SmtpConfig, sender: str, *, timeout: float) -> None:
        self.config = config
        self.sender = sender
        self.timeout = timeout

    async def send(self, message: OutgoingMessage) -> None:
        config = self.config
        recipient = message.recipient
        try:
            await aiosmtplib.send(
                build_email(message, self.sender),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.implicit_tls,
                start_tls=config.starttls,
                cert_bundle=config.cafile,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            first = refused.recipients[0]
            raise _smtp_code_failure(first.code, first.message, recipient, "RCPT") from None
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as failure:
            stage = "DATA" if isinstance(failure, aiosmtplib.SMTPDataError) else "RCPT"
            raise _smtp_code_failure(failure.code, failure.message, recipient, stage) from None
        except aiosmtplib.SMTPResponseException as failure:
            # Refused before any recipient (HELO, AUTH, MAIL FROM): our configuration or the
            # server's state, not this message. Retried, so a fix made meanwhile still
            # delivers it; logged so the operator sees it.
            log.warning(
                "SMTP server refused the session", extra={"code": failure.code, "host": config.host}
            )
            raise DeliveryFailed(
                redact(f"SMTP {failure.code}: {failure.message}", recipient)
            ) from None
        except (aiosmtplib.SMTPException, OSError) as failure:
            # Timeouts, refused connections, TLS handshakes, dropped sessions: transient.
            raise DeliveryFailed(
                redact(f"SMTP: {type(failure).__name__}: {failure}", recipient)
            ) from None
