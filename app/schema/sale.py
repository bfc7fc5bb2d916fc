"""Sale types, inputs and payloads (seeds 000, 002, 003, 004; DESIGN.md §3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission
from app.domain.pricing import DiscountSource
from app.domain.sales import (
    PaymentMethod,
    SaleDiscountRecord,
    SaleLineRecord,
    SaleRecord,
    SaleReturnLineRecord,
    SaleReturnRecord,
    SaleStatus,
    TopProductRecord,
)
from app.domain.sales import (
    SaleFilter as DomainSaleFilter,
)
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE, Connection
from app.schema.permissions import Requires
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand
from app.services.sales import LineChange, LineDraft, SaleCompletion, SaleCreate, SalesSummary
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context
    from app.schema.customer import Customer

strawberry.enum(SaleStatus)
strawberry.enum(PaymentMethod, description="How the rest after points is paid.")
strawberry.enum(DiscountSource)


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


@strawberry.type(
    description="A price the cashier set instead of the list price; below it needs "
    "SALE_PRICE_OVERRIDE (docs/sales.md)."
)
class PriceOverride:
    list_price: Decimal = strawberry.field(description="The product's price when this was set.")
    by: str = strawberry.field(description="Who set it (staff user or till).")
    staff_user_id: strawberry.ID | None
    till_id: strawberry.ID | None = strawberry.field(description="Set by a till's device token.")

    @classmethod
    def from_record(cls, r: SaleLineRecord) -> PriceOverride | None:
        if r.list_price is None:
            return None
        return cls(
            list_price=r.list_price,
            by=r.price_override_by or "",
            staff_user_id=_id(r.price_override_staff_id),
            till_id=_id(r.price_override_till_id),
        )


@strawberry.type(description="A product on a sale, with its SKU and name as sold.")
class SaleLine:
    id: strawberry.ID
    position: int
    product_id: strawberry.ID
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    amount: Decimal = strawberry.field(description="quantity * unitPrice.")
    discount: Decimal = strawberry.field(description="This line's share of the discount.")
    total: Decimal = strawberry.field(description="amount - discount.")
    returned_quantity: int
    price_override: PriceOverride | None = strawberry.field(
        description="Null: sold at the product's list price."
    )

    @classmethod
    def from_record(cls, r: SaleLineRecord) -> SaleLine:
        return cls(
            id=strawberry.ID(str(r.id)),
            position=r.position,
            product_id=strawberry.ID(str(r.product_id)),
            sku=r.sku,
            name=r.name,
            quantity=r.quantity,
            unit_price=r.unit_price,
            amount=r.amount,
            discount=r.discount,
            total=r.total,
            returned_quantity=r.returned_quantity,
            price_override=PriceOverride.from_record(r),
        )


@strawberry.type(
    description="A discount the customer was entitled to. The best single one applies "
    "(highest percent; on a tie code, then loyalty card, then group); see docs/sales.md."
)
class AppliedDiscount:
    source: DiscountSource
    code: str = strawberry.field(description="The discount code, card number or group name.")
    percent: Decimal
    amount: Decimal = strawberry.field(description="What it took off the sale (0 if not applied).")
    applied: bool

    @classmethod
    def from_record(cls, r: SaleDiscountRecord) -> AppliedDiscount:
        return cls(
            source=r.source, code=r.code, percent=r.percent, amount=r.amount, applied=r.applied
        )


@strawberry.type
class SaleReturnLine:
    sale_line_id: strawberry.ID
    quantity: int
    value: Decimal

    @classmethod
    def from_record(cls, r: SaleReturnLineRecord) -> SaleReturnLine:
        return cls(
            sale_line_id=strawberry.ID(str(r.sale_line_id)), quantity=r.quantity, value=r.value
        )


@strawberry.type(description="Goods brought back from a sale, and what was given back.")
class SaleReturn:
    id: strawberry.ID
    sale_id: strawberry.ID
    store_id: strawberry.ID
    till_id: strawberry.ID | None
    cashier: str
    value: Decimal = strawberry.field(description="What the returned goods were sold for.")
    refund: Decimal = strawberry.field(description="Money given back (the rest: points).")
    refund_payment: PaymentMethod
    points_restored: int = strawberry.field(description="Redeemed points given back.")
    points_reversed: int = strawberry.field(description="Earned points taken back.")
    points_unrecovered: int = strawberry.field(
        description="Earned points already spent, which could not be taken back."
    )
    reason: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, r: SaleReturnRecord) -> SaleReturn:
        return cls(
            id=strawberry.ID(str(r.id)),
            sale_id=strawberry.ID(str(r.sale_id)),
            store_id=strawberry.ID(str(r.store_id)),
            till_id=_id(r.till_id),
            cashier=r.cashier_label,
            value=r.value,
            refund=r.refund,
            refund_payment=r.refund_payment,
            points_restored=r.points_restored,
            points_reversed=r.points_reversed,
            points_unrecovered=r.points_unrecovered,
            reason=r.reason,
            created_at=r.created_at,
        )

    @strawberry.field
    async def lines(self, info: strawberry.Info[Context, None]) -> list[SaleReturnLine]:
        found = await info.context.loaders.return_lines.load(uuid.UUID(self.id))
        return [SaleReturnLine.from_record(r) for r in found]


async def _customer(
    root: Sale, info: strawberry.Info[Context, None]
) -> Annotated[Customer, strawberry.lazy("app.schema.customer")] | None:
    from app.schema.customer import Customer

    if root.customer_id is None:
        return None
    found = await info.context.loaders.customers.load(uuid.UUID(root.customer_id))
    return Customer.from_record(found) if found else None


async def _applied_discounts(
    root: Sale, info: strawberry.Info[Context, None]
) -> list[AppliedDiscount]:
    found = await info.context.loaders.applied_discounts.load(uuid.UUID(root.id))
    return [AppliedDiscount.from_record(r) for r in found]


async def _discount_offers(
    root: Sale, info: strawberry.Info[Context, None]
) -> list[AppliedDiscount]:
    found = await info.context.loaders.sale_discounts.load(uuid.UUID(root.id))
    return [AppliedDiscount.from_record(r) for r in found]


@strawberry.type(description="A sale at a till; a sale without a customer is a walk-in sale.")
class Sale:
    id: strawberry.ID
    status: SaleStatus
    version: int
    store_id: strawberry.ID
    till_id: strawberry.ID | None
    cashier_id: strawberry.ID | None
    cashier: str = strawberry.field(description="Who rang it up (user or till).")
    customer_id: strawberry.ID | None
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal = strawberry.field(description="subtotal - discountTotal; never negative.")
    payment: PaymentMethod | None
    points_redeemed: int
    points_amount: Decimal = strawberry.field(description="What the redeemed points paid.")
    paid: Decimal = strawberry.field(description="total - pointsAmount, by payment.")
    points_earned: int
    returned_value: Decimal
    refunded: Decimal
    exchange_for_sale_id: strawberry.ID | None = strawberry.field(
        description="An exchange: the earlier sale whose goods this one replaces."
    )
    created_at: datetime
    completed_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None

    @classmethod
    def from_record(cls, r: SaleRecord) -> Sale:
        return cls(
            id=strawberry.ID(str(r.id)),
            status=r.status,
            version=r.version,
            store_id=strawberry.ID(str(r.store_id)),
            till_id=_id(r.till_id),
            cashier_id=_id(r.cashier_id),
            cashier=r.cashier_label,
            customer_id=_id(r.customer_id),
            subtotal=r.subtotal,
            discount_total=r.discount_total,
            total=r.total,
            payment=r.payment,
            points_redeemed=r.points_redeemed,
            points_amount=r.points_amount,
            paid=r.paid,
            points_earned=r.points_earned,
            returned_value=r.returned_value,
            refunded=r.refunded,
            exchange_for_sale_id=_id(r.exchange_for_sale_id),
            created_at=r.created_at,
            completed_at=r.completed_at,
            voided_at=r.voided_at,
            void_reason=r.void_reason,
        )

    customer: Annotated[Customer, strawberry.lazy("app.schema.customer")] | None = strawberry.field(
        resolver=_customer,
        description="Null: a walk-in sale.",
        extensions=[Requires(Permission.CUSTOMER_VIEW)],
    )

    @strawberry.field
    async def lines(self, info: strawberry.Info[Context, None]) -> list[SaleLine]:
        found = await info.context.loaders.sale_lines.load(uuid.UUID(self.id))
        return [SaleLine.from_record(r) for r in found]

    applied_discounts: list[AppliedDiscount] = strawberry.field(
        resolver=_applied_discounts, description="The discount that applied, if any (one at most)."
    )
    discount_offers: list[AppliedDiscount] = strawberry.field(
        resolver=_discount_offers, description="Every discount considered, applied or not: why."
    )

    @strawberry.field
    async def returns(self, info: strawberry.Info[Context, None]) -> list[SaleReturn]:
        found = await info.context.loaders.sale_returns.load(uuid.UUID(self.id))
        return [SaleReturn.from_record(r) for r in found]

    @strawberry.field
    async def exchanges(self, info: strawberry.Info[Context, None]) -> list[Sale]:
        """Sales that replaced goods returned from this one (their exchangeForSaleId)."""
        found = await info.context.loaders.exchanges.load(uuid.UUID(self.id))
        return [Sale.from_record(r) for r in found]


SaleConnection = Connection[Sale]


@strawberry.type
class TopProduct:
    product_id: strawberry.ID
    sku: str
    name: str
    quantity: int = strawberry.field(description="Units bought and kept (returns taken off).")

    @classmethod
    def from_record(cls, r: TopProductRecord) -> TopProduct:
        return cls(
            product_id=strawberry.ID(str(r.product_id)), sku=r.sku, name=r.name, quantity=r.quantity
        )


async def _top_products(
    root: SalesHistory, info: strawberry.Info[Context, None]
) -> list[TopProduct]:
    found = await info.context.loaders.top_products.load(root.customer_id)
    return [TopProduct.from_record(r) for r in found]


@strawberry.type(description="A customer's purchases (seeds 003, 004): summary and sales.")
class SalesHistory:
    customer_id: strawberry.Private[uuid.UUID]
    visits: int = strawberry.field(description="Completed sales (voided ones do not count).")
    total_spent: Decimal = strawberry.field(description="Completed sales' totals, less returns.")
    average_basket: Decimal | None = strawberry.field(
        description="totalSpent / visits, to the cent; null before a first visit."
    )
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    credit_owed: Decimal = strawberry.field(description="Owed on account from credit sales.")
    top_products: list[TopProduct] = strawberry.field(
        resolver=_top_products, description="Most bought products, by units kept."
    )

    @classmethod
    def from_summary(cls, customer_id: uuid.UUID, s: SalesSummary) -> SalesHistory:
        return cls(
            customer_id=customer_id,
            visits=s.visits,
            total_spent=s.total_spent,
            average_basket=s.average_basket,
            first_purchase_at=s.first_purchase_at,
            last_purchase_at=s.last_purchase_at,
            credit_owed=s.credit_owed,
        )

    @strawberry.field
    async def sales(
        self,
        info: strawberry.Info[Context, None],
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> SaleConnection:
        """The customer's sales, newest first, any status."""
        page = await info.context.loaders.customer_sales.load((self.customer_id, first, after))
        return SaleConnection.from_page(page, Sale.from_record, after=after)


