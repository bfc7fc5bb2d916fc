from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain.products import ProductFilter
from app.schema.context import Context
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.schema.product import (
    Product,
    ProductConnection,
    ProductInput,
    ProductPayload,
    ProductUpdateInput,
)

Info = strawberry.Info[Context, None]


async def product(info: Info, id: strawberry.ID) -> Product | None:
    found = await info.context.products.get(parse_id(id))
    return Product.from_record(found) if found else None


async def products(
    info: Info,
    search: Annotated[
        str | None, strawberry.argument(description="The start of a SKU (any case) or a name.")
    ] = None,
    category: str | None = None,
    active: bool | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> ProductConnection:
    where = ProductFilter(search=search, category=category, active=active)
    page = await info.context.products.page(first, after, where)
    return ProductConnection.from_page(page, Product.from_record, after=after)


async def product_create(info: Info, input: ProductInput) -> ProductPayload:
    result = await info.context.products.create(
        input.sku,
        input.name,
        input.price,
        input.category,
        lead_time_days=input.lead_time_days,
        min_stock=input.min_stock,
    )
    return ProductPayload.from_result(result)


async def product_update(
    info: Info, id: strawberry.ID, input: ProductUpdateInput
) -> ProductPayload:
    result = await info.context.products.update(parse_id(id), input.to_change())
    return ProductPayload.from_result(result)


async def product_stock_set(
    info: Info,
    product_id: strawberry.ID,
    on_hand: int,
    store_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Default: the caller's store, else head office."),
    ] = None,
) -> ProductPayload:
    store = parse_id(store_id) if store_id is not None else None
    result = await info.context.products.set_stock(parse_id(product_id), store, on_hand)
    return ProductPayload.from_result(result)


async def product_stock_adjust(
    info: Info,
    product_id: strawberry.ID,
    delta: int,
    reason: str,
    store_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Default: the caller's store, else head office."),
    ] = None,
) -> ProductPayload:
    store = parse_id(store_id) if store_id is not None else None
    result = await info.context.products.adjust_stock(parse_id(product_id), store, delta, reason)
    return ProductPayload.from_result(result)
