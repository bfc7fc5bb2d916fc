"""Appointment records (seed 004: a customer's appointment history beside their sales)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.records import StaffUserRecord, StoreRecord


class AppointmentStatus(enum.StrEnum):
    BOOKED = "BOOKED"
    # Both are final: a finished or called-off booking is history, never reopened.
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    """A booking with its store and staff member read in the same statement."""

    id: uuid.UUID
    customer_id: uuid.UUID
    store: StoreRecord
    staff: StaffUserRecord | None
    service: str
    starts_at: datetime
    duration_minutes: int
    status: AppointmentStatus
    note: str | None
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime | None

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        # Half-open: a cut ending at 10:00 and the next starting at 10:00 do not clash.
        return self.starts_at < ends_at and starts_at < self.ends_at