@strawberry.input
class SaleLineInput:
    sku: str
    quantity: int = 1
    unit_price: Decimal | None = strawberry.field(
        default=None,
        description="Left out: the product's price. Below it needs SALE_PRICE_OVERRIDE.",
    )

    def to_draft(self) -> LineDraft:
        return LineDraft(self.sku, self.quantity, self.unit_price)


@strawberry.input
class SaleCreateInput:
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="Left out: the caller's store (a till's own), else head office."
    )
    till_id: strawberry.ID | None = strawberry.field(
        default=None, description="For staff sessions; a till's device token names its till."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Left out: a walk-in sale."
    )
    reactivate: bool = strawberry.field(
        default=False, description="Make an INACTIVE customer ACTIVE and assign them (seed 000)."
    )
    lines: list[SaleLineInput] = strawberry.field(default_factory=list)
    exchange_for_sale_id: strawberry.ID | None = strawberry.field(
        default=None, description="An exchange: the completed sale whose goods were returned."
    )
    idempotency_key: str | None = None

    def to_command(self) -> SaleCreate:
        def optional(value: strawberry.ID | None) -> uuid.UUID | None:
            return parse_id(value) if value else None

        return SaleCreate(
            lines=tuple(line.to_draft() for line in self.lines),
            store_id=optional(self.store_id),
            till_id=optional(self.till_id),
            customer_id=optional(self.customer_id),
            reactivate=self.reactivate,
            exchange_for_sale_id=optional(self.exchange_for_sale_id),
            idempotency_key=self.idempotency_key,
        )


