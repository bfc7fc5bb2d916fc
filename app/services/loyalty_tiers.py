"""Loyalty tiers (issue 13, seed 003's membership plans): their set-up, and who holds which.

The rule is app/domain/tiers.py. A customer's tier is re-evaluated

* at each sale's completion, in its transaction, once the sale counts toward their spend
  and points (``evaluate_at_sale``): a promotion shows on the till's next screen, and its
  discount and multiplier apply from the customer's *next* sale (this one was priced and
  earned with the tier held when it was rung up);
* every night for everyone (``refresh_tiers``, the ``refresh_loyalty_tiers`` job): the
  window moves on, so customers whose spend or points in it fell are demoted, and voids
  and returns, which change nothing at once, take effect there (or at the next sale).

Every change is audited on the customer (``loyalty_tier_change``, before and after).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.repositories.loyalty_tiers import LoyaltyTierRepository, TierChange
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.money import HUNDRED, ONE
from app.domain.records import Actor
from app.domain.tiers import (
    MULTIPLIER_MAX,
    RANK_MAX,
    TIERS_MAX,
    WINDOW_DAYS_MAX,
    LoyaltyTierRecord,
    TierBasis,
    tier_for,
)
from app.domain.values import UNSET, Unset
from app.services.checks import required_text, two_decimals
from app.services.scheduled import ScheduledRun, run_once, slot_of
from app.services.text import name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow

NAME_MAX = 100
THRESHOLD_MAX = Decimal("999999999999.99")
TIER_JOB = "refresh_loyalty_tiers"
DAILY = timedelta(days=1)
AUDIT_ACTION = "loyalty_tier_change"


@dataclass(frozen=True, slots=True)
class TierDraft:
    name: str
    rank: int
    basis: TierBasis
    threshold: Decimal
    window_days: int
    points_multiplier: Decimal = ONE
    discount_percent: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TierChangeDraft:
    name: str | Unset = UNSET
    rank: int | Unset = UNSET
    basis: TierBasis | Unset = UNSET
    threshold: Decimal | Unset = UNSET
    window_days: int | Unset = UNSET
    points_multiplier: Decimal | Unset = UNSET
    discount_percent: Decimal | Unset | None = UNSET


def _name(raw: str) -> str:
    return required_text(raw, max_length=NAME_MAX, what="A tier name", field="name")


def _rank(rank: int) -> int:
    if not 1 <= rank <= RANK_MAX:
        raise reject(ErrorCode.INVALID, f"A rank is 1 to {RANK_MAX}.", "input", "rank")
    return rank


def _window(days: int) -> int:
    if not 1 <= days <= WINDOW_DAYS_MAX:
        raise reject(
            ErrorCode.INVALID, f"A window is 1 to {WINDOW_DAYS_MAX} days.", "input", "windowDays"
        )
    return days


def _threshold(value: Decimal, basis: TierBasis) -> Decimal:
    """Above 0 (a 0 threshold would put every customer, even one who never bought, in the
    tier); money to the cent for SPEND, whole points for POINTS."""
    exact = two_decimals(value, upper=THRESHOLD_MAX, field="threshold") if value > 0 else None
    if exact is None:
        raise reject(ErrorCode.INVALID, "A threshold is above 0.", "input", "threshold")
    if basis is TierBasis.POINTS and exact != exact.to_integral_value():
        raise reject(
            ErrorCode.INVALID, "A points threshold is a whole number.", "input", "threshold"
        )
    return exact


def _multiplier(value: Decimal) -> Decimal:
    """1 (points as usual) to MULTIPLIER_MAX: below 1 a tier would earn *fewer* points than
    no tier, and a 100x multiplier is a typing slip that gives the shop away."""
    exact = two_decimals(value, upper=MULTIPLIER_MAX, field="pointsMultiplier")
    if exact < 1:
        raise reject(
            ErrorCode.INVALID,
            f"A multiplier is 1 to {MULTIPLIER_MAX} with at most two decimals.",
            "input",
            "pointsMultiplier",
        )
    return exact


def _percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else two_decimals(value, upper=HUNDRED, field="discountPercent")


def _checked(check: Callable[[], Any], errors: list[UserError]) -> Any:
    """Run one field's check, collecting its error: every bad field is reported at once."""
    try:
        return check()
    except Rejected as rejected:
        errors.extend(rejected.errors)
        return None


def _snapshot(tier: LoyaltyTierRecord) -> dict[str, Any]:
    return {
        "name": tier.name,
        "rank": tier.rank,
        "basis": tier.basis.value,
        "threshold": str(tier.threshold),
        "windowDays": tier.window_days,
        "pointsMultiplier": str(tier.points_multiplier),
        "discountPercent": str(tier.discount_percent)
        if tier.discount_percent is not None
        else None,
    }


