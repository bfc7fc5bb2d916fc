from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.marketing import (
    MarketingMessageInput,
    MarketingMessagePayload,
    MarketingUnsubscribePayload,
)

Info = strawberry.Info[Context, None]


async def marketing_message_send(
    info: Info, input: MarketingMessageInput
) -> MarketingMessagePayload:
    result = await info.context.marketing.send(input.to_command())
    return MarketingMessagePayload.from_result(result)


async def marketing_unsubscribe(info: Info, token: str) -> MarketingUnsubscribePayload:
    result = await info.context.unsubscribe.unsubscribe(token)
    return MarketingUnsubscribePayload.from_result(result)