@strawberry.input(
    description="Only the fields given change; a null unitPrice: the product's. A price "
    "below the product's needs SALE_PRICE_OVERRIDE."
)
class SaleLineUpdateInput:
    quantity: int | None = strawberry.UNSET
    unit_price: Decimal | None = strawberry.UNSET
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key gets the sale back and changes nothing more.",
    )

    def to_change(self) -> LineChange:
        quantity = self.quantity
        return LineChange(
            quantity=DOMAIN_UNSET if quantity is strawberry.UNSET or quantity is None else quantity,
            unit_price=DOMAIN_UNSET if self.unit_price is strawberry.UNSET else self.unit_price,
        )


@strawberry.input
class SaleCompleteInput:
    payment: PaymentMethod
    redeem_points: int = strawberry.field(
        default=0, description="Points to spend on this sale; they pay pointValue each."
    )
    idempotency_key: str | None = None

    def to_command(self) -> SaleCompletion:
        return SaleCompletion(self.payment, self.redeem_points, self.idempotency_key)


@strawberry.input(description="A payment towards what the customer owes from credit sales.")
class AccountPaymentInput:
    amount: Decimal = strawberry.field(description="Above 0, at most what is owed.")
    payment: PaymentMethod = strawberry.field(description="CASH or CARD.")
    idempotency_key: str | None = None


