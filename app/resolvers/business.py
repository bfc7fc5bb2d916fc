from __future__ import annotations

import strawberry

from app.schema.business import BusinessSettings, BusinessSettingsInput, BusinessSettingsPayload
from app.schema.context import Context

Info = strawberry.Info[Context, None]


async def business_settings(info: Info) -> BusinessSettings:
    return BusinessSettings.from_record(await info.context.business.get())


async def business_settings_update(
    info: Info, input: BusinessSettingsInput
) -> BusinessSettingsPayload:
    result = await info.context.business.update(input.to_change())
    return BusinessSettingsPayload.from_result(result)
