"""Sales at the till (seeds 000, 002, 003): open, edit, price, complete; and the reads.

Every command on an existing sale starts with ``SaleRepository.claim``: a conditional
``UPDATE`` on the sale's row that only matches in the expected status. It is the first
statement, so two tills acting on one sale take turns, and the loser sees the winner's
result (``SALE_NOT_OPEN``, or a replay of the same idempotency key) instead of paying
twice. Pricing is app/domain/pricing.py; this module decides when to price and what
the money does to points, stock, credit and the customer's running stats. Voids and
returns are app/services/sale_reversals.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.db.repositories.sales import SaleRepository
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.loyalty import loyalty_active
from app.domain.money import ONE, ZERO, cents, from_cents, to_cents
from app.domain.permissions import Permission
from app.domain.pricing import (
    DiscountOffer,
    DiscountSource,
    LineInput,
    PricedSale,
    points_earned,
    price_sale,
    redemption_value,
)
from app.domain.products import ProductRecord, sku_key
from app.domain.records import (
    Actor,
    BusinessSettingsRecord,
    CustomerRecord,
    CustomerStatus,
    Page,
    TokenKind,
)
from app.domain.sales import (
    PaymentMethod,
    SaleDiscountRecord,
    SaleFilter,
    SaleLineRecord,
    SaleRecord,
    SaleReturnLineRecord,
    SaleReturnRecord,
    SalesStatsRecord,
    SaleStatus,
    TopProductRecord,
)
from app.domain.values import UNSET, Unset
from app.domain.webhooks import WebhookEventType, sale_event
from app.services.business import cached_business_settings
from app.services.checks import two_decimals, utc_moment
from app.services.customer_lookup import live_customer
from app.services.idempotency import (
    Operation,
    earlier_result,
    remember,
    replay_or_reserve,
    request_hash,
)
from app.services.loyalty import POINTS_MAX, LoyaltyService, loyalty_disabled
from app.services.loyalty_tiers import cached_tiers, evaluate_at_sale
from app.services.segments import classify_at_sale
from app.services.store_scope import require_store, scoped_store
from app.services.unit_of_work import Result, Transactions, UnitOfWork

QUANTITY_MAX = 9999
PRICE_MAX = Decimal("99999999.99")
SALE_MAX = Decimal("999999999999.99")
LINES_MAX = 500
TOP_PRODUCTS = 5


@dataclass(frozen=True, slots=True)
class LineDraft:
    sku: str
    quantity: int
    # None: the product's price; given: a price the cashier set (e.g. a damaged item).
    unit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SaleCreate:
    lines: tuple[LineDraft, ...] = ()
    store_id: uuid.UUID | None = None
    till_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    reactivate: bool = False
    exchange_for_sale_id: uuid.UUID | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class LineChange:
    quantity: int | Unset = UNSET
    # None: back to the product's price.
    unit_price: Decimal | Unset | None = UNSET


@dataclass(frozen=True, slots=True)
class SaleCompletion:
    payment: PaymentMethod
    redeem_points: int = 0
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Entitlements:
    """What a customer brings to a sale: the offers it is priced with, their working card,
    which the sale's points ledger lines name, and their loyalty tier (its discount is
    among the offers; its multiplier multiplies the points the sale earns)."""

    offers: list[DiscountOffer] = field(default_factory=list)
    card_id: uuid.UUID | None = None
    # Whether loyalty works for them now (app/domain/loyalty.py loyalty_active, seed 004):
    # without it their card takes nothing off and the sale earns and redeems no points.
    loyalty: bool = False
    tier_id: uuid.UUID | None = None
    # 1 without a tier, or with loyalty off (the tier is kept, its benefits are not given).
    points_multiplier: Decimal = ONE


@dataclass(frozen=True, slots=True)
class SalesSummary:
    """A customer's purchase summary (seeds 003, 004)."""

    visits: int
    total_spent: Decimal
    average_basket: Decimal | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    credit_owed: Decimal
    top_products: list[TopProductRecord] = field(default_factory=list)


def sales_summary(
    stats: SalesStatsRecord | None, top: list[TopProductRecord] | None = None
) -> SalesSummary:
    """The summary figures of a customer's running stats (None: never bought)."""
    top = top or []
    if stats is None:
        return SalesSummary(0, ZERO, None, None, None, ZERO, top)
    average = to_cents(stats.spent / stats.visits) if stats.visits > 0 else None
    return SalesSummary(
        visits=stats.visits,
        total_spent=stats.spent,
        average_basket=average,
        first_purchase_at=stats.first_purchase_at,
        last_purchase_at=stats.last_purchase_at,
        credit_owed=stats.credit_owed,
        top_products=top,
    )


