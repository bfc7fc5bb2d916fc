"""The discount-usage audit (issue 11 §6): the periodic scan, and findings for analysts.

The scan judges sales completed since the watermark, at least ``audit_settle_minutes``
ago, with the rules in ``discount_audit_rules``; it writes findings and moves the
watermark in the transaction that claims its job slot. Findings are unique per rule and
subject, so a second run, a second worker or a re-scan of the same sales adds nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.db.repositories.discount_audit import DiscountAuditRepository
from app.domain.discount_audit import (
    FindingFilter,
    FindingRecord,
    FindingStatus,
    NewFinding,
)
from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor, Page
from app.services import discount_audit_rules as rules
from app.services.checks import optional_text
from app.services.discount_audit_rules import AuditThresholds
from app.services.scheduled import ScheduledRun, run_once, slot_of
from app.services.store_scope import require_store, scoped_store
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.settings import Settings

AUDIT_JOB = "audit_discount_usage"
AUDIT_EVERY = timedelta(hours=1)
NOTE_MAX = 2000


@dataclass(frozen=True, slots=True)
class ScanReport:
    scanned_from: datetime
    scanned_through: datetime
    sales: int
    findings: int

    def as_result(self) -> dict[str, Any]:
        return {
            "rows": self.findings,
            "sales": self.sales,
            "from": self.scanned_from.isoformat(),
            "through": self.scanned_through.isoformat(),
        }


async def judge(
    repo: DiscountAuditRepository, after: datetime, through: datetime, limits: AuditThresholds
) -> tuple[int, list[NewFinding]]:
    """Every rule over the sales completed in (after, through]: how many, and the findings."""
    sales = await repo.sales_completed(after, through)
    customers = sorted({s.customer_id for s in sales if s.customer_id is not None})
    events = rules.by_customer(
        await repo.customer_events(customers, rules.CUSTOMER_ACTIONS, through)
    )
    found = [
        *rules.invalid_codes(sales, events),
        *rules.self_granted(sales, events, limits),
        *rules.adjusted_points_redeemed(sales, events, limits),
        *await rules.frequent_use(repo, sales, through, limits),
        *await rules.repeated_reactivation(repo, sales, events, limits),
        *await rules.cashier_outliers(repo, after, through, limits),
    ]
    return len(sales), found


async def scan(
    uow: UnitOfWork, through: datetime, limits: AuditThresholds, first_scan: timedelta
) -> ScanReport:
    """Judge what is new since the watermark, up to ``through``, and move the watermark."""
    repo = DiscountAuditRepository(uow.session)
    after = await repo.watermark() or through - first_scan
    if through <= after:
        return ScanReport(after, after, 0, 0)
    sales, found = await judge(repo, after, through, limits)
    inserted = await repo.insert_findings(found, uow.now)
    await repo.advance_watermark(through)
    return ScanReport(after, through, sales, inserted)


async def audit_discount_usage(
    tx: Transactions, scheduled_for: datetime, settings: Settings | None = None
) -> ScheduledRun:
    """One hourly slot of the audit; the scan reaches up to the settle margin before now."""
    s = settings or Settings()
    limits = AuditThresholds.from_settings(s)
    first_scan = timedelta(days=s.audit_first_scan_days)
    settle = timedelta(minutes=s.audit_settle_minutes)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        report = await scan(uow, uow.now - settle, limits, first_scan)
        return report.as_result()

    return await run_once(tx, AUDIT_JOB, slot_of(scheduled_for, AUDIT_EVERY), work)


class DiscountAuditService:
    """Findings for analysts (AUDIT_VIEW): a store-bound caller sees and triages only
    their own store's."""

    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def page(
        self, where: FindingFilter, first: int, after: str | None
    ) -> Page[FindingRecord]:
        store = scoped_store(self.actor, where.store_id, "filter", "storeId")
        narrowed = FindingFilter(
            rule=where.rule,
            status=where.status,
            severity=where.severity,
            store_id=store,
            cashier_id=where.cashier_id,
            detected_from=where.detected_from,
            detected_to=where.detected_to,
        )
        async with self.tx.db.read() as session:
            return await DiscountAuditRepository(session).page(narrowed, first, after)

    async def triage(
        self, finding_id: uuid.UUID, status: FindingStatus, note: str | None
    ) -> Result[FindingRecord]:
        """Confirm, dismiss or reopen a finding, with a note; audited with who and when."""

        async def work(uow: UnitOfWork) -> FindingRecord:
            repo = DiscountAuditRepository(uow.session)
            finding = await repo.get(finding_id)
            if finding is None:
                raise reject(ErrorCode.NOT_FOUND, "No such finding.", "id")
            if finding.store_id is not None:
                require_store(self.actor, finding.store_id, "id")
            text = optional_text(note, NOTE_MAX, "A note", "note")
            await repo.triage(finding_id, status, text, uow.actor_label, uow.now)
            await uow.audit(
                "discount_audit_finding", finding_id, "triage",
                before={"status": finding.status.value, "note": finding.note},
                after={"status": status.value, "note": text},
            )  # fmt: skip
            changed = await repo.get(finding_id)
            assert changed is not None
            return changed

        return await self.tx.run(self.actor, work)
