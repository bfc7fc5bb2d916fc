"""Loyalty cards and the points ledger (seeds 001, 003).

- A card's identity (number, discount) never changes once saved (seed 001: "any details
  of the loyalty information once saved cannot be modified"). A lost card is replaced:
  the old one becomes REPLACED, its number stops working everywhere, and no card is
  ever issued with a number any card had before.
- Card numbers are kept upper-cased: a number scanned from a barcode and one typed in
  lower case at a till are the same card, and the unique index on the stored column
  then both enforces that and serves every lookup.
- Points belong to the customer, not to a card: a replacement moves nothing, so it
  writes no ledger entry (the audit trail records it; each ledger entry names the card
  that was active when it was made).
- The ledger is the record; ``loyalty_points_balances`` is its running sum, written in
  the same transaction as each entry. Debits are conditional UPDATEs
  (``WHERE points >= n``), so two tills redeeming at once can never overdraw it.
- Seed 004 "Enable loyalty function": with loyalty off for the shop
  (``loyaltyEnabled``) or for a customer (``loyaltyOptOut``), decided by
  app/domain/loyalty.py ``loyalty_active``, nothing is earned and redeeming answers
  ``LOYALTY_DISABLED``; balances and cards are kept and shown. Manual adjustments
  (LOYALTY_ADJUST), card issues and replacements, voids, returns and expiry still work:
  staff must be able to correct a balance, and a sale made while loyalty was on is undone
  as it was made.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.db.repositories.loyalty import LoyaltyRepository
from app.domain.errors import ErrorCode, Rejected, reject
from app.domain.loyalty import LoyaltyCardRecord, PointsEntryRecord, PointsKind, loyalty_active
from app.domain.records import Actor, CustomerRecord, Page
from app.domain.values import UNSET, Unset
from app.services.business import cached_business_settings
from app.services.checks import required_text, two_decimals
from app.services.customer_lookup import live_customer
from app.services.idempotency import Operation, replay_or_reserve, request_hash
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow

CARD_MIN = 4
CARD_MAX = 64
CARD_PATTERN = re.compile(rf"[A-Za-z0-9-]{{{CARD_MIN},{CARD_MAX}}}")
REASON_MAX = 500
# Per operation: keeps any sequence of operations far inside the INTEGER column.
POINTS_MAX = 1_000_000
# Below INTEGER's 2,147,483,647 with room for one more credit of POINTS_MAX.
BALANCE_MAX = 1_000_000_000
HUNDRED = Decimal(100)
# Customers per expiry transaction: few statements each, yet short enough that a till
# redeeming points (or, on SQLite, any writer) waits a fraction of a second at most.
EXPIRY_BATCH = 1000


def loyalty_disabled(*field: str) -> Rejected:
    """Points asked for while loyalty is off for the shop or the customer (seed 004)."""
    return reject(
        ErrorCode.LOYALTY_DISABLED,
        "Loyalty is switched off for this business or this customer: no points are "
        "redeemed or earned.",
        *field,
    )


def card_key(term: str) -> str | None:
    """The stored form of a card number, or None when ``term`` cannot be one."""
    clean = term.strip()
    return clean.upper() if CARD_PATTERN.fullmatch(clean) else None


def _card_number(raw: str, field: str) -> str:
    if not raw.strip():
        raise reject(ErrorCode.REQUIRED, "A card number is required.", "input", field)
    key = card_key(raw)
    if key is None:
        raise reject(
            ErrorCode.INVALID,
            f"A card number is {CARD_MIN} to {CARD_MAX} letters, digits or '-'.",
            "input",
            field,
        )
    return key


def _reason(raw: str) -> str:
    return required_text(raw, max_length=REASON_MAX, what="A reason", field="reason")


def _card_snapshot(card: LoyaltyCardRecord) -> dict[str, Any]:
    return {"cardNumber": card.card_number, "discountPercent": str(card.discount_percent)}


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    customers: int
    points: int


class LoyaltyService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    @staticmethod
    async def _require_customer(uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        return await live_customer(uow, customer_id)

    @staticmethod
    async def _unused_number(uow: UnitOfWork, number: str, field: str) -> None:
        if await uow.loyalty.card_number_used(number):
            raise reject(
                ErrorCode.CARD_NUMBER_TAKEN,
                "A card with this number was issued before; numbers are never reused.",
                "input",
                field,
            )

    # -- cards -----------------------------------------------------------------------

    async def issue_card(
        self,
        customer_id: uuid.UUID,
        card_number: str,
        discount_percent: Decimal,
        idempotency_key: str | None = None,
    ) -> Result[CustomerRecord]:
        """A first card; a retried key returns the customer, not LOYALTY_CARD_IMMUTABLE."""
        digest = request_hash(
            {"customerId": str(customer_id), "card": card_number, "percent": discount_percent}
        )

        async def work(uow: UnitOfWork) -> CustomerRecord:
            if await replay_or_reserve(
                uow, Operation.LOYALTY_CARD_ISSUE, idempotency_key, digest, str(customer_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await self._require_customer(uow, customer_id)
            customer = await self._require_customer(uow, customer_id)
            number = _card_number(card_number, "cardNumber")
            percent = two_decimals(discount_percent, upper=HUNDRED, field="discountPercent")
            if await uow.loyalty.active_card(customer_id) is not None:
                raise reject(
                    ErrorCode.LOYALTY_CARD_IMMUTABLE,
                    "This customer has a loyalty card, and a saved card cannot be changed; "
                    "replace it if it was lost.",
                    "customerId",
                )
            await self._unused_number(uow, number, "cardNumber")
            card = await uow.loyalty.insert_card(
                customer_id=customer_id,
                card_number=number,
                discount_percent=percent,
                issued_at=uow.now,
                issued_by=uow.actor_label,
            )
            await uow.audit(
                "customer", customer_id, "loyalty_card_issue", after=_card_snapshot(card)
            )
            return customer

        return await self.tx.run(self.actor, work)

    async def replace_card(
        self, customer_id: uuid.UUID, new_card_number: str, reason: str
    ) -> Result[CustomerRecord]:
        """A lost card: the old number stops working, the new card keeps its discount."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await self._require_customer(uow, customer_id)
            number = _card_number(new_card_number, "newCardNumber")
            why = _reason(reason)
            old = await uow.loyalty.active_card(customer_id)
            if old is None:
                raise reject(
                    ErrorCode.NOT_FOUND,
                    "This customer has no loyalty card to replace.",
                    "customerId",
                )
            await self._unused_number(uow, number, "newCardNumber")
            if not await uow.loyalty.retire_card(old.id, uow.now):
                raise reject(
                    ErrorCode.VERSION_CONFLICT,
                    "The card was replaced meanwhile; reload the customer.",
                    "customerId",
                )
            new = await uow.loyalty.insert_card(
                customer_id=customer_id,
                card_number=number,
                discount_percent=old.discount_percent,
                issued_at=uow.now,
                issued_by=uow.actor_label,
            )
            await uow.loyalty.link_replacement(old.id, new.id)
            await uow.audit(
                "customer", customer_id, "loyalty_card_replace",
                before=_card_snapshot(old), after={**_card_snapshot(new), "reason": why},
            )  # fmt: skip
            return customer

        return await self.tx.run(self.actor, work)

    # -- points inside a caller's unit of work (sales) ---------------------------------

    @staticmethod
    async def _entry(
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        kind: PointsKind,
        signed_points: int,
        reason: str | None,
        sale_id: uuid.UUID | None,
        card_id: uuid.UUID | Unset | None = UNSET,
    ) -> None:
        """The ledger line of a balance change, naming the card in use at the time (read
        here unless the caller already holds it: a sale read it with the offers)."""
        if isinstance(card_id, Unset):
            card = await uow.loyalty.active_card(customer_id)
            card_id = card.id if card else None
        await uow.loyalty.insert_entry(
            customer_id=customer_id,
            card_id=card_id,
            kind=kind,
            points=signed_points,
            reason=reason,
            sale_id=sale_id,
            at=uow.now,
            actor_label=uow.actor_label,
        )

    async def _credit(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        kind: PointsKind,
        points: int,
        *,
        reason: str | None = None,
        sale_id: uuid.UUID | None = None,
        card_id: uuid.UUID | Unset | None = UNSET,
    ) -> int:
        balance = await uow.loyalty.add_points(customer_id, points, uow.now)
        if balance > BALANCE_MAX:
            # Rolls the credit back: the column (and GraphQL's Int) must never overflow.
            raise reject(
                ErrorCode.INVALID,
                f"A balance can hold at most {BALANCE_MAX:,} points.",
                "input",
                "points",
            )
        await self._entry(uow, customer_id, kind, points, reason, sale_id, card_id)
        return balance

    async def _debit(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        kind: PointsKind,
        points: int,
        *,
        reason: str | None = None,
        sale_id: uuid.UUID | None = None,
        card_id: uuid.UUID | Unset | None = UNSET,
    ) -> int:
        balance = await uow.loyalty.take_points(customer_id, points, uow.now)
        if balance is None:
            raise reject(
                ErrorCode.INSUFFICIENT_POINTS,
                "The customer does not have that many points.",
                "input",
                "points",
            )
        await self._entry(uow, customer_id, kind, -points, reason, sale_id, card_id)
        return balance

    async def earn(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        points: int,
        sale_id: uuid.UUID | None,
        card_id: uuid.UUID | Unset | None = UNSET,
    ) -> int:
        """Credit points for a sale in the caller's transaction; the new balance."""
        if not 0 <= points <= POINTS_MAX:
            raise ValueError(f"points earned cannot be negative nor over {POINTS_MAX}")
        if points == 0:
            return await uow.loyalty.balance(customer_id)
        balance = await self._credit(
            uow, customer_id, PointsKind.EARN, points, sale_id=sale_id, card_id=card_id
        )
        await uow.audit(
            "customer", customer_id, "points_earn",
            after={"points": points, "balance": balance, "saleId": _str(sale_id)},
        )  # fmt: skip
        return balance

    async def redeem(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        points: int,
        sale_id: uuid.UUID | None,
        reason: str | None = None,
        card_id: uuid.UUID | Unset | None = UNSET,
    ) -> int:
        """Spend points in the caller's transaction; ``Rejected`` INSUFFICIENT_POINTS."""
        if points < 0:
            raise ValueError("points redeemed cannot be negative")
        if points == 0:
            return await uow.loyalty.balance(customer_id)
        balance = await self._debit(
            uow,
            customer_id,
            PointsKind.REDEEM,
            points,
            reason=reason,
            sale_id=sale_id,
            card_id=card_id,
        )
        await uow.audit(
            "customer", customer_id, "points_redeem",
            after={"points": -points, "balance": balance, "saleId": _str(sale_id)},
        )  # fmt: skip
        return balance

    async def restore(
        self, uow: UnitOfWork, customer_id: uuid.UUID, points: int, sale_id: uuid.UUID
    ) -> None:
        """Give back points a voided or returned sale had redeemed."""
        if points <= 0:
            return
        balance = await self._credit(uow, customer_id, PointsKind.RESTORE, points, sale_id=sale_id)
        await uow.audit(
            "customer", customer_id, "points_restore",
            after={"points": points, "balance": balance, "saleId": _str(sale_id)},
        )  # fmt: skip

    async def reverse(
        self, uow: UnitOfWork, customer_id: uuid.UUID, points: int, sale_id: uuid.UUID
    ) -> int:
        """Take back points a voided or returned sale had earned; how many could be taken.

        Points already spent cannot be taken back without a negative balance, which the
        ledger never allows; the shortfall is the caller's to record.
        """
        take = min(points, await uow.loyalty.lock_balance(customer_id) or 0)
        if take <= 0:
            return 0
        balance = await self._debit(uow, customer_id, PointsKind.REVERSE, take, sale_id=sale_id)
        await uow.audit(
            "customer", customer_id, "points_reverse",
            after={"points": -take, "balance": balance, "saleId": _str(sale_id)},
        )  # fmt: skip
        return take

    # -- points in their own transaction ---------------------------------------------

    async def redeem_points(self, customer_id: uuid.UUID, points: int, reason: str) -> Result[int]:
        """Spend points outside a sale (e.g. a reward handed over); the new balance."""

        async def work(uow: UnitOfWork) -> int:
            customer = await self._require_customer(uow, customer_id)
            if not loyalty_active(await cached_business_settings(self.tx), customer):
                raise loyalty_disabled("input", "points")
            why = _reason(reason)
            if not 0 < points <= POINTS_MAX:
                raise reject(
                    ErrorCode.INVALID, f"Redeem 1 to {POINTS_MAX} points.", "input", "points"
                )
            return await self.redeem(uow, customer_id, points, None, why)

        return await self.tx.run(self.actor, work)

    async def adjust(
        self,
        customer_id: uuid.UUID,
        points: int,
        reason: str,
        idempotency_key: str | None = None,
    ) -> Result[CustomerRecord]:
        """A signed correction with its reason; never below zero. A retried key adjusts once."""
        digest = request_hash({"customerId": str(customer_id), "points": points, "reason": reason})

        async def work(uow: UnitOfWork) -> CustomerRecord:
            if await replay_or_reserve(
                uow, Operation.LOYALTY_POINTS_ADJUST, idempotency_key, digest, str(customer_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await self._require_customer(uow, customer_id)
            customer = await self._require_customer(uow, customer_id)
            if points == 0 or abs(points) > POINTS_MAX:
                raise reject(
                    ErrorCode.INVALID,
                    f"Adjust by 1 to {POINTS_MAX} points, up or down.",
                    "input",
                    "points",
                )
            why = _reason(reason)
            if points > 0:
                balance = await self._credit(
                    uow, customer_id, PointsKind.ADJUST, points, reason=why
                )
            else:
                balance = await self._debit(
                    uow, customer_id, PointsKind.ADJUST, -points, reason=why
                )
            await uow.audit(
                "customer", customer_id, "points_adjust",
                before={"balance": balance - points},
                after={"balance": balance, "points": points, "reason": why},
            )  # fmt: skip
            return customer

        return await self.tx.run(self.actor, work)

    async def expire_points(
        self, now: datetime | None = None, batch_size: int = EXPIRY_BATCH
    ) -> ExpiryReport:
        """Expire points credited more than ``points_validity_days`` ago and not spent since.

        Debits use the oldest credits first (FIFO). An EXPIRE entry is itself a debit,
        so a second run finds nothing left to expire. Customers with points are taken
        ``batch_size`` at a time in id order, each batch one short transaction: it locks
        the batch's balances, then counts what is due under the lock (a redemption that
        committed meanwhile is counted, one that comes later waits for the batch), and
        writes the entries, balances and audit with one statement each.
        """
        moment = now or utcnow()
        async with self.tx.db.read() as session:
            days = await LoyaltyRepository(session).points_validity_days()
        if days is None:
            return ExpiryReport(customers=0, points=0)
        cutoff = moment - timedelta(days=days)
        reason = f"Credited more than {days} days ago"
        customers = points = 0
        after: uuid.UUID | None = None
        while True:

            async def work(
                uow: UnitOfWork, after: uuid.UUID | None = after
            ) -> tuple[uuid.UUID, dict[uuid.UUID, int]] | None:
                return await self._expire_batch(uow, after, batch_size, cutoff, reason)

            batch = await self.tx.run(None, work)
            if batch.value is None:
                return ExpiryReport(customers=customers, points=points)
            after, expired = batch.value
            customers += len(expired)
            points += sum(expired.values())

    @staticmethod
    async def _expire_batch(
        uow: UnitOfWork, after: uuid.UUID | None, size: int, cutoff: datetime, reason: str
    ) -> tuple[uuid.UUID, dict[uuid.UUID, int]] | None:
        """One batch: (its last customer id, points expired per customer), or None when done."""
        upto = await uow.loyalty.next_positive_balances(after, size)
        if upto is None:
            return None
        balances = await uow.loyalty.lock_balances_between(after, upto)
        unspent = await uow.loyalty.unspent_before_between(after, upto, cutoff)
        due = {
            customer_id: min(balance, unspent[customer_id])
            for customer_id, balance in balances.items()
            if customer_id in unspent
        }
        if not due:
            return upto, due
        cards = await uow.loyalty.active_card_ids_between(after, upto)
        await uow.loyalty.insert_entries(
            [
                {
                    "customer_id": customer_id,
                    "card_id": cards.get(customer_id),
                    "kind": PointsKind.EXPIRE.value,
                    "points": -points,
                    "reason": reason,
                    "sale_id": None,
                    "at": uow.now,
                    "actor_label": uow.actor_label,
                }
                for customer_id, points in due.items()
            ]
        )
        changed = await uow.loyalty.take_points_many(due, uow.now)
        if changed != len(due):
            # Unreachable while the balances are locked; if it ever is, the batch's
            # entries would no longer sum to its balances, so none of it may commit.
            raise RuntimeError(f"points expiry: {changed} of {len(due)} balances debited")
        await uow.audit_many(
            "customer",
            "points_expire",
            [
                (
                    customer_id,
                    {"balance": balances[customer_id]},
                    {"balance": balances[customer_id] - points, "points": -points},
                )
                for customer_id, points in due.items()
            ],
        )
        return upto, due

    # -- reads -------------------------------------------------------------------------

    async def ledger_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[PointsEntryRecord]]:
        async with self.tx.db.read() as session:
            return await LoyaltyRepository(session).ledger_pages(customer_ids, first, after)


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None
