from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Uuid,
    and_,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import (
    Customer,
    CustomerDiscount,
    CustomerGroup,
    CustomerGroupMember,
    CustomerLoyaltyTier,
    DiscountCode,
    LoyaltyCard,
    LoyaltyTier,
)
from app.db.repositories.paging import after_key_and_id, encode_cursor
from app.domain.loyalty import CardStatus
from app.domain.records import CustomerDiscountRecord, DiscountCodeRecord, Page

# Core column selects, not ORM entities: the till's customer screen reads these.
_ASSIGNMENT = select(
    CustomerDiscount.customer_id,
    CustomerDiscount.discount_code_id,
    DiscountCode.code,
    DiscountCode.percent,
    DiscountCode.description,
    DiscountCode.active,
    CustomerDiscount.expires_at,
    CustomerDiscount.assigned_at,
    CustomerDiscount.assigned_by,
).join(DiscountCode, DiscountCode.id == CustomerDiscount.discount_code_id)


def _code(row: DiscountCode) -> DiscountCodeRecord:
    return DiscountCodeRecord(
        id=row.id,
        code=row.code,
        percent=row.percent,
        description=row.description,
        active=row.active,
        created_at=row.created_at,
    )


def _assignment(row: Any) -> CustomerDiscountRecord:
    return CustomerDiscountRecord(
        customer_id=row.customer_id,
        discount_code_id=row.discount_code_id,
        code=row.code,
        percent=row.percent,
        description=row.description,
        active=row.active,
        expires_at=row.expires_at,
        assigned_at=row.assigned_at,
        assigned_by=row.assigned_by,
    )


@dataclass(frozen=True, slots=True)
class OfferRow:
    """Something that may take money off a customer's sale; ``card_id`` on the card's row."""

    source: str  # app/domain/pricing.py DiscountSource
    code: str
    percent: Decimal | None
    card_id: uuid.UUID | None
    # On the tier's row: its points multiplier and id (app/domain/tiers.py).
    multiplier: Decimal | None = None
    tier_id: uuid.UUID | None = None


# The marker row of a customer who opted out of loyalty: it rides in the offers' statement.
_OPTED_OUT = "LOYALTY_OPT_OUT"


@dataclass(frozen=True, slots=True)
class CustomerOffers:
    """What ``offers_for`` reads: the offers, and whether the customer opted out of
    loyalty (app/domain/loyalty.py ``loyalty_active`` takes this as the customer)."""

    rows: list[OfferRow]
    loyalty_opt_out: bool


def _valid_at(at: datetime) -> ColumnElement[bool]:
    """The SQL twin of ``CustomerDiscountRecord.valid_at``."""
    return and_(
        DiscountCode.active.is_(True),
        or_(CustomerDiscount.expires_at.is_(None), CustomerDiscount.expires_at > at),
    )


class DiscountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- codes ---------------------------------------------------------------------

    async def get(self, code_id: uuid.UUID) -> DiscountCodeRecord | None:
        row = await self.session.get(DiscountCode, code_id, populate_existing=True)
        return _code(row) if row else None

    async def by_key(self, code_key: str) -> DiscountCodeRecord | None:
        row = await self.session.scalar(
            select(DiscountCode).where(DiscountCode.code_key == code_key)
        )
        return _code(row) if row else None

    async def insert(self, **values: Any) -> DiscountCodeRecord:
        row = DiscountCode(**values)
        self.session.add(row)
        await self.session.flush()
        return _code(row)

    async def update(self, code_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(
            update(DiscountCode).where(DiscountCode.id == code_id).values(**values)
        )

    async def page(
        self, first: int, after: str | None, active: bool | None
    ) -> Page[DiscountCodeRecord]:
        """Codes in code order, optionally only the active or only the inactive ones."""
        where = [] if active is None else [DiscountCode.active.is_(active)]
        total = await self.session.scalar(
            select(func.count()).select_from(DiscountCode).where(*where)
        )
        stmt = select(DiscountCode).where(*where)
        if after is not None:
            stmt = stmt.where(after_key_and_id(DiscountCode.code_key, DiscountCode.id, after))
        rows = list(
            await self.session.scalars(
                stmt.order_by(DiscountCode.code_key, DiscountCode.id).limit(first + 1)
            )
        )
        return Page(
            items=[(encode_cursor(r.code_key, r.id.hex), _code(r)) for r in rows[:first]],
            has_next=len(rows) > first,
            total=total or 0,
        )

    async def holders(self, code_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.scalars(
            select(CustomerDiscount.customer_id).where(CustomerDiscount.discount_code_id == code_id)
        )
        return list(rows)

    # -- assignments ---------------------------------------------------------------

    async def assignment(self, customer_id: uuid.UUID) -> CustomerDiscountRecord | None:
        """The customer's assignment as stored, valid or not."""
        row = (
            await self.session.execute(
                _ASSIGNMENT.where(CustomerDiscount.customer_id == customer_id)
            )
        ).one_or_none()
        return _assignment(row) if row else None

    async def assign(
        self,
        customer_id: uuid.UUID,
        code_id: uuid.UUID,
        *,
        expires_at: datetime | None,
        assigned_at: datetime,
        assigned_by: str,
    ) -> None:
        """Give the customer this code, replacing the one they held (one per customer)."""
        await self.remove(customer_id)
        await self.session.execute(
            insert(CustomerDiscount).values(
                customer_id=customer_id,
                discount_code_id=code_id,
                expires_at=expires_at,
                assigned_at=assigned_at,
                assigned_by=assigned_by,
            )
        )

    async def remove(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(CustomerDiscount).where(CustomerDiscount.customer_id == customer_id)
        )

    async def valid_for(
        self, customer_ids: list[uuid.UUID], at: datetime
    ) -> dict[uuid.UUID, CustomerDiscountRecord]:
        """Each customer's discount that applies at ``at``: active and not expired."""
        if not customer_ids:
            return {}
        rows = await self.session.execute(
            _ASSIGNMENT.where(CustomerDiscount.customer_id.in_(customer_ids), _valid_at(at))
        )
        return {row.customer_id: _assignment(row) for row in rows}

    async def discount_for(
        self, customer_id: uuid.UUID, at: datetime
    ) -> CustomerDiscountRecord | None:
        """The discount a sale at ``at`` gets for this customer, if any (issue 4 reads this)."""
        return (await self.valid_for([customer_id], at)).get(customer_id)

    async def offers_for(self, customer_id: uuid.UUID, at: datetime) -> CustomerOffers:
        """The customer's discount code valid at ``at``, working loyalty card, tier and groups,
        and whether they opted out of loyalty, in one statement: the till prices every sale
        with these, so they are one round trip.

        The card comes even at 0% (a sale's points ledger line names it); percents are
        compared in Python, as SQLite keeps them as text.
        """
        no_card = cast(null(), Uuid)
        # Cast: PostgreSQL types a bare NULL in the first branch as text, and the union's
        # columns take the first branch's types (Percent also reads SQLite's text back).
        no_multiplier = cast(null(), LoyaltyTier.points_multiplier.type)
        no_tier = cast(null(), Uuid)
        code = (
            select(
                literal("CODE"),
                DiscountCode.code,
                DiscountCode.percent,
                no_card,
                no_multiplier,
                no_tier,
            )
            .join(CustomerDiscount, CustomerDiscount.discount_code_id == DiscountCode.id)
            .where(CustomerDiscount.customer_id == customer_id, _valid_at(at))
        )
        card = select(
            literal("LOYALTY_CARD"),
            LoyaltyCard.card_number,
            LoyaltyCard.discount_percent,
            LoyaltyCard.id,
            no_multiplier,
            no_tier,
        ).where(
            LoyaltyCard.customer_id == customer_id,
            LoyaltyCard.status == CardStatus.ACTIVE.value,
        )
        # The tier comes even without a discount: its multiplier counts at completion.
        tier = (
            select(
                literal("TIER"),
                LoyaltyTier.name,
                LoyaltyTier.discount_percent,
                no_card,
                LoyaltyTier.points_multiplier,
                LoyaltyTier.id,
            )
            .join(CustomerLoyaltyTier, CustomerLoyaltyTier.tier_id == LoyaltyTier.id)
            .where(CustomerLoyaltyTier.customer_id == customer_id)
        )
        groups = (
            select(
                literal("GROUP"),
                CustomerGroup.name,
                CustomerGroup.discount_percent,
                no_card,
                no_multiplier,
                no_tier,
            )
            .join(CustomerGroupMember, CustomerGroupMember.group_id == CustomerGroup.id)
            .where(CustomerGroupMember.customer_id == customer_id)
        )
        opted_out = select(
            literal(_OPTED_OUT),
            literal(""),
            cast(null(), DiscountCode.percent.type),
            no_card,
            no_multiplier,
            no_tier,
        ).where(Customer.id == customer_id, Customer.loyalty_opt_out)
        rows = [OfferRow(*row) for row in await self.session.execute(
            union_all(code, card, tier, groups, opted_out)
        )]  # fmt: skip
        return CustomerOffers(
            rows=[r for r in rows if r.source != _OPTED_OUT],
            loyalty_opt_out=any(r.source == _OPTED_OUT for r in rows),
        )

    async def delete_expired(self, now: datetime) -> list[CustomerDiscountRecord]:
        """Delete assignments that expired by ``now``; returns exactly the rows deleted."""
        # RETURNING, not select-then-delete: an assignment replaced in between is neither
        # deleted nor reported as expired.
        gone = (
            await self.session.execute(
                delete(CustomerDiscount)
                .where(CustomerDiscount.expires_at <= now)
                .returning(
                    CustomerDiscount.customer_id,
                    CustomerDiscount.discount_code_id,
                    CustomerDiscount.expires_at,
                    CustomerDiscount.assigned_at,
                    CustomerDiscount.assigned_by,
                )
                .execution_options(synchronize_session=False)
            )
        ).all()
        if not gone:
            return []
        codes = {
            c.id: c
            for c in await self.session.scalars(
                select(DiscountCode).where(DiscountCode.id.in_({g.discount_code_id for g in gone}))
            )
        }
        return [
            CustomerDiscountRecord(
                customer_id=g.customer_id,
                discount_code_id=g.discount_code_id,
                code=codes[g.discount_code_id].code,
                percent=codes[g.discount_code_id].percent,
                description=codes[g.discount_code_id].description,
                active=codes[g.discount_code_id].active,
                expires_at=g.expires_at,
                assigned_at=g.assigned_at,
                assigned_by=g.assigned_by,
            )
            for g in sorted(gone, key=lambda g: str(g.customer_id))
        ]