@strawberry.input
class SaleReturnLineInput:
    line_id: strawberry.ID
    quantity: int = 1


@strawberry.input
class SaleReturnInput:
    lines: list[SaleReturnLineInput]
    refund_payment: PaymentMethod | None = strawberry.field(
        default=None, description="Left out: the way the sale was paid."
    )
    reason: str | None = None
    idempotency_key: str | None = None

    def to_command(self) -> SaleReturnCommand:
        return SaleReturnCommand(
            lines=tuple(
                ReturnLineDraft(parse_id(line.line_id), line.quantity) for line in self.lines
            ),
            refund_payment=self.refund_payment,
            reason=self.reason,
            idempotency_key=self.idempotency_key,
        )


@strawberry.input
class SaleFilter:
    store_id: strawberry.ID | None = None
    till_id: strawberry.ID | None = None
    cashier_id: strawberry.ID | None = None
    customer_id: strawberry.ID | None = None
    status: SaleStatus | None = None
    created_from: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_to: datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_filter(self) -> DomainSaleFilter:
        def optional(value: strawberry.ID | None) -> uuid.UUID | None:
            return parse_id(value) if value else None

        return DomainSaleFilter(
            store_id=optional(self.store_id),
            till_id=optional(self.till_id),
            cashier_id=optional(self.cashier_id),
            customer_id=optional(self.customer_id),
            status=self.status,
            created_from=self.created_from,
            created_to=self.created_to,
        )


@strawberry.type
class SalePayload:
    sale: Sale | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[SaleRecord]) -> SalePayload:
        sale = Sale.from_record(result.value) if result.value else None
        return cls(sale=sale, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> SalePayload:
        return cls(sale=None, errors=user_errors(errors))


@strawberry.type
class SaleReturnPayload:
    sale_return: SaleReturn | None
    errors: list[UserError]

    @strawberry.field
    async def sale(self, info: strawberry.Info[Context, None]) -> Sale | None:
        """The sale as it stands after the return."""
        if self.sale_return is None:
            return None
        found = await info.context.loaders.sales.load(uuid.UUID(self.sale_return.sale_id))
        return Sale.from_record(found) if found else None

    @classmethod
    def from_result(cls, result: Result[SaleReturnRecord]) -> SaleReturnPayload:
        found = SaleReturn.from_record(result.value) if result.value else None
        return cls(sale_return=found, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> SaleReturnPayload:
        return cls(sale_return=None, errors=user_errors(errors))
