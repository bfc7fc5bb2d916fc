"""Discount codes (seed 002): a preferential rate assigned to a customer until it expires.

Seed 002 asks that codes be "assigned correctly to prevent unauthorized use": only an
active code can be assigned, only DISCOUNT_MANAGE can assign one, and every assignment,
removal and expiry is in the customer's audit trail with who did it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.repositories.discounts import DiscountRepository
from app.domain.errors import ErrorCode, reject
from app.domain.records import (
    Actor,
    CustomerDiscountRecord,
    CustomerRecord,
    DiscountCodeRecord,
    Page,
)
from app.domain.values import UNSET, Unset
from app.services.checks import identifier, optional_text, two_decimals
from app.services.customer_lookup import live_customer
from app.services.idempotency import Operation, replay_or_reserve, request_hash
from app.services.scheduled import ScheduledRun, run_once, slot_of
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow

CODE_MAX = 32
CODE_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{CODE_MAX}}}")
DESCRIPTION_MAX = 500
HUNDRED = Decimal(100)

EXPIRY_JOB = "expire_customer_discounts"
EXPIRY_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DiscountCodeChange:
    percent: Decimal | Unset = UNSET
    description: str | Unset | None = UNSET
    active: bool | Unset = UNSET


def code_key(code: str) -> str:
    """ "vip10" and "VIP10" are one code."""
    return code.strip().upper()


def _code(raw: str) -> str:
    rule = f"1 to {CODE_MAX} letters, digits, '-' or '_'"
    return identifier(raw, CODE_PATTERN, what="A code", rule=rule, field="code")


def _percent(value: Decimal) -> Decimal:
    exact = two_decimals(value, upper=HUNDRED, field="percent")
    if exact == 0:
        # A 0% code would be assignable and "applied" while giving nothing: a mistake.
        raise reject(ErrorCode.INVALID, "Must be above 0 and at most 100.", "input", "percent")
    return exact


# Far enough for "forever" with a date; near enough to stay inside datetime's range.
EXPIRY_HORIZON = timedelta(days=36525)


def _checked_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """An expiry in UTC, in the future and within the horizon; None: no expiry."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        # A till's local time read as UTC would move the expiry by hours.
        raise reject(ErrorCode.INVALID, "Give the expiry with its time zone offset.", "expiresAt")
    try:
        in_utc = expires_at.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
        in_utc = None
    if in_utc is None or in_utc > now + EXPIRY_HORIZON:
        raise reject(
            ErrorCode.INVALID,
            "The expiry must be within 100 years (or left out for none).",
            "expiresAt",
        )
    if in_utc <= now:
        raise reject(ErrorCode.INVALID, "The expiry must be in the future.", "expiresAt")
    return in_utc


def _description(raw: str | None) -> str | None:
    return optional_text(raw, DESCRIPTION_MAX, "A description", "input", "description")


def _code_snapshot(code: DiscountCodeRecord) -> dict[str, Any]:
    return {
        "code": code.code,
        "percent": str(code.percent),
        "description": code.description,
        "active": code.active,
    }


def _assignment_snapshot(held: CustomerDiscountRecord | None) -> dict[str, Any] | None:
    if held is None:
        return None
    return {
        "discountCode": held.code,
        "expiresAt": held.expires_at.isoformat() if held.expires_at else None,
    }


