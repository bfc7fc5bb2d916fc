"""SQL of the discount-usage audit: what the rules read, and the findings they write.

Money columns are compared in Python, never in SQL: SQLite keeps them as text, where
``discount_total > 0`` would compare a string with a number.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
from app.db.models import (
    AuditEntry,
    DiscountAuditFinding,
    DiscountAuditWatermark,
    Sale,
    SaleDiscount,
    SaleLine,
    StaffUser,
)
from app.db.repositories.paging import encode_cursor, time_and_id_cursor
from app.domain.discount_audit import (
    FindingFilter,
    FindingRecord,
    FindingRule,
    FindingSeverity,
    FindingStatus,
    NewFinding,
)
from app.domain.records import Page, StaffUserRecord

# Bound parameters per IN list: far under SQLite's 32,766 and PostgreSQL's 65,535.
CHUNK = 1000
WATERMARK_ID = 1


@dataclass(frozen=True, slots=True)
class AuditedSale:
    id: uuid.UUID
    store_id: uuid.UUID
    cashier_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    status: str
    subtotal: Decimal
    discount_total: Decimal
    points_redeemed: int
    points_amount: Decimal
    created_at: datetime
    completed_at: datetime | None
    # The discount that applied (CODE, LOYALTY_CARD, GROUP) and its code; None: no discount.
    source: str | None
    code: str | None

    @property
    def discounted(self) -> bool:
        return self.discount_total > 0


@dataclass(frozen=True, slots=True)
class CustomerEvent:
    """An audit entry on a customer: who did what, when."""

    customer_id: uuid.UUID
    action: str
    actor_id: str | None
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _sale_columns() -> tuple[Any, ...]:
    return (
        Sale.id,
        Sale.store_id,
        Sale.cashier_id,
        Sale.customer_id,
        Sale.status,
        Sale.subtotal,
        Sale.discount_total,
        Sale.points_redeemed,
        Sale.points_amount,
        Sale.created_at,
        Sale.completed_at,
        SaleDiscount.source,
        SaleDiscount.code,
    )


def _with_applied(stmt: Any) -> Any:
    return stmt.outerjoin(
        SaleDiscount, and_(SaleDiscount.sale_id == Sale.id, SaleDiscount.applied.is_(True))
    )


def _audited(row: Any) -> AuditedSale:
    return AuditedSale(*row)


def _finding(row: DiscountAuditFinding, cashier: StaffUser | None) -> FindingRecord:
    return FindingRecord(
        id=row.id,
        rule=FindingRule(row.rule),
        severity=FindingSeverity(row.severity),
        status=FindingStatus(row.status),
        detected_at=row.detected_at,
        explanation=row.explanation,
        sale_id=row.sale_id,
        customer_id=row.customer_id,
        cashier=StaffUserRecord(
            id=cashier.id,
            username=cashier.username,
            role_id=cashier.role_id,
            store_id=cashier.store_id,
            is_active=cashier.is_active,
        )
        if cashier is not None
        else None,
        store_id=row.store_id,
        amount=row.amount,
        details=row.details or {},
        note=row.note,
        triaged_by=row.triaged_by,
        triaged_at=row.triaged_at,
    )


class DiscountAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        return conflict_insert(self.session.get_bind().dialect.name)

    # -- the watermark -----------------------------------------------------------------

    async def watermark(self) -> datetime | None:
        found: datetime | None = await self.session.scalar(
            select(DiscountAuditWatermark.scanned_through).where(
                DiscountAuditWatermark.id == WATERMARK_ID
            )
        )
        return found

    async def advance_watermark(self, through: datetime) -> None:
        """Move forward only: a late, older run leaves a newer watermark alone."""
        stmt = self._insert()(DiscountAuditWatermark).values(
            id=WATERMARK_ID, scanned_through=through
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={"scanned_through": through},
            where=DiscountAuditWatermark.scanned_through < through,
        )
        await self.session.execute(stmt)

    # -- what the rules read -----------------------------------------------------------

    async def sales_completed(self, after: datetime, through: datetime) -> list[AuditedSale]:
        """Sales completed in (after, through], voided since or not."""
        rows = await self.session.execute(
            _with_applied(select(*_sale_columns()))
            .where(Sale.completed_at > after, Sale.completed_at <= through)
            .order_by(Sale.completed_at, Sale.id)
        )
        return [_audited(r) for r in rows]

    async def sales_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AuditedSale]:
        found: dict[uuid.UUID, AuditedSale] = {}
        for chunk in _chunks(list(ids)):
            rows = await self.session.execute(
                _with_applied(select(*_sale_columns())).where(Sale.id.in_(chunk))
            )
            found.update((r.id, _audited(r)) for r in rows)
        return found

    async def customers_sales_completed(
        self, customer_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> list[AuditedSale]:
        """The customers' sales completed in [start, end)."""
        found: list[AuditedSale] = []
        for chunk in _chunks(list(customer_ids)):
            rows = await self.session.execute(
                _with_applied(select(*_sale_columns())).where(
                    Sale.customer_id.in_(chunk),
                    Sale.completed_at >= start,
                    Sale.completed_at < end,
                )
            )
            found.extend(_audited(r) for r in rows)
        return sorted(found, key=lambda s: (s.completed_at, s.id))

    async def cashier_sales_completed(
        self, cashier_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[AuditedSale]:
        rows = await self.session.execute(
            _with_applied(select(*_sale_columns())).where(
                Sale.cashier_id == cashier_id,
                Sale.completed_at >= start,
                Sale.completed_at <= end,
            )
        )
        return [_audited(r) for r in rows]

    async def sales_created(self, start: datetime, end: datetime) -> list[AuditedSale]:
        """Sales rung up by a staff member in [start, end) that ended (completed or voided)."""
        rows = await self.session.execute(
            _with_applied(select(*_sale_columns())).where(
                Sale.created_at >= start,
                Sale.created_at < end,
                Sale.cashier_id.is_not(None),
                Sale.status != "OPEN",
            )
        )
        return [_audited(r) for r in rows]

    async def sales_with_price_cut(self, start: datetime, end: datetime) -> set[uuid.UUID]:
        """Sales created in [start, end) with a line priced below its list price."""
        rows = await self.session.execute(
            select(SaleLine.sale_id, SaleLine.unit_price, SaleLine.list_price)
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(
                Sale.created_at >= start,
                Sale.created_at < end,
                SaleLine.list_price.is_not(None),
            )
        )
        return {r.sale_id for r in rows if r.list_price is not None and r.unit_price < r.list_price}

    async def customer_events(
        self, customer_ids: Sequence[uuid.UUID], actions: Sequence[str], until: datetime
    ) -> list[CustomerEvent]:
        """The customers' audit entries of these actions up to ``until``, oldest first.

        By entity, so the (entity_type, entity_id) index answers it however large the trail.
        """
        found: list[CustomerEvent] = []
        for chunk in _chunks([str(c) for c in customer_ids]):
            rows = await self.session.execute(
                select(
                    AuditEntry.entity_id,
                    AuditEntry.action,
                    AuditEntry.actor_id,
                    AuditEntry.at,
                    AuditEntry.before,
                    AuditEntry.after,
                    AuditEntry.id,
                ).where(
                    AuditEntry.entity_type == "customer",
                    AuditEntry.entity_id.in_(chunk),
                    AuditEntry.action.in_(actions),
                    AuditEntry.at <= until,
                )
            )
            found.extend(
                CustomerEvent(
                    uuid.UUID(r.entity_id), r.action, r.actor_id, r.at, r.before or {},
                    r.after or {},
                )
                for r in sorted(rows, key=lambda r: (r.at, r.id))
            )  # fmt: skip
        return sorted(found, key=lambda e: e.at)

    # -- findings ----------------------------------------------------------------------

    async def insert_findings(self, findings: Sequence[NewFinding], detected_at: datetime) -> int:
        """Insert what is new; a finding already there (same rule and subject) is left as is,
        with its triage. How many were new."""
        inserted = 0
        for finding in findings:
            stmt = (
                self._insert()(DiscountAuditFinding)
                .values(
                    id=uuid.uuid4(),
                    rule=finding.rule.value,
                    subject=finding.subject,
                    severity=finding.severity.value,
                    status=FindingStatus.OPEN.value,
                    explanation=finding.explanation,
                    sale_id=finding.sale_id,
                    customer_id=finding.customer_id,
                    cashier_id=finding.cashier_id,
                    store_id=finding.store_id,
                    amount=finding.amount,
                    details=finding.details,
                    detected_at=detected_at,
                )
                .on_conflict_do_nothing(index_elements=["rule", "subject"])
                .returning(DiscountAuditFinding.id)
            )
            if (await self.session.execute(stmt)).scalar_one_or_none() is not None:
                inserted += 1
        return inserted

    async def get(self, finding_id: uuid.UUID) -> FindingRecord | None:
        row = (
            await self.session.execute(
                select(DiscountAuditFinding, StaffUser)
                .outerjoin(StaffUser, StaffUser.id == DiscountAuditFinding.cashier_id)
                .where(DiscountAuditFinding.id == finding_id)
            )
        ).one_or_none()
        return _finding(row[0], row[1]) if row else None

    async def triage(
        self,
        finding_id: uuid.UUID,
        status: FindingStatus,
        note: str | None,
        by: str,
        at: datetime,
    ) -> None:
        await self.session.execute(
            update(DiscountAuditFinding)
            .where(DiscountAuditFinding.id == finding_id)
            .values(status=status.value, note=note, triaged_by=by, triaged_at=at)
        )

    async def page(
        self, where: FindingFilter, first: int, after: str | None
    ) -> Page[FindingRecord]:
        """Newest first; a cursor is the detection time and id of the last one seen."""
        conditions: list[ColumnElement[bool]] = []
        if where.rule is not None:
            conditions.append(DiscountAuditFinding.rule == where.rule.value)
        if where.status is not None:
            conditions.append(DiscountAuditFinding.status == where.status.value)
        if where.severity is not None:
            conditions.append(DiscountAuditFinding.severity == where.severity.value)
        if where.store_id is not None:
            conditions.append(DiscountAuditFinding.store_id == where.store_id)
        if where.cashier_id is not None:
            conditions.append(DiscountAuditFinding.cashier_id == where.cashier_id)
        if where.detected_from is not None:
            conditions.append(DiscountAuditFinding.detected_at >= where.detected_from)
        if where.detected_to is not None:
            conditions.append(DiscountAuditFinding.detected_at < where.detected_to)
        total = await self.session.scalar(
            select(func.count()).select_from(DiscountAuditFinding).where(*conditions)
        )
        if after:
            at, finding_id = time_and_id_cursor(after)
            conditions.append(
                or_(
                    DiscountAuditFinding.detected_at < at,
                    and_(
                        DiscountAuditFinding.detected_at == at, DiscountAuditFinding.id < finding_id
                    ),
                )
            )
        rows = (
            await self.session.execute(
                select(DiscountAuditFinding, StaffUser)
                .outerjoin(StaffUser, StaffUser.id == DiscountAuditFinding.cashier_id)
                .where(*conditions)
                .order_by(DiscountAuditFinding.detected_at.desc(), DiscountAuditFinding.id.desc())
                .limit(first + 1)
            )
        ).all()
        records = [_finding(f, c) for f, c in rows[:first]]
        return Page(
            items=[(encode_cursor(r.detected_at.isoformat(), r.id.hex), r) for r in records],
            has_next=len(rows) > first,
            total=total or 0,
        )
