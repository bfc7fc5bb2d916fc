"""What was sent to customers and how it went (issue 10 §6): the records the history shows.

A notification's destination is not stored: the delivery job reads the customer's email
or phone when it sends (so a changed address is honoured), and the history shows the
customer's address for that channel as it is now.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class NotificationStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: str
    scenario: str
    status: str
    attempts: int
    # Cleaned by the delivery code before it is stored: never an address or a message text.
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    # The customer's current address for the channel (None: no customer, or no address).
    destination: str | None


@dataclass(frozen=True, slots=True)
class NotificationAttemptRecord:
    notification_id: uuid.UUID
    number: int
    gateway: str
    outcome: str | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationQuery:
    """The filter of ``notifications``: each field given narrows the list."""

    status: str | None = None
    channel: str | None = None
    scenario: str | None = None
    customer_id: uuid.UUID | None = None
