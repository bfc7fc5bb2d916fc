from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.ids import parse_id
from app.schema.privacy import CustomerDataExportPayload

Info = strawberry.Info[Context, None]


async def customer_data_export(info: Info, id: strawberry.ID) -> CustomerDataExportPayload:
    result = await info.context.privacy.export(parse_id(id))
    return CustomerDataExportPayload.from_result(result)


async def customer_erase(info: Info, id: strawberry.ID, reason: str) -> CustomerPayload:
    result = await info.context.privacy.erase(parse_id(id), reason)
    return CustomerPayload.from_result(result)
