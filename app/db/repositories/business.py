from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import BusinessSettings
from app.domain.records import BusinessSettingsRecord, NotificationScenario, SearchFirst
from app.domain.segments import SegmentRules

SETTINGS_ROW = 1


class BusinessSettingsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Set by ``update``: the unit of work bumps the settings stamp after commit.
        self.changed = False

    async def get(self) -> BusinessSettingsRecord:
        row = await self.session.get(BusinessSettings, SETTINGS_ROW, populate_existing=True)
        if row is None:  # the migration creates it
            raise LookupError("no business settings: run `poscrm migrate`")
        known = {s.value for s in NotificationScenario}
        return BusinessSettingsRecord(
            customer_search_first=SearchFirst(row.customer_search_first),
            default_phone_region=row.default_phone_region,
            points_per_currency_unit=row.points_per_currency_unit,
            point_value=row.point_value,
            email_scenarios=frozenset(
                NotificationScenario(s) for s in row.email_scenarios if s in known
            ),
            sms_scenarios=frozenset(
                NotificationScenario(s) for s in row.sms_scenarios if s in known
            ),
            updated_at=row.updated_at,
            points_validity_days=row.points_validity_days,
            sms_credit_warning_threshold=row.sms_credit_warning_threshold,
            forecast_service_level=row.forecast_service_level,
            segment_rules=SegmentRules(
                window_days=row.segment_window_days,
                at_risk_days=row.segment_at_risk_days,
                lapsed_days=row.segment_lapsed_days,
                loyal_quintile=row.segment_loyal_quintile,
            ),
            loyalty_enabled=row.loyalty_enabled,
        )

    async def update(self, values: dict[str, Any]) -> None:
        self.changed = True
        await self.session.execute(
            update(BusinessSettings).where(BusinessSettings.id == SETTINGS_ROW).values(**values)
        )
