from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookDelivery, WebhookEndpoint
from app.db.repositories.paging import encode_cursor, time_and_id_cursor
from app.domain.records import Page
from app.domain.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord


@dataclass(frozen=True, slots=True)
class DeliveryToSend:
    id: uuid.UUID
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    endpoint_id: uuid.UUID
    url: str
    secret: str
    endpoint_active: bool


def _endpoint(row: WebhookEndpoint, *, with_secret: bool = False) -> WebhookEndpointRecord:
    return WebhookEndpointRecord(
        id=row.id,
        url=row.url,
        events=tuple(row.events),
        is_active=row.is_active,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret=row.secret if with_secret else None,
    )


def _delivery(row: WebhookDelivery) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event=row.event,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _before(cursor: str) -> ColumnElement[bool]:
    """Rows after the cursor in ``ORDER BY created_at DESC, id DESC`` (newest first)."""
    at, last_id = time_and_id_cursor(cursor)
    created = WebhookDelivery.created_at
    return or_(created < at, and_(created == at, WebhookDelivery.id < last_id))


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Whether this transaction wrote which endpoints get which events: every API
        # process caches that (app/services/unit_of_work.py), so the commit must tell them.
        self.subscriptions_changed = False

    # -- endpoints -----------------------------------------------------------------

    async def insert_endpoint(self, **values: Any) -> WebhookEndpointRecord:
        self.subscriptions_changed = True
        row = WebhookEndpoint(**values)
        self.session.add(row)
        await self.session.flush()
        return _endpoint(row, with_secret=True)

    async def get_endpoint(self, endpoint_id: uuid.UUID) -> WebhookEndpointRecord | None:
        row = await self.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
        return _endpoint(row) if row else None

    async def update_endpoint(self, endpoint_id: uuid.UUID, values: dict[str, Any]) -> None:
        self.subscriptions_changed = True
        await self.session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values)
        )

    async def delete_endpoint(self, endpoint_id: uuid.UUID) -> bool:
        # Its deliveries go with it (ON DELETE CASCADE): queued jobs then find none.
        self.subscriptions_changed = True
        result = await self.session.execute(
            delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def endpoints(self) -> list[WebhookEndpointRecord]:
        rows = await self.session.scalars(
            select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return [_endpoint(r) for r in rows]

    async def active_subscriptions(self) -> list[tuple[uuid.UUID, tuple[str, ...]]]:
        """Active endpoints and their events: read once per transaction that has events."""
        rows = await self.session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                WebhookEndpoint.is_active.is_(True)
            )
        )
        return [(row[0], tuple(row[1])) for row in rows]

    # -- deliveries ----------------------------------------------------------------

    async def totals(self) -> list[tuple[str, str, int]]:
        """(event, status, count) over every delivery: one GROUP BY."""
        rows = await self.session.execute(
            select(WebhookDelivery.event, WebhookDelivery.status, func.count()).group_by(
                WebhookDelivery.event, WebhookDelivery.status
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]

    async def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(WebhookDelivery), rows)

    async def deliveries_page(
        self, endpoint_id: uuid.UUID, first: int, after: str | None
    ) -> Page[WebhookDeliveryRecord]:
        """An endpoint's deliveries, newest first (the index on endpoint_id, created_at)."""
        where = [WebhookDelivery.endpoint_id == endpoint_id]
        total = await self.session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(*where)
        )
        stmt = select(WebhookDelivery).where(*where)
        if after is not None:
            stmt = stmt.where(_before(after))
        rows = list(
            await self.session.scalars(
                stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
                    first + 1
                )
            )
        )
        return Page(
            items=[
                (encode_cursor(r.created_at.isoformat(), r.id.hex), _delivery(r))
                for r in rows[:first]
            ],
            has_next=len(rows) > first,
            total=total or 0,
        )

    async def get_for_sending(self, delivery_id: uuid.UUID) -> DeliveryToSend | None:
        found = (
            await self.session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).one_or_none()
        if found is None:
            return None
        delivery, endpoint = found
        return DeliveryToSend(
            id=delivery.id,
            event=delivery.event,
            payload=delivery.payload,
            status=delivery.status,
            attempts=delivery.attempts,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            secret=endpoint.secret,
            endpoint_active=endpoint.is_active,
        )

    async def record_attempt(
        self,
        delivery_id: uuid.UUID,
        *,
        status: str,
        status_code: int | None,
        error: str | None,
        finished_at: datetime | None,
    ) -> bool:
        """One attempt's outcome, unless the delivery already reached a final state."""
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "PENDING")
            .values(
                status=status,
                last_status_code=status_code,
                last_error=error,
                finished_at=finished_at,
                attempts=WebhookDelivery.attempts + 1,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def skip(self, delivery_id: uuid.UUID, reason: str, now: datetime) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "PENDING")
            .values(status="SKIPPED", last_error=reason, finished_at=now)
        )

    async def reset_failures(self, endpoint_id: uuid.UUID) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )

    async def count_failure(
        self, endpoint_id: uuid.UUID, disable_at: int, reason: str, now: datetime
    ) -> bool:
        """One more failed delivery in a row; True if that disabled the endpoint.

        Two conditional updates, no read-then-write: concurrent deliveries each add one,
        and only the one that reaches the limit on an active endpoint disables it.
        """
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
        )
        result = await self.session.execute(
            update(WebhookEndpoint)
            .where(
                and_(
                    WebhookEndpoint.id == endpoint_id,
                    WebhookEndpoint.is_active.is_(True),
                    WebhookEndpoint.consecutive_failures >= disable_at,
                )
            )
            .values(is_active=False, disabled_reason=reason, updated_at=now)
        )
        disabled = bool(result.rowcount)  # type: ignore[attr-defined]
        self.subscriptions_changed |= disabled
        return disabled
