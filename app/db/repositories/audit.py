from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.bulk import insert_rows
from app.db.models import AuditEntry
from app.db.repositories.paging import encode_cursor, group_by, number_cursor, pages_by_parent
from app.domain.records import AuditRecord, Page


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        action=row.action,
        actor_label=row.actor_label,
        at=row.at,
        before=row.before,
        after=row.after,
    )


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(
        self,
        *,
        entity_type: str,
        entity_id: str,
        action: str,
        actor_id: str | None,
        actor_label: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        self.session.add(
            AuditEntry(
                entity_type=entity_type,
                entity_id=entity_id,
                action=action,
                actor_id=actor_id,
                actor_label=actor_label,
                before=before,
                after=after,
            )
        )
        await self.session.flush()

    async def insert_many(
        self, entries: list[dict[str, Any]], same: dict[str, Any] | None = None
    ) -> None:
        """Audit entries (the columns of ``insert``, plus ``at``; those common to all in
        ``same``) by the backend's bulk path (app/db/bulk.py)."""
        await insert_rows(self.session, table_of(AuditEntry), entries, same)

    async def pages(
        self, entity_type: str, entity_ids: list[str], first: int, after: str | None
    ) -> dict[str, Page[AuditRecord]]:
        """Newest-first pages for many entities in two statements (no N+1 in lists)."""
        before_id = number_cursor(after) if after else None
        conditions = [
            AuditEntry.entity_type == entity_type,
            AuditEntry.entity_id.in_(entity_ids),
        ]
        totals = dict(
            (
                await self.session.execute(
                    select(AuditEntry.entity_id, func.count())
                    .where(*conditions)
                    .group_by(AuditEntry.entity_id)
                )
            ).all()
        )
        if before_id is not None:
            conditions.append(AuditEntry.id < before_id)
        rank = (
            func.row_number()
            .over(partition_by=AuditEntry.entity_id, order_by=AuditEntry.id.desc())
            .label("rank")
        )
        ranked = select(AuditEntry.id, rank).where(*conditions).subquery()
        rows = await self.session.scalars(
            select(AuditEntry)
            .join(ranked, ranked.c.id == AuditEntry.id)
            .where(ranked.c.rank <= first + 1)
            .order_by(AuditEntry.entity_id, AuditEntry.id.desc())
        )
        entries = group_by(map(_record, rows), lambda entry: entry.entity_id)
        return pages_by_parent(entity_ids, entries, first, totals, lambda e: encode_cursor(e.id))
