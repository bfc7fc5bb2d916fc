from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.customer import CustomerPayload, DuplicateCandidate
from app.schema.ids import parse_id

Info = strawberry.Info[Context, None]


async def customer_duplicates(info: Info, id: strawberry.ID) -> list[DuplicateCandidate]:
    found = await info.context.merges.duplicates(parse_id(id))
    return [DuplicateCandidate.from_duplicate(d) for d in found]


async def customer_merge(
    info: Info, source_id: strawberry.ID, target_id: strawberry.ID
) -> CustomerPayload:
    result = await info.context.merges.merge(parse_id(source_id), parse_id(target_id))
    return CustomerPayload.from_result(result)
