"""Product types, inputs and payloads (issue 4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.domain import products
from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import Connection
from app.services.products import ProductChange
from app.services.unit_of_work import Result

if TYPE_CHECKING:
    from app.schema.context import Context


@strawberry.type(description="On hand of a product in one store; below zero: recount.")
class StockLevel:
    store_id: strawberry.ID
    on_hand: int
    updated_at: datetime | None

    @classmethod
    def from_record(cls, r: products.StockRecord) -> StockLevel:
        return cls(
            store_id=strawberry.ID(str(r.store_id)), on_hand=r.on_hand, updated_at=r.updated_at
        )


async def _stock(
    root: Product,
    info: strawberry.Info[Context, None],
    store_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Default: the caller's store, else head office."),
    ] = None,
) -> int:
    store = parse_id(store_id) if store_id is not None else None
    return await info.context.loaders.stock.load((uuid.UUID(root.id), store))


async def _stock_levels(root: Product, info: strawberry.Info[Context, None]) -> list[StockLevel]:
    found = await info.context.loaders.stock_levels.load(uuid.UUID(root.id))
    return [StockLevel.from_record(s) for s in found]


@strawberry.type(description="Something a shop sells, found on the till by its SKU.")
class Product:
    id: strawberry.ID
    sku: str = strawberry.field(description="Unique in any case; it never changes.")
    name: str
    category: str | None
    price: Decimal
    active: bool = strawberry.field(description="Only active products can be sold.")
    created_at: datetime
    updated_at: datetime | None
    lead_time_days: int = strawberry.field(
        description="Days from ordering to the shelf; reorder suggestions cover it."
    )
    min_stock: int | None = strawberry.field(
        description="Never plan to go below this on the shelf; a floor under safety stock."
    )

    @classmethod
    def from_record(cls, r: products.ProductRecord) -> Product:
        return cls(
            id=strawberry.ID(str(r.id)),
            sku=r.sku,
            name=r.name,
            category=r.category,
            price=r.price,
            active=r.active,
            created_at=r.created_at,
            updated_at=r.updated_at,
            lead_time_days=r.lead_time_days,
            min_stock=r.min_stock,
        )

    stock: int = strawberry.field(
        resolver=_stock, description="On hand in one store; 0 where it was never counted."
    )
    stock_levels: list[StockLevel] = strawberry.field(
        resolver=_stock_levels, description="On hand in every store that has counted it."
    )


ProductConnection = Connection[Product]


@strawberry.input
class ProductInput:
    sku: str = strawberry.field(description="1-64 letters, digits, '-', '_', '.' or '/'.")
    name: str
    price: Decimal = strawberry.field(description="0 to 99999999.99, two decimals.")
    category: str | None = None
    lead_time_days: int = strawberry.field(default=7, description="0 to 365 days.")
    min_stock: int | None = None


@strawberry.input(
    description="Only the fields given change; null clears the category. "
    "The SKU cannot change: sales and price lists find the product by it."
)
class ProductUpdateInput:
    name: str | None = strawberry.UNSET
    price: Decimal | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET
    lead_time_days: int | None = strawberry.UNSET
    min_stock: int | None = strawberry.field(
        default=strawberry.UNSET, description="null: no floor under safety stock."
    )

    def to_change(self) -> ProductChange:
        def given(value: object) -> object:
            # A null name, price or active is no change: a product always has them.
            return DOMAIN_UNSET if value is strawberry.UNSET or value is None else value

        category = DOMAIN_UNSET if self.category is strawberry.UNSET else self.category
        return ProductChange(
            name=given(self.name),  # type: ignore[arg-type]
            price=given(self.price),  # type: ignore[arg-type]
            category=category,
            active=given(self.active),  # type: ignore[arg-type]
            lead_time_days=given(self.lead_time_days),  # type: ignore[arg-type]
            min_stock=DOMAIN_UNSET if self.min_stock is strawberry.UNSET else self.min_stock,
        )


@strawberry.type
class ProductPayload:
    product: Product | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[products.ProductRecord]) -> ProductPayload:
        product = Product.from_record(result.value) if result.value else None
        return cls(product=product, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> ProductPayload:
        return cls(product=None, errors=user_errors(errors))
