"""Privacy requests (issue 13): every row held about one person, read whole and scrubbed.

The export reads each table that holds something about a customer; the erasure rewrites
the personal cells of those rows. Both walk the same tables, listed here, so a table
added for customers is added to one place (and the canary test in
tests/api/test_customer_privacy.py fails until it is).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base, table_of
from app.db.models import (
    Appointment,
    AuditEntry,
    ConsentChange,
    Customer,
    CustomerAddress,
    CustomerDiscount,
    CustomerGroup,
    CustomerGroupMember,
    CustomerLoyaltyTier,
    CustomerNameWord,
    CustomerPhone,
    CustomerPhoto,
    CustomerSalesStats,
    CustomerToken,
    DiscountAuditFinding,
    DiscountCode,
    IdempotencyKey,
    LoyaltyCard,
    LoyaltyTier,
    MarketingConsent,
    Notification,
    NotificationAttempt,
    OfflineCustomer,
    OnlineAccount,
    PointsBalance,
    PointsEntry,
    Sale,
    SaleLine,
    SaleReturn,
)
from app.domain.loyalty import CardStatus

# Columns never exported: search keys derived from other columns, and secrets' hashes.
_NOT_EXPORTED = frozenset(
    {"name_key", "email_key", "phone_reversed", "password_hash", "reset_code_hash"}
)

# What stands in for an erased value, in text and in JSON.
ERASED = "[erased]"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _columns(row: Base) -> dict[str, Any]:
    return {
        _camel(c.key): getattr(row, c.key)
        for c in table_of(type(row)).columns
        if c.key not in _NOT_EXPORTED
    }


@dataclass(frozen=True, slots=True)
class Cell:
    """One stored value that may hold personal data: a row (by primary key) and a column."""

    model: type[Base]
    key: tuple[Any, ...]
    column: str
    value: Any


# The free text and JSON written about a customer (by staff, tills or the system) that may
# name them: scrubbed of the person's values on erasure, the rows themselves kept.
TextColumns = tuple[type[Base], tuple[str, ...], ColumnElement[bool]]
AUDIT_TEXT = ("before", "after", "actor_label")
# Ids per IN list: a customer of the whole shop's cash sales has tens of thousands of
# sales, past asyncpg's 32,767 bound values in one statement.
ID_CHUNK = 1000


def _sales_of(ids: list[uuid.UUID]) -> Select[uuid.UUID]:
    return select(Sale.id).where(Sale.customer_id.in_(ids))


def _text_columns(ids: list[uuid.UUID], sale_ids: list[uuid.UUID]) -> list[TextColumns]:
    as_text = [str(i) for i in ids]
    sales = _sales_of(ids)
    offline_candidates = [cast(OfflineCustomer.candidate_ids, String).contains(str(i)) for i in ids]
    # The sales' audit entries are keyed by the id as text: asked by chunks of ids.
    sale_audit: list[TextColumns] = [
        (
            AuditEntry,
            AUDIT_TEXT,
            (AuditEntry.entity_type == "sale")
            & AuditEntry.entity_id.in_([str(i) for i in sale_ids[start : start + ID_CHUNK]]),
        )
        for start in range(0, len(sale_ids), ID_CHUNK)
    ]
    return [
        *sale_audit,
        (
            AuditEntry,
            AUDIT_TEXT,
            (AuditEntry.entity_type == "customer") & AuditEntry.entity_id.in_(as_text),
        ),
        (PointsEntry, ("reason", "actor_label"), PointsEntry.customer_id.in_(ids)),
        (Sale, ("void_reason",), Sale.customer_id.in_(ids)),
        (SaleReturn, ("reason",), SaleReturn.sale_id.in_(sales)),
        (ConsentChange, ("actor_label",), ConsentChange.customer_id.in_(ids)),
        (MarketingConsent, ("actor_label",), MarketingConsent.customer_id.in_(ids)),
        (LoyaltyCard, ("issued_by",), LoyaltyCard.customer_id.in_(ids)),
        (CustomerDiscount, ("assigned_by",), CustomerDiscount.customer_id.in_(ids)),
        (Appointment, ("service", "created_by"), Appointment.customer_id.in_(ids)),
        (
            DiscountAuditFinding,
            ("explanation", "details", "note"),
            or_(
                DiscountAuditFinding.customer_id.in_(ids),
                DiscountAuditFinding.sale_id.in_(sales),
            ),
        ),
        (
            OfflineCustomer,
            ("payload", "reason"),
            or_(OfflineCustomer.customer_id.in_(ids), *offline_candidates),
        ),
    ]


class CustomerPrivacyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def person_ids(self, customer_id: uuid.UUID) -> list[uuid.UUID]:
        """The customer and the records merged into it: one person's rows (seed 002)."""
        merged = await self.session.scalars(
            select(Customer.id).where(Customer.merged_into_id == customer_id).order_by(Customer.id)
        )
        return [customer_id, *merged]

    async def sale_ids(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(await self.session.scalars(select(Sale.id).where(Sale.customer_id.in_(ids))))

    async def _rows(self, stmt: Any) -> list[dict[str, Any]]:
        return [_columns(row) for row in await self.session.scalars(stmt)]

    # -- the export -------------------------------------------------------------------

    async def export_sections(self, ids: list[uuid.UUID]) -> dict[str, Any]:
        """Every row about the person, table by table, as column -> value (camelCase)."""
        groups = await self.session.execute(
            select(CustomerGroup.id, CustomerGroup.name, CustomerGroupMember.customer_id)
            .join(CustomerGroupMember, CustomerGroupMember.group_id == CustomerGroup.id)
            .where(CustomerGroupMember.customer_id.in_(ids))
            .order_by(CustomerGroup.name_key)
        )
        discounts = await self.session.execute(
            select(CustomerDiscount, DiscountCode.code, DiscountCode.percent)
            .join(DiscountCode, DiscountCode.id == CustomerDiscount.discount_code_id)
            .where(CustomerDiscount.customer_id.in_(ids))
        )
        tiers = await self.session.execute(
            select(CustomerLoyaltyTier, LoyaltyTier.name)
            .join(LoyaltyTier, LoyaltyTier.id == CustomerLoyaltyTier.tier_id)
            .where(CustomerLoyaltyTier.customer_id.in_(ids))
        )
        sales = await self._rows(
            select(Sale).where(Sale.customer_id.in_(ids)).order_by(Sale.created_at, Sale.id)
        )
        lines: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for line in await self._rows(
            select(SaleLine)
            .where(SaleLine.sale_id.in_(_sales_of(ids)))
            .order_by(SaleLine.sale_id, SaleLine.position)
        ):
            lines[line["saleId"]].append(line)
        returns: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for row in await self._rows(
            select(SaleReturn)
            .where(SaleReturn.sale_id.in_(_sales_of(ids)))
            .order_by(SaleReturn.created_at, SaleReturn.id)
        ):
            returns[row["saleId"]].append(row)
        for sale in sales:
            sale["lines"] = lines.get(sale["id"], [])
            sale["returns"] = returns.get(sale["id"], [])
        return {
            "customers": await self._rows(
                select(Customer).where(Customer.id.in_(ids)).order_by(Customer.created_at)
            ),
            "addresses": await self._rows(
                select(CustomerAddress)
                .where(CustomerAddress.customer_id.in_(ids))
                .order_by(CustomerAddress.customer_id, CustomerAddress.position)
            ),
            "otherPhones": await self._rows(
                select(CustomerPhone)
                .where(CustomerPhone.customer_id.in_(ids))
                .order_by(CustomerPhone.customer_id, CustomerPhone.position)
            ),
            "groups": [
                {"groupId": group_id, "name": name, "customerId": customer_id}
                for group_id, name, customer_id in groups
            ],
            "discountCode": [
                {**_columns(row), "code": code, "percent": percent}
                for row, code, percent in discounts
            ],
            "loyaltyTier": [{**_columns(row), "name": name} for row, name in tiers],
            "loyaltyCards": await self._rows(
                select(LoyaltyCard)
                .where(LoyaltyCard.customer_id.in_(ids))
                .order_by(LoyaltyCard.issued_at)
            ),
            "pointsBalance": await self._rows(
                select(PointsBalance).where(PointsBalance.customer_id.in_(ids))
            ),
            "pointsLedger": await self._rows(
                select(PointsEntry).where(PointsEntry.customer_id.in_(ids)).order_by(PointsEntry.id)
            ),
            "marketingConsent": await self._rows(
                select(MarketingConsent).where(MarketingConsent.customer_id.in_(ids))
            ),
            "consentHistory": await self._rows(
                select(ConsentChange)
                .where(ConsentChange.customer_id.in_(ids))
                .order_by(ConsentChange.id)
            ),
            "notifications": await self._rows(
                select(Notification)
                .where(Notification.customer_id.in_(ids))
                .order_by(Notification.created_at, Notification.id)
            ),
            "photos": await self._rows(
                select(CustomerPhoto)
                .where(CustomerPhoto.customer_id.in_(ids))
                .order_by(CustomerPhoto.customer_id, CustomerPhoto.size)
            ),
            "onlineAccount": await self._rows(
                select(OnlineAccount).where(OnlineAccount.customer_id.in_(ids))
            ),
            "salesStats": await self._rows(
                select(CustomerSalesStats).where(CustomerSalesStats.customer_id.in_(ids))
            ),
            "sales": sales,
            "appointments": await self._rows(
                select(Appointment)
                .where(Appointment.customer_id.in_(ids))
                .order_by(Appointment.starts_at, Appointment.id)
            ),
            "auditTrail": await self._rows(
                select(AuditEntry)
                .where(
                    AuditEntry.entity_type == "customer",
                    AuditEntry.entity_id.in_([str(i) for i in ids]),
                )
                .order_by(AuditEntry.id)
            ),
        }

    # -- the erasure ------------------------------------------------------------------

    async def text_cells(self, ids: list[uuid.UUID], sale_ids: list[uuid.UUID]) -> list[Cell]:
        """The free-text and JSON cells written about the person (``_text_columns``)."""
        cells: list[Cell] = []
        for model, columns, where in _text_columns(ids, sale_ids):
            table = table_of(model)
            keys = list(table.primary_key.columns)
            stmt = select(*keys, *(table.c[c] for c in columns)).where(where)
            for row in await self.session.execute(stmt):
                key = tuple(row[: len(keys)])
                for column, value in zip(columns, row[len(keys) :], strict=True):
                    if value is not None:
                        cells.append(Cell(model, key, column, value))
        return cells

    async def rewrite(self, cells: list[Cell]) -> None:
        """Store each cell's new value (its row found by primary key)."""
        for cell in cells:
            table = table_of(cell.model)
            keys = list(table.primary_key.columns)
            await self.session.execute(
                update(table)
                .where(*(k == v for k, v in zip(keys, cell.key, strict=True)))
                .values({cell.column: cell.value})
            )

    async def customer_rows(self, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        """The person's customer rows with their lists, to learn the values to scrub."""
        rows = await self._rows(select(Customer).where(Customer.id.in_(ids)))
        rows += await self._rows(
            select(CustomerAddress).where(CustomerAddress.customer_id.in_(ids))
        )
        rows += await self._rows(select(CustomerPhone).where(CustomerPhone.customer_id.in_(ids)))
        return rows

    async def clear_pointers(self, pointer_ids: list[uuid.UUID], now: datetime) -> None:
        """Records merged into the erased customer keep only their pointer (their number
        was already given up by the merge)."""
        if not pointer_ids:
            return
        await self.session.execute(
            update(Customer)
            .where(Customer.id.in_(pointer_ids))
            .values(**ERASED_PROFILE, name_key="", version=Customer.version + 1, updated_at=now)
        )
        await self.session.execute(
            delete(CustomerNameWord).where(CustomerNameWord.customer_id.in_(pointer_ids))
        )

    async def delete_personal_rows(self, ids: list[uuid.UUID]) -> None:
        """Addresses, extra numbers (freed for others), the online account and its sessions."""
        for model, column in (
            (CustomerAddress, CustomerAddress.customer_id),
            (CustomerPhone, CustomerPhone.customer_id),
            (CustomerToken, CustomerToken.customer_id),
            (OnlineAccount, OnlineAccount.customer_id),
        ):
            await self.session.execute(delete(model).where(column.in_(ids)))

    async def clear_notes(self, ids: list[uuid.UUID]) -> None:
        """Appointment notes and delivery errors are about the person alone: emptied."""
        await self.session.execute(
            update(Appointment).where(Appointment.customer_id.in_(ids)).values(note=None)
        )
        notified = select(Notification.id).where(Notification.customer_id.in_(ids))
        await self.session.execute(
            update(Notification).where(Notification.customer_id.in_(ids)).values(error=None)
        )
        await self.session.execute(
            update(NotificationAttempt)
            .where(NotificationAttempt.notification_id.in_(notified))
            .values(error=None)
        )

    async def notification_ids(self, ids: list[uuid.UUID], *, queued: bool) -> list[uuid.UUID]:
        stmt = select(Notification.id).where(Notification.customer_id.in_(ids))
        if queued:
            stmt = stmt.where(Notification.status == "QUEUED")
        return list(await self.session.scalars(stmt.order_by(Notification.id)))

    async def active_card_ids(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(
            await self.session.scalars(
                select(LoyaltyCard.id).where(
                    LoyaltyCard.customer_id.in_(ids), LoyaltyCard.status == CardStatus.ACTIVE.value
                )
            )
        )

    async def forget_requests(self, ids: list[uuid.UUID]) -> None:
        """Idempotency keys answered with the person: their request hash (of the personal
        data sent) is dropped, so a late retry is refused instead of recreating them."""
        await self.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.result_id.in_([str(i) for i in ids]))
            .values(request_hash=ERASED)
        )


# The personal columns of a customer row and what they become on erasure; the rest
# (status, home store, credit terms, dates, merge pointer) is not about who they are.
ERASED_PROFILE: dict[str, Any] = {
    "name": "Erased customer",
    "email": None,
    "email_key": None,
    "customer_code": None,
    "first_name": None,
    "last_name": None,
    "birth_date": None,
    "gender": None,
    "pan": None,
    "gstin": None,
    "state_code": None,
    "reg_no": None,
    "vat_no": None,
    "preferred_channel": None,
    "willing_to_receive": False,
    "remarks": None,
}
