from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.sms_credits import SmsCredits, SmsCreditsPayload

Info = strawberry.Info[Context, None]


async def sms_credits(info: Info) -> SmsCredits:
    return SmsCredits.from_record(await info.context.sms_credits.get())


async def sms_credits_add(info: Info, amount: int, reference: str) -> SmsCreditsPayload:
    result = await info.context.sms_credits.add(amount, reference)
    return SmsCreditsPayload.from_result(result)
