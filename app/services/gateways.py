"""Message gateways: what lies outside our walls (SMTP, SMS providers) behind one interface.

A gateway sends one message or raises ``DeliveryFailed`` saying whether a retry can help.
``ChannelGateways`` routes each channel to its gateway; ``app/services/delivery_gateways.py``
chooses them from the settings, the file gateway standing in for any channel left unset.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from app.private_files import open_private_for_append


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    # The notification's id: the email's Message-ID and the SMS provider's idempotency
    # key, so a retried send is recognised as the same message.
    notification_id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    body: str
    # The HTML part of an email; None sends the text alone (SMS never has one).
    html: str | None = None
    # Extra email headers, e.g. List-Unsubscribe on marketing (RFC 8058); SMS ignores them.
    headers: tuple[tuple[str, str], ...] = ()
    # The notification_attempts number this send records, sent where a gateway can carry
    # it (the SMS provider's X-Attempt header).
    attempt: int | None = None


class DeliveryFailed(Exception):
    """The gateway refused the message; ``permanent`` means retrying cannot help.

    ``retry_after`` is the wait, in seconds, the gateway asked for (HTTP Retry-After).
    The reason must not hold the recipient's address: it is stored and shown to staff.
    """

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after


class MessageGateway(Protocol):
    async def send(self, message: OutgoingMessage) -> None: ...


def gateway_name(gateway: object, channel: str) -> str:
    """What an attempt records as the gateway that carried a message on ``channel``."""
    if isinstance(gateway, ChannelGateways):
        return gateway.name_for(channel)
    return str(getattr(gateway, "name", type(gateway).__name__))[:32]


class ChannelGateways:
    """One gateway per channel, itself a gateway: ``send`` picks by the message's channel."""

    def __init__(self, *, email: MessageGateway, sms: MessageGateway) -> None:
        self.by_channel: dict[str, MessageGateway] = {"EMAIL": email, "SMS": sms}

    def name_for(self, channel: str) -> str:
        return gateway_name(self.by_channel[channel], channel)

    async def send(self, message: OutgoingMessage) -> None:
        await self.by_channel[message.channel].send(message)

    async def aclose(self) -> None:
        # One gateway may carry both channels (the file gateway): closed once.
        for gateway in {id(g): g for g in self.by_channel.values()}.values():
            await close_gateway(gateway)


async def close_gateway(gateway: object) -> None:
    """Release what a gateway keeps open (connections), if it keeps anything."""
    aclose = getattr(gateway, "aclose", None)
    if aclose is not None:
        await aclose()


_EMAIL_LIKE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
# Seven digits or more, spaces or hyphens between: a number, never an SMTP code ("550 5.1.1").
_PHONE_LIKE = re.compile(r"\+?\d(?:[ -]?\d){6,}")
REASON_LENGTH = 300


def redact(text: str, recipient: str, *, body: str = "") -> str:
    """A gateway's answer with the recipient, any address and any number taken out, shortened.

    Servers echo the address they refuse ("550 <ada@example.com>: no such user"), and an
    SMS provider may echo the text (it greets the customer by name); the reason is kept on
    the notification, and staff without PII rights may read it.
    """
    cleaned = text.replace(recipient, "[recipient]") if recipient else text
    if body:
        cleaned = cleaned.replace(body, "[message]")
    cleaned = _EMAIL_LIKE.sub("[address]", cleaned)
    cleaned = _PHONE_LIKE.sub("[number]", cleaned)
    cleaned = " ".join(cleaned.split())
    return cleaned[:REASON_LENGTH]


class FileGateway:
    """The default gateway: appends each message as a JSON line to a file in the data folder.

    A shop without SMTP or an SMS contract still sees exactly what would have been sent.
    """

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "id": str(message.notification_id),
                "channel": message.channel,
                "to": message.recipient,
                "subject": message.subject,
                "body": message.body,
                **({"headers": dict(message.headers)} if message.headers else {}),
            }
        )
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        # Owner-only: every line holds an address and a message (issue 9 §7).
        with open_private_for_append(self.path) as handle:
            # Shared with erase(), which rewrites the file under the exclusive lock.
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line + "\n")

    async def erase(self, notification_ids: set[str]) -> int:
        """Blank the address, subject and text of these notifications' lines (an erasure,
        issue 13); the lines stay, with their time and id. Answers how many changed."""
        return await asyncio.to_thread(self._erase, notification_ids)

    def _erase(self, notification_ids: set[str]) -> int:
        with (
            contextlib.suppress(FileNotFoundError),
            open(self.path, "r+", encoding="utf-8") as handle,
        ):
            # In place under the lock, so that a line appended meanwhile is never lost.
            fcntl.flock(handle, fcntl.LOCK_EX)
            lines, changed = [], 0
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    lines.append(line)
                    continue
                if isinstance(entry, dict) and entry.get("id") in notification_ids:
                    entry = {k: ERASED_LINE.get(k, v) for k, v in entry.items()}
                    line, changed = json.dumps(entry) + "\n", changed + 1
                lines.append(line)
            if changed:
                handle.seek(0)
                handle.writelines(lines)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
            return changed
        return 0


# What an erased message's line keeps of the address and text (docs/privacy.md).
ERASED_LINE = {"to": "[erased]", "subject": "[erased]", "body": "[erased]", "headers": {}}
