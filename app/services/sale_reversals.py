"""Undoing sales: voids and returns (seeds 002, 003: "simplifying returns and exchanges").

Both start, like every change to a sale, by claiming its row (``claim_sale``), so two
tills cannot void, or return the same units of, one sale at once. Money, points, stock,
credit and the customer's running figures go back by the rule in app/domain/pricing.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.money import ZERO, cents
from app.domain.pricing import refund_share, returned_value
from app.domain.records import Actor
from app.domain.sales import PaymentMethod, SaleRecord, SaleReturnRecord, SaleStatus
from app.domain.webhooks import WebhookEventType, sale_event, sale_returned_event
from app.services.idempotency import Operation, earlier_result, remember, request_hash
from app.services.loyalty import LoyaltyService
from app.services.sales import claim_sale, require_sale, units_by_product
from app.services.sales_aggregates import sale_changed
from app.services.store_scope import require_store
from app.services.unit_of_work import Result, Transactions, UnitOfWork

REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class ReturnLineDraft:
    line_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class SaleReturnCommand:
    lines: tuple[ReturnLineDraft, ...]
    # None: back the way it was paid.
    refund_payment: PaymentMethod | None = None
    reason: str | None = None
    idempotency_key: str | None = None


def _reason(raw: str | None) -> str | None:
    text = " ".join((raw or "").split())
    if len(text) > REASON_MAX:
        raise reject(ErrorCode.INVALID, f"At most {REASON_MAX} characters.", "input", "reason")
    return text or None


class SaleReversalService:
    def __init__(self, tx: Transactions, actor: Actor | None, loyalty: LoyaltyService) -> None:
        self.tx = tx
        self.actor = actor
        self.loyalty = loyalty

    async def void(self, sale_id: uuid.UUID, reason: str | None) -> Result[SaleRecord]:
        """Void an open sale, or undo a completed one: points, stock, credit and stats."""

        async def work(uow: UnitOfWork) -> SaleRecord:
            text = _reason(reason)
            unrecovered = 0
            claimed = await uow.sales.claim(
                sale_id, SaleStatus.OPEN, uow.now
            ) or await uow.sales.claim(sale_id, SaleStatus.COMPLETED, uow.now)
            sale = claimed or await require_sale(uow, sale_id)
            # Voided only where it was sold: the money goes back out of that store's till.
            require_store(uow.actor, sale.store_id, "saleId")
            if claimed is None:
                raise reject(
                    ErrorCode.SALE_NOT_OPEN, f"This sale is already {sale.status.value}.", "saleId"
                )
            if sale.status is SaleStatus.COMPLETED:
                if sale.returned_value > 0:
                    raise reject(
                        ErrorCode.SALE_HAS_RETURNS,
                        "Goods of this sale were returned; return the rest instead of voiding.",
                        "saleId",
                    )
                unrecovered = await self._undo(uow, sale)
                await sale_changed(uow, sale.store_id, sale.completed_at)
            await uow.sales.update(
                sale_id,
                {"status": SaleStatus.VOIDED.value, "voided_at": uow.now, "void_reason": text},
            )
            await uow.audit(
                "sale", sale_id, "void",
                before={"status": sale.status.value, "total": str(sale.total)},
                after={
                    "status": SaleStatus.VOIDED.value,
                    "reason": text,
                    # Earned points already spent: not clawed back below zero, but on record.
                    "pointsUnrecovered": unrecovered,
                },
            )  # fmt: skip
            voided = await require_sale(uow, sale_id)
            uow.emit_webhook(sale_event(WebhookEventType.SALE_VOIDED, voided, uow.now))
            return voided

        return await self.tx.run(self.actor, work)

    async def _undo(self, uow: UnitOfWork, sale: SaleRecord) -> int:
        """Put back a completed sale's points, credit, stats and stock; points not recovered.

        In the order every sale command locks rows (points, stats, stock), so a void
        and another till's sale for the same customer never deadlock.
        """
        lines = await uow.sales.lines(sale.id)
        unrecovered = 0
        if sale.customer_id is not None:
            customer_id = sale.customer_id
            await self.loyalty.restore(uow, customer_id, sale.points_redeemed, sale.id)
            taken = await self.loyalty.reverse(uow, customer_id, sale.points_earned, sale.id)
            unrecovered = sale.points_earned - taken
            if sale.payment is PaymentMethod.CREDIT:
                await uow.sales.release_credit(customer_id, cents(sale.paid))
            await uow.sales.update(sale.id, {"status": SaleStatus.VOIDED.value})
            # The stats row is locked before the remaining sales are read: a sale another
            # till completes meanwhile is then either waited for and seen, or comes after.
            await uow.sales.remove_visit(customer_id, cents(sale.total))
            await uow.sales.set_span(customer_id, await uow.sales.completed_span(customer_id))
            kept = [
                replace(line, quantity=line.quantity - line.returned_quantity) for line in lines
            ]
            await uow.sales.add_units(customer_id, units_by_product(kept, -1))
        await uow.products.adjust_stock(sale.store_id, units_by_product(lines, +1), uow.now)
        return unrecovered

    async def return_goods(
        self, sale_id: uuid.UUID, cmd: SaleReturnCommand
    ) -> Result[SaleReturnRecord]:
        """Take back some of a completed sale's goods: refund their share, fix points and stock."""
        digest = request_hash(
            {
                "saleId": str(sale_id),
                "lines": [(str(d.line_id), d.quantity) for d in cmd.lines],
                "refund": cmd.refund_payment,
                "reason": cmd.reason,
            }
        )

        async def work(uow: UnitOfWork) -> SaleReturnRecord:
            async def replay() -> SaleReturnRecord | None:
                earlier = await earlier_result(
                    uow,
                    Operation.SALE_RETURN,
                    cmd.idempotency_key,
                    digest,
                    "input",
                    "idempotencyKey",
                )
                if earlier is None:
                    return None
                found = await uow.sales.returns_for([sale_id])
                return next(r for r in found[sale_id] if str(r.id) == earlier)

            if (done := await replay()) is not None:
                return done
            text = _reason(cmd.reason)
            sale = await claim_sale(uow, sale_id, SaleStatus.COMPLETED)
            # A retry racing the first call waited on the sale's row until that call
            # committed, so its key is visible now: answer with it here rather than
            # run the return again until the key's unique index refuses it at the end.
            if (done := await replay()) is not None:
                return done
            if not cmd.lines:
                raise reject(ErrorCode.REQUIRED, "Name the lines coming back.", "input", "lines")
            lines = {line.id: line for line in await uow.sales.lines(sale_id)}
            wanted: dict[uuid.UUID, int] = {}
            errors: list[UserError] = []
            for i, draft in enumerate(cmd.lines):
                path = ("input", "lines", str(i))
                line = lines.get(draft.line_id)
                if line is None:
                    errors.append(
                        UserError(
                            ErrorCode.NOT_FOUND, "No such line on this sale.", (*path, "lineId")
                        )
                    )
                    continue
                quantity = wanted.get(line.id, 0) + draft.quantity
                if draft.quantity < 1:
                    errors.append(
                        UserError(
                            ErrorCode.INVALID, "Return at least one unit.", (*path, "quantity")
                        )
                    )
                elif line.returned_quantity + quantity > line.quantity:
                    errors.append(
                        UserError(
                            ErrorCode.RETURN_EXCEEDS_SOLD,
                            f"Only {line.quantity - line.returned_quantity} of {line.sku}"
                            " can come back.",
                            (*path, "quantity"),
                        )
                    )
                wanted[line.id] = quantity
            refund_payment = cmd.refund_payment or sale.payment or PaymentMethod.CASH
            if (refund_payment is PaymentMethod.CREDIT) != (sale.payment is PaymentMethod.CREDIT):
                errors.append(
                    UserError(
                        ErrorCode.INVALID,
                        "A credit sale is refunded to the account; other sales in cash or card.",
                        ("input", "refundPayment"),
                    )
                )
            if errors:
                raise Rejected(*errors)
            return_lines = []
            value = ZERO
            for line_id, quantity in wanted.items():
                line = lines[line_id]
                before = line.returned_value
                after = returned_value(line.total, line.quantity, line.returned_quantity + quantity)
                if not await uow.sales.add_returned(line_id, quantity, after):
                    raise reject(
                        ErrorCode.RETURN_EXCEEDS_SOLD,
                        "Returned meanwhile; reload.",
                        "input",
                        "lines",
                    )
                return_lines.append(
                    {"sale_line_id": line_id, "quantity": quantity, "value": after - before}
                )
                value += after - before
            share = refund_share(
                total=sale.total,
                paid=sale.paid,
                points_redeemed=sale.points_redeemed,
                points_earned=sale.points_earned,
                returned=sale.returned_value + value,
            )
            refund = share.money - sale.refunded
            restored = share.points_restored - sale.points_restored
            reverse_due = share.points_reversed - sale.points_reversed
            back = [replace(lines[i], quantity=q) for i, q in wanted.items()]
            reversed_ = 0
            if sale.customer_id is not None:
                await self.loyalty.restore(uow, sale.customer_id, restored, sale_id)
                reversed_ = await self.loyalty.reverse(uow, sale.customer_id, reverse_due, sale_id)
                await uow.sales.add_spent(sale.customer_id, -cents(value))
                await uow.sales.add_units(sale.customer_id, units_by_product(back, -1))
                if sale.payment is PaymentMethod.CREDIT:
                    await uow.sales.release_credit(sale.customer_id, cents(refund))
            actor = self.actor
            # Goods come back into the store that takes them, which may not be the seller.
            store_id = actor.store_id if actor and actor.store_id else sale.store_id
            await uow.products.adjust_stock(
                store_id,
                units_by_product(back, +1),
                uow.now,
            )
            created = await uow.sales.insert_return(
                return_lines,
                sale_id=sale_id,
                store_id=store_id,
                till_id=actor.till_id if actor else None,
                cashier_id=actor.staff_user_id if actor else None,
                cashier_label=uow.actor_label,
                value=value,
                refund=refund,
                refund_payment=refund_payment.value,
                points_restored=restored,
                points_reversed=reversed_,
                points_unrecovered=reverse_due - reversed_,
                reason=text,
                created_at=uow.now,
            )
            # Returns count on the sale's day (docs/analytics.md), which may be long past.
            await sale_changed(uow, sale.store_id, sale.completed_at)
            await uow.sales.update(
                sale_id,
                {
                    "returned_value": sale.returned_value + value,
                    "refunded": share.money,
                    "points_restored": share.points_restored,
                    "points_reversed": share.points_reversed,
                },
            )
            await uow.audit(
                "sale", sale_id, "return",
                after={"returnId": str(created.id), "value": str(value), "refund": str(refund)},
            )  # fmt: skip
            await remember(uow, Operation.SALE_RETURN, cmd.idempotency_key, digest, str(created.id))
            uow.emit_webhook(sale_returned_event(created, sale.customer_id, uow.now))
            return created

        return await self.tx.run(self.actor, work)