async def cached_tiers(tx: Transactions) -> tuple[LoyaltyTierRecord, ...]:
    """The tiers by rank, from this process's cache while their stamp holds (any write to
    them bumps it after commit), so a sale at the till reads them from memory."""

    async def load() -> tuple[tuple[LoyaltyTierRecord, ...], None]:
        async with tx.db.read() as session:
            return tuple(await LoyaltyTierRepository(session).all()), None

    tiers = await tx.loyalty_tiers.get(None, load)
    return tiers or ()


async def apply_changes(
    uow: UnitOfWork, changes: Sequence[TierChange], names: dict[uuid.UUID, str]
) -> list[TierChange]:
    """Write tier changes and audit each on its customer, before and after by name; a
    change a sale overtook (the customer no longer holds its ``old``) is dropped. The
    changes made."""
    if not changes:
        return []
    written = await uow.tiers.move_if_held(changes, uow.now)
    await uow.audit_many(
        "customer",
        AUDIT_ACTION,
        [
            (
                customer_id,
                {"loyaltyTier": names.get(old) if old else None},
                {"loyaltyTier": names.get(new) if new else None},
            )
            for customer_id, old, new in written
        ],
    )
    return written


async def evaluate_at_sale(
    uow: UnitOfWork,
    customer_id: uuid.UUID,
    held: uuid.UUID | None,
    tiers: Sequence[LoyaltyTierRecord],
) -> LoyaltyTierRecord | None:
    """The customer's tier with the sale being completed in ``uow`` counted (it must be
    written as COMPLETED first); a change is written and audited. ``held``: the tier the
    sale was priced with (the entitlements' read, in this transaction)."""
    if not tiers:
        return None
    measures = await uow.tiers.measures(customer_id, tiers, uow.now)
    reached = tier_for(tiers, measures)
    new = reached.id if reached else None
    if new == held:
        return reached
    if new is None:
        await uow.tiers.unassign(customer_id)
    else:
        await uow.tiers.assign(customer_id, new, uow.now)
    names = {t.id: t.name for t in tiers}
    await uow.audit(
        "customer", customer_id, AUDIT_ACTION,
        before={"loyaltyTier": names.get(held) if held else None},
        after={"loyaltyTier": reached.name if reached else None},
    )  # fmt: skip
    return reached


async def evaluate_after_merge(
    uow: UnitOfWork, source_id: uuid.UUID, target_id: uuid.UUID
) -> str | None:
    """The survivor's tier once the merged customer's sales are theirs (moved in ``uow``):
    the merged record's tier goes, and the survivor's is evaluated with both histories
    counted, now rather than at their next sale. The tier's name after, or None."""
    await uow.tiers.unassign(source_id)
    tiers = await uow.tiers.all()
    held = await uow.tiers.held(target_id)
    reached = await evaluate_at_sale(uow, target_id, held, tiers)
    return reached.name if reached else None


async def refresh_tiers(
    tx: Transactions, scheduled_for: datetime, now: datetime | None = None
) -> ScheduledRun:
    """Re-evaluate every customer at ``now`` (default: the moment it runs), once per night's
    slot: demotions as the window moves past old sales or returns and voids lowered what
    counts, and promotions no sale made (a tier created or lowered today)."""
    moment = now or utcnow()

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        tiers = await uow.tiers.all()
        changes = await apply_changes(
            uow, await uow.tiers.changes(tiers, moment), {t.id: t.name for t in tiers}
        )
        promoted = sum(1 for _, old, new in changes if _rank_of(tiers, new) > _rank_of(tiers, old))
        return {
            "rows": len(changes),
            "promoted": promoted,
            "demoted": len(changes) - promoted,
            "now": moment.isoformat(),
        }

    return await run_once(tx, TIER_JOB, slot_of(scheduled_for, DAILY), work)


def _rank_of(tiers: Sequence[LoyaltyTierRecord], tier_id: uuid.UUID | None) -> int:
    return next((t.rank for t in tiers if t.id == tier_id), 0)


