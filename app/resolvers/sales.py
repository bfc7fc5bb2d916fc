from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain.errors import Rejected
from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.errors import ClientError
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.schema.sale import (
    AccountPaymentInput,
    Sale,
    SaleCompleteInput,
    SaleConnection,
    SaleCreateInput,
    SaleFilter,
    SaleLineInput,
    SaleLineUpdateInput,
    SalePayload,
    SaleReturnInput,
    SaleReturnPayload,
)

Info = strawberry.Info[Context, None]
# An argument where the mutation has no input to carry it (DESIGN.md: saleAddLines).
IdempotencyKey = Annotated[
    str | None,
    strawberry.argument(
        description="A retry with the same key gets the sale back and changes nothing more."
    ),
]


async def sale(info: Info, id: strawberry.ID) -> Sale | None:
    found = await info.context.sales.get(parse_id(id))
    return Sale.from_record(found) if found else None


async def sales(
    info: Info,
    filter: SaleFilter | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> SaleConnection:
    where = (filter or SaleFilter()).to_filter()
    try:
        page = await info.context.sales.page(where, first, after)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return SaleConnection.from_page(page, Sale.from_record, after=after)


async def sale_create(info: Info, input: SaleCreateInput) -> SalePayload:
    return SalePayload.from_result(await info.context.sales.create(input.to_command()))


async def sale_add_lines(
    info: Info,
    sale_id: strawberry.ID,
    lines: list[SaleLineInput],
    idempotency_key: IdempotencyKey = None,
) -> SalePayload:
    drafts = [line.to_draft() for line in lines]
    result = await info.context.sales.add_lines(parse_id(sale_id), drafts, idempotency_key)
    return SalePayload.from_result(result)


async def sale_update_line(
    info: Info, sale_id: strawberry.ID, line_id: strawberry.ID, input: SaleLineUpdateInput
) -> SalePayload:
    result = await info.context.sales.update_line(
        parse_id(sale_id), parse_id(line_id), input.to_change(), input.idempotency_key
    )
    return SalePayload.from_result(result)


async def sale_remove_line(
    info: Info,
    sale_id: strawberry.ID,
    line_id: strawberry.ID,
    idempotency_key: IdempotencyKey = None,
) -> SalePayload:
    result = await info.context.sales.remove_line(
        parse_id(sale_id), parse_id(line_id), idempotency_key
    )
    return SalePayload.from_result(result)


async def sale_assign_customer(
    info: Info, sale_id: strawberry.ID, customer_id: strawberry.ID, reactivate: bool = False
) -> SalePayload:
    result = await info.context.sales.assign_customer(
        parse_id(sale_id), parse_id(customer_id), reactivate
    )
    return SalePayload.from_result(result)


async def sale_remove_customer(info: Info, sale_id: strawberry.ID) -> SalePayload:
    return SalePayload.from_result(await info.context.sales.remove_customer(parse_id(sale_id)))


async def sale_complete(
    info: Info, sale_id: strawberry.ID, input: SaleCompleteInput
) -> SalePayload:
    result = await info.context.sales.complete(parse_id(sale_id), input.to_command())
    return SalePayload.from_result(result)


async def sale_void(info: Info, sale_id: strawberry.ID, reason: str | None = None) -> SalePayload:
    return SalePayload.from_result(
        await info.context.sale_reversals.void(parse_id(sale_id), reason)
    )


async def sale_return(
    info: Info, sale_id: strawberry.ID, input: SaleReturnInput
) -> SaleReturnPayload:
    result = await info.context.sale_reversals.return_goods(parse_id(sale_id), input.to_command())
    return SaleReturnPayload.from_result(result)


async def customer_account_payment(
    info: Info, customer_id: strawberry.ID, input: AccountPaymentInput
) -> CustomerPayload:
    result = await info.context.sales.pay_account(
        parse_id(customer_id), input.amount, input.payment, input.idempotency_key
    )
    return CustomerPayload.from_result(result)
