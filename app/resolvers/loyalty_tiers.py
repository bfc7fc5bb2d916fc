from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.schema.loyalty_tier import (
    LoyaltyTier,
    LoyaltyTierDeletePayload,
    LoyaltyTierInput,
    LoyaltyTierPayload,
    LoyaltyTierUpdateInput,
)

Info = strawberry.Info[Context, None]


async def loyalty_tiers(info: Info) -> list[LoyaltyTier]:
    return [LoyaltyTier.from_record(t) for t in await info.context.loyalty_tiers.all()]


async def loyalty_tier_create(info: Info, input: LoyaltyTierInput) -> LoyaltyTierPayload:
    result = await info.context.loyalty_tiers.create(input.to_draft())
    return LoyaltyTierPayload.from_result(result)


async def loyalty_tier_update(
    info: Info, id: strawberry.ID, input: LoyaltyTierUpdateInput
) -> LoyaltyTierPayload:
    result = await info.context.loyalty_tiers.update(parse_id(id), input.to_change())
    return LoyaltyTierPayload.from_result(result)


async def loyalty_tier_delete(info: Info, id: strawberry.ID) -> LoyaltyTierDeletePayload:
    result = await info.context.loyalty_tiers.delete(parse_id(id))
    deleted = strawberry.ID(str(result.value)) if result.value else None
    return LoyaltyTierDeletePayload(deleted_id=deleted, errors=user_errors(result.errors))