class LoyaltyTierService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    @staticmethod
    async def _require(uow: UnitOfWork, tier_id: uuid.UUID) -> LoyaltyTierRecord:
        tier = await uow.tiers.get(tier_id)
        if tier is None:
            raise reject(ErrorCode.NOT_FOUND, "No such loyalty tier.", "id")
        return tier

    @staticmethod
    async def _unique(
        uow: UnitOfWork, name: str | None, rank: int | None, own_id: uuid.UUID | None = None
    ) -> list[UserError]:
        errors = []
        holder = await uow.tiers.id_by_name_key(name_key(name)) if name is not None else None
        if holder is not None and holder != own_id:
            errors.append(
                UserError(ErrorCode.DUPLICATE, "A tier with this name exists.", ("input", "name"))
            )
        holder = await uow.tiers.id_by_rank(rank) if rank is not None else None
        if holder is not None and holder != own_id:
            errors.append(
                UserError(
                    ErrorCode.DUPLICATE,
                    "Another tier has this rank; each tier ranks differently.",
                    ("input", "rank"),
                )
            )
        return errors

    async def create(self, draft: TierDraft) -> Result[LoyaltyTierRecord]:
        """A new tier; every bad field reported at once, and nothing saved."""

        async def work(uow: UnitOfWork) -> LoyaltyTierRecord:
            errors: list[UserError] = []
            name = _checked(lambda: _name(draft.name), errors)
            rank = _checked(lambda: _rank(draft.rank), errors)
            threshold = _checked(lambda: _threshold(draft.threshold, draft.basis), errors)
            window = _checked(lambda: _window(draft.window_days), errors)
            multiplier = _checked(lambda: _multiplier(draft.points_multiplier), errors)
            percent = _checked(lambda: _percent(draft.discount_percent), errors)
            errors += await self._unique(uow, name, rank)
            if len(await uow.tiers.all()) >= TIERS_MAX:
                errors.append(
                    UserError(ErrorCode.INVALID, f"At most {TIERS_MAX} tiers.", ("input",))
                )
            if errors:
                raise Rejected(*errors)
            tier = await uow.tiers.insert(
                id=uuid.uuid4(),
                name=name,
                name_key=name_key(name),
                rank=rank,
                basis=draft.basis.value,
                threshold=threshold,
                window_days=window,
                points_multiplier=multiplier,
                discount_percent=percent,
                created_at=uow.now,
                updated_at=uow.now,
            )
            await uow.audit("loyalty_tier", tier.id, "create", after=_snapshot(tier))
            return tier

        return await self.tx.run(self.actor, work)

    async def update(
        self, tier_id: uuid.UUID, change: TierChangeDraft
    ) -> Result[LoyaltyTierRecord]:
        """Change any field; fields not given stay. A new discount or multiplier applies to
        the tier's holders at once; a new rule at each one's next sale and that night."""

        async def work(uow: UnitOfWork) -> LoyaltyTierRecord:
            current = await self._require(uow, tier_id)
            errors: list[UserError] = []
            values: dict[str, Any] = {}
            basis = current.basis if isinstance(change.basis, Unset) else change.basis
            if not isinstance(change.name, Unset):
                raw: str = change.name
                name = _checked(lambda: _name(raw), errors)
                if name is not None:
                    values |= {"name": name, "name_key": name_key(name)}
            if not isinstance(change.rank, Unset):
                rank: int = change.rank
                values["rank"] = _checked(lambda: _rank(rank), errors)
            if not isinstance(change.basis, Unset):
                values["basis"] = basis.value
            threshold = (
                current.threshold if isinstance(change.threshold, Unset) else change.threshold
            )
            if not isinstance(change.threshold, Unset) or not isinstance(change.basis, Unset):
                # A basis changed to POINTS must find a whole threshold too.
                values["threshold"] = _checked(lambda: _threshold(threshold, basis), errors)
            if not isinstance(change.window_days, Unset):
                days = change.window_days
                values["window_days"] = _checked(lambda: _window(days), errors)
            if not isinstance(change.points_multiplier, Unset):
                multiplier = change.points_multiplier
                values["points_multiplier"] = _checked(lambda: _multiplier(multiplier), errors)
            if not isinstance(change.discount_percent, Unset):
                percent = change.discount_percent
                values["discount_percent"] = _checked(lambda: _percent(percent), errors)
            errors += await self._unique(uow, values.get("name"), values.get("rank"), tier_id)
            if errors:
                raise Rejected(*errors)
            if values:
                await uow.tiers.update(tier_id, {**values, "updated_at": uow.now})
            updated = await self._require(uow, tier_id)
            await uow.audit_changes(
                "loyalty_tier", tier_id, "update", _snapshot(current), _snapshot(updated)
            )
            return updated

        return await self.tx.run(self.actor, work)

    async def delete(self, tier_id: uuid.UUID) -> Result[uuid.UUID]:
        """Delete a tier; its holders hold none from now (audited on each), and get the
        tier they reach at their next sale or that night."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            tier = await self._require(uow, tier_id)
            holders = await uow.tiers.delete(tier_id)
            await uow.audit("loyalty_tier", tier_id, "delete", before=_snapshot(tier))
            await uow.audit_many(
                "customer",
                AUDIT_ACTION,
                [(c, {"loyaltyTier": tier.name}, {"loyaltyTier": None}) for c in holders],
            )
            return tier_id

        return await self.tx.run(self.actor, work)

    async def all(self) -> list[LoyaltyTierRecord]:
        async with self.tx.db.read() as session:
            return await LoyaltyTierRepository(session).all()
