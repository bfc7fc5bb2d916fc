"""Folding one customer into another: every table that points at a customer, in one place.

A new table with a customer_id must be handled here; tests/db/test_merge_covers_tables.py
fails when one is missing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
from app.db.models import (
    Appointment,
    AuditEntry,
    ConsentChange,
    Customer,
    CustomerDiscount,
    CustomerGroupMember,
    CustomerPhone,
    CustomerPhoto,
    CustomerProductUnits,
    CustomerSalesStats,
    DiscountAuditFinding,
    LoyaltyCard,
    MarketingConsent,
    Notification,
    OfflineCustomer,
    PointsBalance,
    PointsEntry,
    Sale,
)
from app.db.models.customer import reversed_digits

# Tables whose customer rows move to the survivor (or are settled) by ``fold``; the rest
# (name words, addresses, store sets) stay with the merged record on purpose.
FOLDED_TABLES = frozenset(
    {
        "sales",
        "appointments",
        "customer_sales_stats",
        "customer_product_units",
        "loyalty_points_ledger",
        "loyalty_points_balances",
        "loyalty_cards",
        "customer_discounts",
        "customer_group_members",
        "marketing_consents",
        "marketing_consent_history",
        "customer_phones",
        "notifications",
        "offline_customers",
        "online_accounts",
        "discount_audit_findings",
        "customer_tokens",
        "audit_entries",
        # Not moved row by row: the merge drops the merged customer's segment and marks
        # the moved sales' days dirty (app/services/sales_aggregates.py), so the nightly
        # recompute rewrites customer_daily for the survivor.
        "customer_daily",
        "customer_segments",
        "customer_photos",
        # Not moved: the merge evaluates the survivor's tier with both histories counted
        # (app/services/loyalty_tiers.py evaluate_after_merge) and drops the merged one's.
        "customer_loyalty_tiers",
    }
)
KEPT_TABLES = frozenset({"customer_name_words", "customer_addresses", "store_customers"})


class MergeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def move_sales(self, source: uuid.UUID, target: uuid.UUID) -> int:
        result = await self.session.execute(
            update(Sale).where(Sale.customer_id == source).values(customer_id=target)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def move_appointments(self, source: uuid.UUID, target: uuid.UUID) -> int:
        # Seed 004: the survivor's appointment history is the whole person's history.
        result = await self.session.execute(
            update(Appointment).where(Appointment.customer_id == source).values(customer_id=target)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def move_sales_stats(self, source: uuid.UUID, target: uuid.UUID) -> None:
        """The survivor's running stats become the sum of both (sales moved with them)."""
        stats = CustomerSalesStats
        rows = {
            r.customer_id: r
            for r in await self.session.scalars(
                select(stats).where(stats.customer_id.in_([source, target]))
            )
        }
        merged = rows.get(source)
        if merged is None:
            return
        kept = rows.get(target)
        if kept is None:
            await self.session.execute(
                update(stats).where(stats.customer_id == source).values(customer_id=target)
            )
            return
        firsts = [t for t in (kept.first_purchase_at, merged.first_purchase_at) if t]
        lasts = [t for t in (kept.last_purchase_at, merged.last_purchase_at) if t]
        await self.session.execute(
            update(stats)
            .where(stats.customer_id == target)
            .values(
                visits=stats.visits + merged.visits,
                spent_cents=stats.spent_cents + merged.spent_cents,
                credit_cents=stats.credit_cents + merged.credit_cents,
                first_purchase_at=min(firsts) if firsts else None,
                last_purchase_at=max(lasts) if lasts else None,
            )
        )
        await self.session.execute(delete(stats).where(stats.customer_id == source))

    async def move_product_units(self, source: uuid.UUID, target: uuid.UUID) -> None:
        """The survivor's units per product become the sum of both (sales moved with them)."""
        kept = CustomerProductUnits
        upsert = conflict_insert(self.session.get_bind().dialect.name)
        moved = upsert(kept).from_select(
            ["customer_id", "product_id", "units"],
            select(literal(target, kept.customer_id.type), kept.product_id, kept.units).where(
                kept.customer_id == source
            ),
        )
        await self.session.execute(
            moved.on_conflict_do_update(
                index_elements=["customer_id", "product_id"],
                set_={"units": kept.units + moved.excluded.units},
            )
        )
        await self.session.execute(delete(kept).where(kept.customer_id == source))

    async def move_points(self, source: uuid.UUID, target: uuid.UUID, now: datetime) -> int:
        """The ledger moves whole; the survivor's balance grows by the merged one's."""
        # The balance row first: a redemption in flight holds it, so this waits for it and
        # then reads its result; only after that are all its ledger entries committed.
        moved = await self.session.scalar(
            delete(PointsBalance)
            .where(PointsBalance.customer_id == source)
            .returning(PointsBalance.points)
        )
        await self.session.execute(
            update(PointsEntry).where(PointsEntry.customer_id == source).values(customer_id=target)
        )
        if not moved:
            return 0
        updated = await self.session.execute(
            update(PointsBalance)
            .where(PointsBalance.customer_id == target)
            .values(points=PointsBalance.points + moved, updated_at=now)
        )
        if not updated.rowcount:  # type: ignore[attr-defined]
            await self.session.execute(
                insert(PointsBalance).values(customer_id=target, points=moved, updated_at=now)
            )
        return int(moved)

    async def move_cards(self, source: uuid.UUID, target: uuid.UUID, now: datetime) -> str:
        """The survivor keeps its card; if it has none, the merged customer's card moves."""
        target_card = await self.session.scalar(
            select(LoyaltyCard.id).where(
                LoyaltyCard.customer_id == target, LoyaltyCard.status == "ACTIVE"
            )
        )
        if target_card is not None:
            # Two working cards for one person would let the old one be used: retire it.
            await self.session.execute(
                update(LoyaltyCard)
                .where(LoyaltyCard.customer_id == source, LoyaltyCard.status == "ACTIVE")
                .values(status="REPLACED", replaced_by_id=target_card, replaced_at=now)
            )
            outcome = "kept"
        else:
            outcome = "moved"
        await self.session.execute(
            update(LoyaltyCard).where(LoyaltyCard.customer_id == source).values(customer_id=target)
        )
        return outcome

    async def move_discount(self, source: uuid.UUID, target: uuid.UUID) -> bool:
        """The survivor keeps its own discount code; else it takes the merged one's."""
        has_own = await self.session.scalar(
            select(CustomerDiscount.customer_id).where(CustomerDiscount.customer_id == target)
        )
        if has_own is not None:
            await self.session.execute(
                delete(CustomerDiscount).where(CustomerDiscount.customer_id == source)
            )
            return False
        result = await self.session.execute(
            update(CustomerDiscount)
            .where(CustomerDiscount.customer_id == source)
            .values(customer_id=target)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def move_photo(self, source: uuid.UUID, target: uuid.UUID) -> bool:
        """The survivor keeps its own picture; else it takes the merged one's (both sizes
        move together: the rows are one upload)."""
        has_own = await self.session.scalar(
            select(CustomerPhoto.id).where(CustomerPhoto.customer_id == target).limit(1)
        )
        if has_own is not None:
            await self.session.execute(
                delete(CustomerPhoto).where(CustomerPhoto.customer_id == source)
            )
            return False
        result = await self.session.execute(
            update(CustomerPhoto)
            .where(CustomerPhoto.customer_id == source)
            .values(customer_id=target)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def move_groups(self, source: uuid.UUID, target: uuid.UUID) -> list[uuid.UUID]:
        groups = set(
            await self.session.scalars(
                select(CustomerGroupMember.group_id).where(
                    CustomerGroupMember.customer_id == source
                )
            )
        )
        held = set(
            await self.session.scalars(
                select(CustomerGroupMember.group_id).where(
                    CustomerGroupMember.customer_id == target
                )
            )
        )
        await self.session.execute(
            delete(CustomerGroupMember).where(CustomerGroupMember.customer_id == source)
        )
        added = sorted(groups - held, key=str)
        if added:
            await self.session.execute(
                insert(CustomerGroupMember),
                [{"group_id": g, "customer_id": target} for g in added],
            )
        return added

    async def move_consent(
        self, source: uuid.UUID, target: uuid.UUID, channels_with_address: set[str]
    ) -> list[str]:
        """Per channel, the later decision wins, if the survivor has that channel's address."""
        rows = {
            (r.customer_id, r.channel): r
            for r in await self.session.scalars(
                select(MarketingConsent).where(MarketingConsent.customer_id.in_([source, target]))
            )
        }
        taken: list[str] = []
        for channel in ("EMAIL", "SMS"):
            theirs = rows.get((source, channel))
            ours = rows.get((target, channel))
            if theirs is None or channel not in channels_with_address:
                continue
            if ours is None or theirs.changed_at > ours.changed_at:
                if ours is not None:
                    await self.session.delete(ours)
                    await self.session.flush()
                theirs.customer_id = target
                taken.append(channel)
        await self.session.flush()
        await self.session.execute(
            delete(MarketingConsent).where(MarketingConsent.customer_id == source)
        )
        await self.session.execute(
            update(ConsentChange)
            .where(ConsentChange.customer_id == source)
            .values(customer_id=target)
        )
        return taken

    async def move_phones(self, source: uuid.UUID, target: uuid.UUID) -> list[str]:
        """The merged customer's other numbers become the survivor's, found by search."""
        start = await self.session.scalar(
            select(CustomerPhone.position)
            .where(CustomerPhone.customer_id == target)
            .order_by(CustomerPhone.position.desc())
            .limit(1)
        )
        phones = list(
            await self.session.scalars(
                select(CustomerPhone).where(CustomerPhone.customer_id == source)
            )
        )
        for offset, phone in enumerate(phones, start=(start or 0) + 1):
            phone.customer_id = target
            phone.position = offset
        await self.session.flush()
        # The main number too: the pointer gives it up (a placeholder keeps its column
        # unique and matches no search), and the survivor is found by it.
        main = await self.session.scalar(select(Customer.phone).where(Customer.id == source))
        moved = [p.phone for p in phones]
        if main is not None and main.startswith("+"):
            await self.session.execute(
                update(Customer)
                .where(Customer.id == source)
                .values(phone=f"merged:{source.hex[:13]}", phone_reversed=None)
            )
            self.session.add(
                CustomerPhone(
                    phone=main,
                    phone_reversed=reversed_digits(main),
                    customer_id=target,
                    position=(start or 0) + len(phones) + 1,
                    label="merged",
                )
            )
            await self.session.flush()
            moved.append(main)
        return moved

    async def move_rest(self, source: uuid.UUID, target: uuid.UUID) -> None:
        await self.session.execute(
            update(Notification)
            .where(Notification.customer_id == source)
            .values(customer_id=target)
        )
        # A till resending an offline customer that matched the merged one relinks here.
        await self.session.execute(
            update(OfflineCustomer)
            .where(OfflineCustomer.customer_id == source)
            .values(customer_id=target)
        )
        # The audit's findings follow the sales they are about (their subject key keeps
        # the id it was judged under, so a finding is never made twice).
        await self.session.execute(
            update(DiscountAuditFinding)
            .where(DiscountAuditFinding.customer_id == source)
            .values(customer_id=target)
        )
        # Earlier merges into the merged customer now point straight at the survivor.
        await self.session.execute(
            update(Customer).where(Customer.merged_into_id == source).values(merged_into_id=target)
        )

    async def move_audit(self, source: uuid.UUID, target: uuid.UUID) -> None:
        await self.session.execute(
            update(AuditEntry)
            .where(AuditEntry.entity_type == "customer", AuditEntry.entity_id == str(source))
            .values(entity_id=str(target))
        )

    async def mark_merged(self, source: uuid.UUID, target: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(Customer)
            .where(Customer.id == source)
            .values(
                status="MERGED",
                merged_into_id=target,
                version=Customer.version + 1,
                updated_at=now,
            )
        )