def _price(value: Decimal, *path: str) -> Decimal:
    try:
        return two_decimals(value, upper=PRICE_MAX, field="unitPrice")
    except Rejected:
        raise reject(
            ErrorCode.INVALID, f"A price is 0 to {PRICE_MAX} with at most two decimals.", *path
        ) from None


# The line columns of a price the cashier set (SaleLine): all None at the list price.
NO_OVERRIDE: dict[str, Any] = {
    "list_price": None,
    "price_override_by": None,
    "price_override_staff_id": None,
    "price_override_till_id": None,
}


def _quantity_error(quantity: int, *path: str) -> UserError | None:
    if 1 <= quantity <= QUANTITY_MAX:
        return None
    return UserError(ErrorCode.INVALID, f"A quantity is 1 to {QUANTITY_MAX}.", path)


async def require_sale(
    uow: UnitOfWork, sale_id: uuid.UUID, field: tuple[str, ...] = ("saleId",)
) -> SaleRecord:
    sale = await uow.sales.get(sale_id)
    if sale is None:
        raise reject(ErrorCode.NOT_FOUND, "No such sale.", *field)
    return sale


async def claim_sale(
    uow: UnitOfWork,
    sale_id: uuid.UUID,
    status: SaleStatus = SaleStatus.OPEN,
    field: tuple[str, ...] = ("saleId",),
) -> SaleRecord:
    """The sale, if in ``status``, claimed for this transaction (see the module docstring).

    An open sale is being rung up at its store, so only that store may touch it (store
    scope; the claim's version bump rolls back with the refusal). A completed sale may
    come back at any store: the return is refunded at the caller's own.
    """
    claimed = await uow.sales.claim(sale_id, status, uow.now)
    sale = claimed or await require_sale(uow, sale_id, field)
    if status is SaleStatus.OPEN:
        require_store(uow.actor, sale.store_id, *field)
    if claimed is not None:
        return claimed
    if status is SaleStatus.OPEN:
        raise reject(
            ErrorCode.SALE_NOT_OPEN,
            f"This sale is {sale.status.value}; only an open sale can change.",
            *field,
        )
    raise reject(
        ErrorCode.SALE_NOT_COMPLETED,
        f"This sale is {sale.status.value}; only a completed sale can be returned.",
        *field,
    )