class DiscountService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def _require_code(self, uow: UnitOfWork, code_id: uuid.UUID) -> DiscountCodeRecord:
        code = await uow.discounts.get(code_id)
        if code is None:
            raise reject(ErrorCode.NOT_FOUND, "No such discount code.", "id")
        return code

    @staticmethod
    async def _require_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        return await live_customer(uow, customer_id)

    # -- codes ---------------------------------------------------------------------

    async def create(
        self,
        code: str,
        percent: Decimal,
        description: str | None,
        active: bool = True,
        idempotency_key: str | None = None,
    ) -> Result[DiscountCodeRecord]:
        """A new code; a retried key returns the first one instead of DISCOUNT_CODE_TAKEN."""
        digest = request_hash(
            {"code": code, "percent": percent, "description": description, "active": active}
        )

        async def work(uow: UnitOfWork) -> DiscountCodeRecord:
            code_id = uuid.uuid4()
            if earlier := await replay_or_reserve(
                uow, Operation.DISCOUNT_CODE_CREATE, idempotency_key, digest, str(code_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await self._require_code(uow, uuid.UUID(earlier))
            clean = _code(code)
            exact = _percent(percent)
            text = _description(description)
            if await uow.discounts.by_key(code_key(clean)) is not None:
                raise reject(
                    ErrorCode.DISCOUNT_CODE_TAKEN, "This discount code exists.", "input", "code"
                )
            created = await uow.discounts.insert(
                id=code_id,
                code=clean,
                code_key=code_key(clean),
                percent=exact,
                description=text,
                active=active,
                created_at=uow.now,
            )
            await uow.audit("discount_code", created.id, "create", after=_code_snapshot(created))
            return created

        return await self.tx.run(self.actor, work)

    async def update(
        self, code_id: uuid.UUID, change: DiscountCodeChange
    ) -> Result[DiscountCodeRecord]:
        """Re-price, re-describe, (de)activate; the code itself never changes once given out."""

        async def work(uow: UnitOfWork) -> DiscountCodeRecord:
            current = await self._require_code(uow, code_id)
            values: dict[str, Any] = {}
            if not isinstance(change.percent, Unset):
                values["percent"] = _percent(change.percent)
            if not isinstance(change.description, Unset):
                values["description"] = _description(change.description)
            if not isinstance(change.active, Unset):
                values["active"] = change.active
            if values:
                await uow.discounts.update(code_id, values)
            updated = await self._require_code(uow, code_id)
            before, after = _code_snapshot(current), _code_snapshot(updated)
            changed = await uow.audit_changes("discount_code", code_id, "update", before, after)
            if {"percent", "active"} & set(changed):
                # What every holder's discount is changed: tills holding them must re-read.
                for customer_id in await uow.discounts.holders(code_id):
                    uow.customer_changed(customer_id)
            return updated

        return await self.tx.run(self.actor, work)

    # -- assignments ---------------------------------------------------------------

    async def assign(
        self, customer_id: uuid.UUID, code: str, expiry: datetime | None
    ) -> Result[CustomerRecord]:
        """Give the customer an active code until ``expires_at`` (None: no expiry)."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await self._require_customer(uow, customer_id)
            expires_at = _checked_expiry(expiry, uow.now)
            found = await uow.discounts.by_key(code_key(code))
            if found is None or not found.active:
                raise reject(
                    ErrorCode.DISCOUNT_CODE_INVALID,
                    "No active discount code with this name.",
                    "code",
                )
            held = await uow.discounts.assignment(customer_id)
            await uow.discounts.assign(
                customer_id,
                found.id,
                expires_at=expires_at,
                assigned_at=uow.now,
                assigned_by=uow.actor_label,
            )
            after = {
                "discountCode": found.code,
                "expiresAt": expires_at.isoformat() if expires_at else None,
            }
            await uow.audit(
                "customer", customer_id, "discount_assign",
                before=_assignment_snapshot(held), after=after,
            )  # fmt: skip
            return customer

        return await self.tx.run(self.actor, work)

    async def remove(self, customer_id: uuid.UUID) -> Result[CustomerRecord]:
        """Take the customer's code away; without one this changes nothing."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await self._require_customer(uow, customer_id)
            held = await uow.discounts.assignment(customer_id)
            if held is not None:
                await uow.discounts.remove(customer_id)
                await uow.audit(
                    "customer", customer_id, "discount_remove", before=_assignment_snapshot(held)
                )
            return customer

        return await self.tx.run(self.actor, work)

    # -- reads ---------------------------------------------------------------------

    async def page(
        self, first: int, after: str | None, active: bool | None = None
    ) -> Page[DiscountCodeRecord]:
        async with self.tx.db.read() as session:
            return await DiscountRepository(session).page(first, after, active)

    async def for_customers(
        self, customer_ids: list[uuid.UUID], at: datetime | None = None
    ) -> dict[uuid.UUID, CustomerDiscountRecord]:
        """Each customer's discount valid at ``at`` (default now), even before the job ran."""
        async with self.tx.db.read() as session:
            return await DiscountRepository(session).valid_for(customer_ids, at or utcnow())

    async def discount_for(
        self, customer_id: uuid.UUID, at: datetime
    ) -> CustomerDiscountRecord | None:
        """The code and percent a sale at ``at`` gets: active and not expired, else None.

        A sale in its own transaction reads ``uow.discounts.discount_for`` instead.
        """
        async with self.tx.db.read() as session:
            return await DiscountRepository(session).discount_for(customer_id, at)


async def expire_assignments(
    tx: Transactions, scheduled_for: datetime, now: datetime | None = None
) -> ScheduledRun:
    """Reset assignments expired by ``now``, once per slot; each reset is audited as system."""
    moment = now or utcnow()

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        gone = await uow.discounts.delete_expired(moment)
        await uow.audit_many(
            "customer",
            "discount_expire",
            [(g.customer_id, _assignment_snapshot(g), None) for g in gone],
        )
        return {"rows": len(gone), "expired": len(gone), "now": moment.isoformat()}

    return await run_once(tx, EXPIRY_JOB, slot_of(scheduled_for, EXPIRY_EVERY), work)
