"""What was sent to customers and how it went (issue 10 §6): reads only.

Who may look is decided where the schema declares each field (AUDIT_VIEW); the address
is masked there too. Notifications follow their customer, who is chain-wide (issue 9),
so the history is not narrowed to the caller's store.

Errors are cleaned when they are recorded (``gateways.redact``); they are cleaned again
here, as they are read, so a gateway that forgot to (a plug-in, a test double, an old
row) still shows staff no address or number.
"""

from __future__ import annotations

import dataclasses
import uuid

from app.db.repositories.notifications import NotificationRepository
from app.domain.notifications import (
    NotificationAttemptRecord,
    NotificationQuery,
    NotificationRecord,
)
from app.domain.records import Page
from app.services.gateways import redact
from app.services.unit_of_work import Transactions


def _cleaned(record: NotificationRecord) -> NotificationRecord:
    if record.last_error is None:
        return record
    return dataclasses.replace(
        record, last_error=redact(record.last_error, record.destination or "")
    )


def _cleaned_page(page: Page[NotificationRecord]) -> Page[NotificationRecord]:
    items = [(cursor, _cleaned(r)) for cursor, r in page.items]
    return Page(items=items, has_next=page.has_next, total=page.total)


class NotificationHistoryService:
    def __init__(self, tx: Transactions) -> None:
        self.tx = tx

    async def page(
        self, query: NotificationQuery, first: int, after: str | None
    ) -> Page[NotificationRecord]:
        """Notifications matching ``query``, newest first."""
        async with self.tx.db.read() as session:
            return _cleaned_page(await NotificationRepository(session).page(query, first, after))

    async def customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[NotificationRecord]]:
        """One newest-first page per customer, for a list of customers at once."""
        async with self.tx.db.read() as session:
            pages = await NotificationRepository(session).pages_by_customer(
                customer_ids, first, after
            )
        return {k: _cleaned_page(page) for k, page in pages.items()}

    async def attempts(
        self, notification_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[NotificationAttemptRecord]]:
        async with self.tx.db.read() as session:
            found = await NotificationRepository(session).attempts_for(notification_ids)
        return {
            k: [dataclasses.replace(a, error=redact(a.error, "")) if a.error else a for a in v]
            for k, v in found.items()
        }