class SaleService:
    def __init__(self, tx: Transactions, actor: Actor | None, loyalty: LoyaltyService) -> None:
        self.tx = tx
        self.actor = actor
        self.loyalty = loyalty

    # -- shared steps --------------------------------------------------------------

    def _price_override(
        self, uow: UnitOfWork, list_price: Decimal, price: Decimal | None, *path: str
    ) -> dict[str, Any]:
        """The line columns recording a price the cashier set instead of the list price.

        Below the list price (down to 0) the shop gives money away, so it needs
        SALE_PRICE_OVERRIDE (issue 9: any cashier could sell at "0"); ``Rejected`` FORBIDDEN
        otherwise, naming the line's price. Above it takes nothing from the shop (a
        surcharge, a price rise not yet in the catalogue) and any seller may set it. Either
        way the line keeps the list price and who set it, for the receipt and for audits.
        The system itself (``actor`` None: jobs, imports) may set any price.
        """
        if price is None or price == list_price:
            return NO_OVERRIDE
        actor = self.actor
        if (
            price < list_price
            and actor is not None
            and not actor.can(Permission.SALE_PRICE_OVERRIDE)
        ):
            raise reject(
                ErrorCode.FORBIDDEN,
                f"A price below the list price ({list_price}) needs SALE_PRICE_OVERRIDE.",
                *path,
            )
        return {
            "list_price": list_price,
            "price_override_by": uow.actor_label,
            "price_override_staff_id": actor.staff_user_id if actor else None,
            "price_override_till_id": actor.till_id if actor else None,
        }

    async def _customer(
        self,
        uow: UnitOfWork,
        customer_id: uuid.UUID,
        reactivate: bool,
        sale: uuid.UUID,
        *field: str,
    ) -> CustomerRecord:
        """The customer to put on a sale; an INACTIVE one only with ``reactivate`` (seed 000)."""
        customer = await live_customer(uow, customer_id, *field)
        if customer.status is not CustomerStatus.INACTIVE:
            return customer
        if not reactivate:
            raise reject(
                ErrorCode.CUSTOMER_INACTIVE,
                "This customer is inactive; assign with reactivate: true to make them active.",
                *field,
            )
        if not await uow.customers.update_if_version(
            customer_id,
            customer.version,
            {"status": CustomerStatus.ACTIVE.value, "updated_at": uow.now},
        ):
            raise reject(
                ErrorCode.VERSION_CONFLICT, "The customer changed meanwhile; retry.", *field
            )
        await uow.audit(
            "customer", customer_id, "set_status",
            before={"status": CustomerStatus.INACTIVE.value},
            after={"status": CustomerStatus.ACTIVE.value, "saleId": str(sale)},
        )  # fmt: skip
        return await live_customer(uow, customer_id, *field)

    @staticmethod
    async def _entitlements(
        uow: UnitOfWork, settings: BusinessSettingsRecord, customer_id: uuid.UUID | None
    ) -> Entitlements:
        """What the customer is entitled to at this moment (seed 002), in one statement.

        The one place the loyalty switch acts on pricing (seed 004): with loyalty off for
        the shop or the customer, neither their card nor their loyalty tier is among the
        offers the best-single-offer rule chooses from, and the tier's multiplier is 1;
        codes and groups are offered.
        """
        if customer_id is None:
            return Entitlements()
        offers = []
        card_id = tier_id = None
        multiplier = ONE
        # Read at the time of sale: a code past its expiry never applies, job or no job.
        found = await uow.discounts.offers_for(customer_id, uow.now)
        loyalty = loyalty_active(settings, found)
        for row in found.rows:
            source = DiscountSource(row.source)
            if source is DiscountSource.LOYALTY_CARD:
                if not loyalty:
                    continue
                card_id = row.card_id
            if source is DiscountSource.TIER:
                # The tier is loyalty too: kept and shown with loyalty off, but its discount
                # and multiplier are not given (the same switch as the card's).
                tier_id = row.tier_id
                if not loyalty:
                    continue
                multiplier = row.multiplier or ONE
            # A code applies as assigned; a card, tier or group only with a discount of
            # its own.
            if row.percent is not None and (source is DiscountSource.CODE or row.percent > 0):
                offers.append(DiscountOffer(source, row.code, row.percent))
        return Entitlements(offers, card_id, loyalty, tier_id, multiplier)

    @staticmethod
    async def _reprice(
        uow: UnitOfWork,
        sale_id: uuid.UUID,
        entitled: Entitlements,
        lines: list[SaleLineRecord] | None = None,
    ) -> PricedSale:
        """Price the sale's lines for its customer now, and store the figures that changed.

        The sale's own totals are the caller's to write (with whatever else changes on the
        sale, in one UPDATE): see ``_priced_sale``. Usually nothing else changed since the
        last pricing, so the lines and discounts are compared rather than rewritten.
        """
        if lines is None:
            lines = await uow.sales.lines(sale_id)
        priced = _checked(
            price_sale([LineInput(x.quantity, x.unit_price) for x in lines], entitled.offers)
        )
        await uow.sales.update_lines(
            [
                {"id": line.id, "amount": p.amount, "discount": p.discount, "total": p.total}
                for line, p in zip(lines, priced.lines, strict=True)
                if (line.amount, line.discount, line.total) != (p.amount, p.discount, p.total)
            ]
        )
        rows = _discount_rows(priced)
        stored = (await uow.sales.discounts_for([sale_id])).get(sale_id, [])
        if [_discount_row(d) for d in stored] != rows:
            await uow.sales.replace_discounts(sale_id, rows)
        return priced

    @staticmethod
    async def _priced_sale(
        uow: UnitOfWork,
        settings: BusinessSettingsRecord,
        sale_id: uuid.UUID,
        customer_id: uuid.UUID | None,
    ) -> SaleRecord:
        """Re-price an open sale after an edit; the sale as it now is."""
        entitled = await SaleService._entitlements(uow, settings, customer_id)
        priced = await SaleService._reprice(uow, sale_id, entitled)
        return await uow.sales.update_returning(
            sale_id, {"customer_id": customer_id, **_totals(priced)}
        )

    async def _line_rows(
        self,
        uow: UnitOfWork,
        sale_id: uuid.UUID,
        drafts: Sequence[LineDraft],
        first_position: int,
        prefix: tuple[str, ...],
    ) -> list[dict[str, Any]]:
        """Checked new lines, all errors at once, each naming its line."""
        if len(drafts) > LINES_MAX:
            raise reject(ErrorCode.INVALID, f"A sale has at most {LINES_MAX} lines.", *prefix)
        products = await uow.products.by_sku_keys(list({sku_key(d.sku) for d in drafts}))
        errors: list[UserError] = []
        rows = []
        for i, draft in enumerate(drafts):
            path = (*prefix, str(i))
            product: ProductRecord | None = products.get(sku_key(draft.sku))
            if product is None:
                errors.append(
                    UserError(ErrorCode.NOT_FOUND, "No product with this SKU.", (*path, "sku"))
                )
            elif not product.active:
                errors.append(
                    UserError(
                        ErrorCode.PRODUCT_INACTIVE,
                        "This product is not sold any more.",
                        (*path, "sku"),
                    )
                )
            quantity_error = _quantity_error(draft.quantity, *path, "quantity")
            if quantity_error:
                errors.append(quantity_error)
            price = None
            override = NO_OVERRIDE
            try:
                if draft.unit_price is not None:
                    price = _price(draft.unit_price, *path, "unitPrice")
                if product is not None:
                    override = self._price_override(uow, product.price, price, *path, "unitPrice")
            except Rejected as rejected:
                errors.extend(rejected.errors)
            if errors or product is None:
                continue
            unit_price = product.price if price is None else price
            amount = to_cents(unit_price * draft.quantity)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "sale_id": sale_id,
                    "position": first_position + i,
                    "product_id": product.id,
                    "sku": product.sku,
                    "name": product.name,
                    "quantity": draft.quantity,
                    "unit_price": unit_price,
                    "amount": amount,
                    "discount": ZERO,
                    "total": amount,
                    **override,
                }
            )
        if errors:
            raise Rejected(*errors)
        return rows

    async def _store_and_till(
        self, uow: UnitOfWork, cmd: SaleCreate
    ) -> tuple[uuid.UUID, uuid.UUID | None]:
        actor = self.actor
        # A till's device token names its till; a staff session may name one.
        till_id = actor.till_id if actor and actor.till_id else cmd.till_id
        store_id = cmd.store_id
        if store_id is not None:
            # Another store named by a bound caller is refused before anything else is asked.
            require_store(actor, store_id, "input", "storeId")
        if actor and actor.kind is TokenKind.DEVICE and actor.till_id and actor.store_id:
            # The till's own token: its grant (cached, and dropped on every process when
            # the till is revoked) already names the till's store.
            return actor.store_id, till_id
        if till_id is not None:
            till = await uow.stores.get_till(till_id)
            if till is None:
                raise reject(ErrorCode.NOT_FOUND, "No such till.", "input", "tillId")
            if store_id is not None and till.store_id != store_id:
                raise reject(
                    ErrorCode.INVALID, "This till belongs to another store.", "input", "storeId"
                )
            require_store(actor, till.store_id, "input", "tillId")
            return till.store_id, till_id
        store_id = scoped_store(actor, store_id, "input", "storeId")
        if store_id is None:
            store_id = actor.store_id if actor and actor.store_id else None
        if store_id is None:
            store_id = (await uow.stores.head_office()).id
        elif await uow.stores.get(store_id) is None:
            raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "storeId")
        return store_id, till_id

    # -- commands on open sales ----------------------------------------------------

    async def create(self, cmd: SaleCreate) -> Result[SaleRecord]:
        """Open a sale with its first lines; a retried key returns the first sale."""
        digest = request_hash({k: v for k, v in asdict(cmd).items() if k != "idempotency_key"})

        async def work(uow: UnitOfWork) -> SaleRecord:
            sale_id = uuid.uuid4()
            if earlier := await replay_or_reserve(
                uow, Operation.SALE_CREATE, cmd.idempotency_key, digest, str(sale_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await require_sale(uow, uuid.UUID(earlier))
            store_id, till_id = await self._store_and_till(uow, cmd)
            if cmd.exchange_for_sale_id is not None:
                original = await uow.sales.get(cmd.exchange_for_sale_id)
                if original is None or original.status is not SaleStatus.COMPLETED:
                    raise reject(
                        ErrorCode.SALE_NOT_COMPLETED,
                        "An exchange replaces goods of a completed sale.",
                        "input",
                        "exchangeForSaleId",
                    )
            customer = None
            if cmd.customer_id is not None:
                customer = await self._customer(
                    uow, cmd.customer_id, cmd.reactivate, sale_id, "input", "customerId"
                )
            rows = await self._line_rows(uow, sale_id, cmd.lines, 1, ("input", "lines"))
            customer_id = customer.id if customer else None
            # Priced before anything is written: a new sale is inserted once, as it is.
            business = await cached_business_settings(self.tx)
            entitled = await self._entitlements(uow, business, customer_id)
            priced = _checked(
                price_sale(
                    [LineInput(r["quantity"], r["unit_price"]) for r in rows], entitled.offers
                ),
                "input",
                "lines",
            )
            for row, line in zip(rows, priced.lines, strict=True):
                row.update(amount=line.amount, discount=line.discount, total=line.total)
            actor = self.actor
            sale = await uow.sales.insert(
                id=sale_id,
                store_id=store_id,
                till_id=till_id,
                cashier_id=actor.staff_user_id if actor else None,
                cashier_label=uow.actor_label,
                status=SaleStatus.OPEN.value,
                customer_id=customer_id,
                exchange_for_sale_id=cmd.exchange_for_sale_id,
                created_at=uow.now,
                updated_at=uow.now,
                **_totals(priced),
            )
            await uow.sales.insert_lines(rows)
            await uow.sales.insert_discounts(sale_id, _discount_rows(priced))
            return sale

        return await self.tx.run(self.actor, work)

    async def add_lines(
        self,
        sale_id: uuid.UUID,
        drafts: Sequence[LineDraft],
        idempotency_key: str | None = None,
    ) -> Result[SaleRecord]:
        """Add lines to an open sale; a retried key returns the sale without adding again."""
        digest = request_hash({"saleId": str(sale_id), "lines": [asdict(d) for d in drafts]})

        async def work(uow: UnitOfWork) -> SaleRecord:
            if await replay_or_reserve(
                uow, Operation.SALE_ADD_LINES, idempotency_key, digest, str(sale_id),
                "idempotencyKey",
            ):  # fmt: skip
                return await require_sale(uow, sale_id)
            sale = await claim_sale(uow, sale_id)
            existing = await uow.sales.lines(sale_id)
            if len(existing) + len(drafts) > LINES_MAX:
                raise reject(ErrorCode.INVALID, f"A sale has at most {LINES_MAX} lines.", "lines")
            last = max((line.position for line in existing), default=0)
            await uow.sales.insert_lines(
                await self._line_rows(uow, sale_id, drafts, last + 1, ("lines",))
            )
            return await self._repriced(uow, sale_id, sale.customer_id)

        return await self.tx.run(self.actor, work)

    @staticmethod
    def _line_of(lines: list[SaleLineRecord], line_id: uuid.UUID) -> SaleLineRecord:
        for line in lines:
            if line.id == line_id:
                return line
        raise reject(ErrorCode.NOT_FOUND, "No such line on this sale.", "lineId")

    async def update_line(
        self,
        sale_id: uuid.UUID,
        line_id: uuid.UUID,
        change: LineChange,
        idempotency_key: str | None = None,
    ) -> Result[SaleRecord]:
        """Change a line's quantity or price; a retried key changes nothing more."""
        digest = request_hash(
            {
                "saleId": str(sale_id),
                "lineId": str(line_id),
                **{k: v for k, v in asdict(change).items() if not isinstance(v, Unset)},
            }
        )

        async def work(uow: UnitOfWork) -> SaleRecord:
            if await replay_or_reserve(
                uow, Operation.SALE_UPDATE_LINE, idempotency_key, digest, str(sale_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await require_sale(uow, sale_id)
            sale = await claim_sale(uow, sale_id)
            line = self._line_of(await uow.sales.lines(sale_id), line_id)
            values: dict[str, Any] = {}
            if not isinstance(change.quantity, Unset):
                error = _quantity_error(change.quantity, "input", "quantity")
                if error:
                    raise Rejected(error)
                values["quantity"] = change.quantity
            if not isinstance(change.unit_price, Unset):
                product = await uow.products.get(line.product_id)
                assert product is not None  # lines keep their product (RESTRICT)
                price = None
                if change.unit_price is not None:
                    price = _price(change.unit_price, "input", "unitPrice")
                values["unit_price"] = product.price if price is None else price
                values.update(self._price_override(uow, product.price, price, "input", "unitPrice"))
            if not values:
                return await require_sale(uow, sale_id)
            await uow.sales.update_lines([{"id": line_id, **values}])
            return await self._repriced(uow, sale_id, sale.customer_id)

        return await self.tx.run(self.actor, work)

    async def remove_line(
        self, sale_id: uuid.UUID, line_id: uuid.UUID, idempotency_key: str | None = None
    ) -> Result[SaleRecord]:
        """Remove a line; a retried key answers with the sale, not "no such line"."""
        digest = request_hash({"saleId": str(sale_id), "lineId": str(line_id)})

        async def work(uow: UnitOfWork) -> SaleRecord:
            if await replay_or_reserve(
                uow, Operation.SALE_REMOVE_LINE, idempotency_key, digest, str(sale_id),
                "idempotencyKey",
            ):  # fmt: skip
                return await require_sale(uow, sale_id)
            sale = await claim_sale(uow, sale_id)
            self._line_of(await uow.sales.lines(sale_id), line_id)
            await uow.sales.delete_line(line_id)
            return await self._repriced(uow, sale_id, sale.customer_id)

        return await self.tx.run(self.actor, work)

    async def assign_customer(
        self, sale_id: uuid.UUID, customer_id: uuid.UUID, reactivate: bool = False
    ) -> Result[SaleRecord]:
        """Put a customer on the sale (or change them) and re-price at once (seed 003)."""

        async def work(uow: UnitOfWork) -> SaleRecord:
            await claim_sale(uow, sale_id)
            customer = await self._customer(uow, customer_id, reactivate, sale_id, "customerId")
            return await self._repriced(uow, sale_id, customer.id)

        return await self.tx.run(self.actor, work)

    async def _repriced(
        self, uow: UnitOfWork, sale_id: uuid.UUID, customer_id: uuid.UUID | None
    ) -> SaleRecord:
        """``_priced_sale`` with the business settings this request's stamp vouches for."""
        return await self._priced_sale(
            uow, await cached_business_settings(self.tx), sale_id, customer_id
        )

    @staticmethod
    async def put_new_customer_on(
        uow: UnitOfWork,
        settings: BusinessSettingsRecord,
        sale_id: uuid.UUID,
        customer_id: uuid.UUID,
        *field: str,
    ) -> SaleRecord:
        """Register at checkout (seed 003): a customer just created in ``uow`` goes onto
        the open sale, which is re-priced for them, in the same transaction."""
        await claim_sale(uow, sale_id, field=field)
        return await SaleService._priced_sale(uow, settings, sale_id, customer_id)

    async def remove_customer(self, sale_id: uuid.UUID) -> Result[SaleRecord]:
        """Make it a walk-in sale again; the customer's discounts no longer apply."""

        async def work(uow: UnitOfWork) -> SaleRecord:
            await claim_sale(uow, sale_id)
            return await self._repriced(uow, sale_id, None)

        return await self.tx.run(self.actor, work)

    # -- completing ----------------------------------------------------------------

    async def complete(self, sale_id: uuid.UUID, cmd: SaleCompletion) -> Result[SaleRecord]:
        """Take payment: re-price at this moment, redeem, charge credit, earn, move stock."""
        digest = request_hash(
            {"saleId": str(sale_id), "payment": cmd.payment, "redeem": cmd.redeem_points}
        )

        async def work(uow: UnitOfWork) -> SaleRecord:
            # The key first: a retry racing the first call waits on it until that call
            # commits, then answers with its result (see replay_or_reserve).
            if earlier := await replay_or_reserve(
                uow, Operation.SALE_COMPLETE, cmd.idempotency_key, digest, str(sale_id),
                "input", "idempotencyKey",
            ):  # fmt: skip
                return await require_sale(uow, uuid.UUID(earlier))
            sale = await claim_sale(uow, sale_id)
            lines = await uow.sales.lines(sale_id)
            if not lines:
                raise reject(ErrorCode.SALE_EMPTY, "Add a line before taking payment.", "saleId")
            customer_id = sale.customer_id
            # The sale's customer is live: a merge moves open sales to the survivor, and a
            # customer with sales is never deleted. So only a credit sale reads their row
            # (the limit); a customer deactivated while the basket was scanned still buys.
            credit_customer = (
                await live_customer(uow, customer_id, "saleId")
                if customer_id and cmd.payment is PaymentMethod.CREDIT
                else None
            )
            # The stamp read at this request's start vouches for the cached settings.
            business = await cached_business_settings(self.tx)
            entitled = await self._entitlements(uow, business, customer_id)
            priced = await self._reprice(uow, sale_id, entitled, lines)
            redeem = cmd.redeem_points
            if not 0 <= redeem <= POINTS_MAX:
                raise reject(
                    ErrorCode.INVALID, f"Redeem 0 to {POINTS_MAX} points.", "input", "redeemPoints"
                )
            if redeem and customer_id is None:
                raise reject(
                    ErrorCode.INVALID,
                    "A walk-in sale has no points to redeem.",
                    "input",
                    "redeemPoints",
                )
            if redeem and not entitled.loyalty:
                raise loyalty_disabled("input", "redeemPoints")
            points_amount = redemption_value(redeem, business.point_value)
            if points_amount > priced.total:
                raise reject(
                    ErrorCode.POINTS_EXCEED_TOTAL,
                    f"{redeem} points are worth {points_amount}, more than the total"
                    f" {priced.total}.",
                    "input",
                    "redeemPoints",
                )
            paid = priced.total - points_amount
            if cmd.payment is PaymentMethod.CREDIT and not _credit_allowed(credit_customer):
                raise _credit_not_allowed()
            earned = 0
            segment = None
            # Rows are locked in one order by every sale command (the sale, the customer's
            # points, their stats, their segment, their tier, then stock): two tills
            # serving one customer never deadlock.
            if customer_id is not None:
                if redeem:
                    try:
                        await self.loyalty.redeem(
                            uow, customer_id, redeem, sale_id, card_id=entitled.card_id
                        )
                    except Rejected as rejected:
                        raise reject(
                            rejected.errors[0].code,
                            rejected.errors[0].message,
                            "input",
                            "redeemPoints",
                        ) from None
                # Seed 004: with loyalty off for the shop or the customer nothing is earned;
                # the balance stays as it is.
                if entitled.loyalty:
                    earned = min(
                        points_earned(
                            paid, business.points_per_currency_unit, entitled.points_multiplier
                        ),
                        POINTS_MAX,
                    )
                    await self.loyalty.earn(uow, customer_id, earned, sale_id, entitled.card_id)
                if credit_customer is not None:
                    await self._charge_credit(uow, credit_customer, paid)
                visits = await uow.sales.add_visit(customer_id, cents(priced.total), uow.now)
                await uow.sales.add_units(customer_id, units_by_product(lines, +1))
                # The till's next screen shows the customer's segment with this sale
                # ("first visit" for a first one).
                segment = await classify_at_sale(
                    uow, customer_id, business, visits, cents(priced.total)
                )
            completed = await uow.sales.update_returning(
                sale_id,
                {
                    **_totals(priced),
                    "status": SaleStatus.COMPLETED.value,
                    "payment": cmd.payment.value,
                    "points_redeemed": redeem,
                    "points_amount": points_amount,
                    "paid": paid,
                    "points_earned": earned,
                    "completed_at": uow.now,
                    "customer_segment": segment.value if segment else None,
                },
            )
            if customer_id is not None:
                # Now that the sale counts toward their spend and points (docs/sales.md
                # "Loyalty tiers"); the tier's row is locked after the segment's.
                await evaluate_at_sale(
                    uow, customer_id, entitled.tier_id, await cached_tiers(self.tx)
                )
            # Last: another till's sale of the same goods waits on these rows until commit.
            await uow.products.adjust_stock(sale.store_id, units_by_product(lines, -1), uow.now)
            uow.emit_webhook(sale_event(WebhookEventType.SALE_COMPLETED, completed, uow.now))
            return completed

        return await self.tx.run(self.actor, work)

    @staticmethod
    async def _charge_credit(uow: UnitOfWork, customer: CustomerRecord, amount: Decimal) -> None:
        limit = customer.credit_limit or ZERO
        if not await uow.sales.charge_credit(customer.id, cents(amount), cents(limit)):
            raise reject(
                ErrorCode.CREDIT_LIMIT_EXCEEDED,
                f"This sale would take the customer over their credit limit of {limit}.",
                "input",
                "payment",
            )

    # -- the customer's account ----------------------------------------------------

    async def pay_account(
        self,
        customer_id: uuid.UUID,
        amount: Decimal,
        payment: PaymentMethod,
        idempotency_key: str | None = None,
    ) -> Result[CustomerRecord]:
        """Take a payment towards what a customer owes from credit sales (never more).

        Without it, what is owed only grows until the credit limit stops every credit
        sale. The payment is audited on the customer with who took it and how.
        """
        digest = request_hash(
            {"customerId": str(customer_id), "amount": amount, "payment": payment}
        )

        async def work(uow: UnitOfWork) -> CustomerRecord:
            earlier = await earlier_result(
                uow, Operation.ACCOUNT_PAYMENT, idempotency_key, digest, "input", "idempotencyKey"
            )
            if earlier is not None:
                return await live_customer(uow, uuid.UUID(earlier), "customerId")
            customer = await live_customer(uow, customer_id, "customerId")
            if payment is PaymentMethod.CREDIT:
                raise reject(
                    ErrorCode.INVALID, "An account is paid in cash or by card.", "input", "payment"
                )
            exact = two_decimals(amount, upper=SALE_MAX, field="amount")
            if exact == 0:
                raise reject(ErrorCode.INVALID, "Pay more than 0.", "input", "amount")
            left = await uow.sales.pay_credit(customer_id, cents(exact))
            if left is None:
                raise reject(
                    ErrorCode.INVALID, "That is more than the customer owes.", "input", "amount"
                )
            await uow.audit(
                "customer", customer_id, "account_payment",
                after={"amount": str(exact), "payment": payment.value,
                       "owed": str(from_cents(left))},
            )  # fmt: skip
            await remember(
                uow, Operation.ACCOUNT_PAYMENT, idempotency_key, digest, str(customer_id)
            )
            return customer

        return await self.tx.run(self.actor, work)

    # -- reads ---------------------------------------------------------------------

    async def get(self, sale_id: uuid.UUID) -> SaleRecord | None:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).get(sale_id)

    async def get_many(self, sale_ids: list[uuid.UUID]) -> dict[uuid.UUID, SaleRecord]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).get_many(sale_ids)

    async def page(self, where: SaleFilter, first: int, after: str | None) -> Page[SaleRecord]:
        """Newest first, of the caller's store if bound; ``Rejected`` for another store's, or
        a time without its offset or out of range."""
        where = replace(
            where,
            store_id=scoped_store(self.actor, where.store_id, "storeId"),
            created_from=where.created_from and utc_moment(where.created_from, "createdFrom"),
            created_to=where.created_to and utc_moment(where.created_to, "createdTo"),
        )
        async with self.tx.db.read() as session:
            return await SaleRepository(session).page(where, first, after)

    async def customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> tuple[dict[uuid.UUID, Page[SaleRecord]], dict[uuid.UUID, list[SaleDiscountRecord]]]:
        """The pages, and the applied discount of each sale on them."""
        async with self.tx.db.read() as session:
            return await SaleRepository(session).customer_pages(customer_ids, first, after)

    async def lines_for(self, sale_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[SaleLineRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).lines_for(sale_ids)

    async def discounts_for(
        self, sale_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleDiscountRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).discounts_for(sale_ids)

    async def applied_discounts_for(
        self, sale_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleDiscountRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).discounts_for(sale_ids, applied_only=True)

    async def top_products_for(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[TopProductRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).top_products(customer_ids, TOP_PRODUCTS)

    async def exchanges_for(self, sale_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[SaleRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).exchanges_for(sale_ids)

    async def returns_for(
        self, sale_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleReturnRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).returns_for(sale_ids)

    async def return_lines_for(
        self, return_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[SaleReturnLineRecord]]:
        async with self.tx.db.read() as session:
            return await SaleRepository(session).return_lines_for(return_ids)

    async def summaries_for(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, SalesSummary]:
        """Each customer's purchase summary: two statements for any number of customers."""
        async with self.tx.db.read() as session:
            repository = SaleRepository(session)
            stats = await repository.stats_for(customer_ids)
            top = await repository.top_products(customer_ids, TOP_PRODUCTS)
        return {i: sales_summary(stats.get(i), top.get(i, [])) for i in customer_ids}


def _checked(priced: PricedSale, *field: str) -> PricedSale:
    if priced.subtotal > SALE_MAX:
        # NUMERIC(14, 2): a bigger sale is a typing slip, and must not be a 500.
        raise reject(
            ErrorCode.INVALID, f"A sale comes to at most {SALE_MAX}.", *(field or ("lines",))
        )
    return priced


def _credit_allowed(customer: CustomerRecord | None) -> bool:
    return bool(customer and customer.allow_credit_sale and customer.credit_limit is not None)


def _credit_not_allowed() -> Rejected:
    return reject(
        ErrorCode.CREDIT_NOT_ALLOWED,
        "Credit sales are only for customers allowed them.",
        "input",
        "payment",
    )


def _totals(priced: PricedSale) -> dict[str, Decimal]:
    return {
        "subtotal": priced.subtotal,
        "discount_total": priced.discount_total,
        "total": priced.total,
    }


def _discount_rows(priced: PricedSale) -> list[dict[str, Any]]:
    """Every offer considered, the applied one with what it took off (seed 002: why)."""
    return [
        {
            "source": offer.source.value,
            "code": offer.code,
            "percent": offer.percent,
            "amount": priced.discount_total if offer == priced.applied else ZERO,
            "applied": offer == priced.applied,
        }
        for offer in priced.offers
    ]


def _discount_row(stored: SaleDiscountRecord) -> dict[str, Any]:
    """A stored discount in ``_discount_rows``' shape, to compare with a new pricing."""
    return {
        "source": stored.source.value,
        "code": stored.code,
        "percent": stored.percent,
        "amount": stored.amount,
        "applied": stored.applied,
    }


def units_by_product(lines: Sequence[SaleLineRecord], sign: int) -> dict[uuid.UUID, int]:
    """Units per product, signed: a sale takes stock out (-1), a void puts it back (+1)."""
    units: dict[uuid.UUID, int] = {}
    for line in lines:
        units[line.product_id] = units.get(line.product_id, 0) + sign * line.quantity
    return units
