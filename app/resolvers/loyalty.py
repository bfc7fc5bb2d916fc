from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.ids import parse_id
from app.schema.loyalty import LoyaltyCardInput, LoyaltyCardReplaceInput, LoyaltyPointsAdjustInput

Info = strawberry.Info[Context, None]


async def loyalty_card_issue(
    info: Info, customer_id: strawberry.ID, input: LoyaltyCardInput
) -> CustomerPayload:
    result = await info.context.loyalty.issue_card(
        parse_id(customer_id), input.card_number, input.discount_percent, input.idempotency_key
    )
    return CustomerPayload.from_result(result)


async def loyalty_card_replace(
    info: Info, customer_id: strawberry.ID, input: LoyaltyCardReplaceInput
) -> CustomerPayload:
    result = await info.context.loyalty.replace_card(
        parse_id(customer_id), input.new_card_number, input.reason
    )
    return CustomerPayload.from_result(result)


async def loyalty_points_adjust(
    info: Info, customer_id: strawberry.ID, input: LoyaltyPointsAdjustInput
) -> CustomerPayload:
    result = await info.context.loyalty.adjust(
        parse_id(customer_id), input.points, input.reason, input.idempotency_key
    )
    return CustomerPayload.from_result(result)
