"""Message gateways: what lies outside our walls (SMTP, SMS providers) behind one interface."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from app.private_files import open_private_for_append


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    channel: str
    recipient: str
    subject: str
    body: str


class DeliveryFailed(Exception):
    """The gateway refused the message; ``permanent`` means retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MessageGateway(Protocol):
    async def send(self, message: OutgoingMessage) -> None: ...


class FileGateway:
    """The default gateway: appends each message as a JSON line to a file in the data folder.

    A shop without SMTP or an SMS contract still sees exactly what would have been sent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, message: OutgoingMessage) -> None:
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "channel": message.channel,
                "to": message.recipient,
                "subject": message.subject,
                "body": message.body,
            }
        )
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        # Owner-only: every line holds an address and a message (issue 9 §7).
        with open_private_for_append(self.path) as handle:
            handle.write(line + "\n")
