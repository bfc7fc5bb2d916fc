from __future__ import annotations

import strawberry

from app.domain.errors import ErrorCode, Rejected, UserError
from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.errors import ClientError
from app.schema.ids import NO_SUCH_ID, parse_id
from app.schema.sync import (
    CustomerChangeFeed,
    OfflineConflict,
    OfflineCustomerInput,
    OfflineSyncPayload,
)
from app.services.unit_of_work import Result

Info = strawberry.Info[Context, None]

FEED_PAGE = 100
OFFLINE_BATCH_MAX = 100


async def customer_changes(
    info: Info,
    store_id: strawberry.ID | None = None,
    after: str | None = None,
    first: int = FEED_PAGE,
) -> CustomerChangeFeed:
    try:
        page = await info.context.store_sync.changes(
            parse_id(store_id) if store_id else None, after, first
        )
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return CustomerChangeFeed.from_page(page)


async def customer_download_to_store(
    info: Info, customer_id: strawberry.ID, store_id: strawberry.ID | None = None
) -> CustomerPayload:
    result = await info.context.store_sync.download(
        parse_id(customer_id), parse_id(store_id) if store_id else None
    )
    return CustomerPayload.from_result(result)


async def customer_sync_offline(
    info: Info, customers: list[OfflineCustomerInput], store_id: strawberry.ID | None = None
) -> OfflineSyncPayload:
    if len(customers) > OFFLINE_BATCH_MAX:
        message = f"Send at most {OFFLINE_BATCH_MAX} customers at a time."
        return OfflineSyncPayload.from_errors(
            [UserError(ErrorCode.INVALID, message, ("customers",))]
        )
    drafts = [(parse_id(c.client_id), c.customer.to_command()) for c in customers]
    malformed = [
        UserError(ErrorCode.INVALID, "A client id is a UUID.", ("customers", str(i), "clientId"))
        for i, (client_id, _) in enumerate(drafts)
        if client_id == NO_SUCH_ID
    ]
    if malformed:
        return OfflineSyncPayload.from_errors(malformed)
    result = await info.context.store_sync.sync_offline(
        parse_id(store_id) if store_id else None, drafts
    )
    return OfflineSyncPayload.from_result(result)


async def offline_customer_conflicts(
    info: Info, first: int = 20, store_id: strawberry.ID | None = None
) -> list[OfflineConflict]:
    try:
        answers = await info.context.offline_conflicts.open(
            first, parse_id(store_id) if store_id else None
        )
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return [OfflineConflict.from_answer(a) for a in answers]


async def offline_customer_resolve(
    info: Info, client_id: strawberry.ID, customer_id: strawberry.ID
) -> OfflineSyncPayload:
    result = await info.context.offline_conflicts.resolve(
        parse_id(client_id), parse_id(customer_id)
    )
    if result.value is None:
        return OfflineSyncPayload.from_errors(result.errors)
    return OfflineSyncPayload.from_result(Result(value=[result.value]))
