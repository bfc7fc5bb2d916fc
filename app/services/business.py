"""Business settings (seed 000): till search order, phone region, points, notifications,
and the loyalty switch (seed 004)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers

from app.db.repositories.business import BusinessSettingsRepository
from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor, BusinessSettingsRecord, NotificationScenario, SearchFirst
from app.domain.segments import SegmentRules
from app.domain.values import UNSET, Unset
from app.services.checks import two_decimals
from app.services.unit_of_work import Result, Transactions, UnitOfWork

POINTS_MAX = Decimal(1000)


POINTS_VALIDITY_MAX_DAYS = 3650
SMS_CREDIT_WARNING_MAX = 1_000_000
SEGMENT_DAYS_MAX = 3650


def _segment_values(change: SettingsChange, current: SegmentRules) -> dict[str, int]:
    """The segment thresholds given, checked together with those kept (issue 11 §3)."""
    given = {
        "segment_window_days": (change.segment_window_days, current.window_days),
        "segment_at_risk_days": (change.segment_at_risk_days, current.at_risk_days),
        "segment_lapsed_days": (change.segment_lapsed_days, current.lapsed_days),
        "segment_loyal_quintile": (change.segment_loyal_quintile, current.loyal_quintile),
    }
    values = {k: v for k, (v, _) in given.items() if not isinstance(v, Unset)}
    if not values:
        return {}
    merged = {k: values.get(k, kept) for k, (_, kept) in given.items()}
    for name in ("segment_window_days", "segment_at_risk_days", "segment_lapsed_days"):
        if not 1 <= merged[name] <= SEGMENT_DAYS_MAX:
            raise reject(
                ErrorCode.INVALID, f"Give 1 to {SEGMENT_DAYS_MAX} days.", "input", _camel(name)
            )
    if merged["segment_lapsed_days"] <= merged["segment_at_risk_days"]:
        raise reject(
            ErrorCode.INVALID,
            "A customer is at risk before they lapse: segmentLapsedDays must exceed "
            "segmentAtRiskDays.",
            "input",
            "segmentLapsedDays",
        )
    if not 1 <= merged["segment_loyal_quintile"] <= 5:
        raise reject(ErrorCode.INVALID, "A quintile is 1 to 5.", "input", "segmentLoyalQuintile")
    return values


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class SettingsChange:
    customer_search_first: SearchFirst | Unset = UNSET
    default_phone_region: str | Unset = UNSET
    points_per_currency_unit: Decimal | Unset = UNSET
    point_value: Decimal | Unset = UNSET
    # Sets both channels at once; email_scenarios / sms_scenarios set one each.
    notification_scenarios: frozenset[NotificationScenario] | Unset = UNSET
    email_scenarios: frozenset[NotificationScenario] | Unset = UNSET
    sms_scenarios: frozenset[NotificationScenario] | Unset = UNSET
    points_validity_days: int | Unset | None = UNSET
    sms_credit_warning_threshold: int | Unset = UNSET
    forecast_service_level: float | Unset = UNSET
    segment_window_days: int | Unset = UNSET
    segment_at_risk_days: int | Unset = UNSET
    segment_lapsed_days: int | Unset = UNSET
    segment_loyal_quintile: int | Unset = UNSET
    loyalty_enabled: bool | Unset = UNSET


def _snapshot(record: BusinessSettingsRecord) -> dict[str, Any]:
    return {
        "customerSearchFirst": record.customer_search_first.value,
        "defaultPhoneRegion": record.default_phone_region,
        "pointsPerCurrencyUnit": str(record.points_per_currency_unit),
        "pointValue": str(record.point_value),
        "emailScenarios": sorted(s.value for s in record.email_scenarios),
        "smsScenarios": sorted(s.value for s in record.sms_scenarios),
        "pointsValidityDays": record.points_validity_days,
        "smsCreditWarningThreshold": record.sms_credit_warning_threshold,
        "forecastServiceLevel": record.forecast_service_level,
        "segmentWindowDays": record.segment_rules.window_days,
        "segmentAtRiskDays": record.segment_rules.at_risk_days,
        "segmentLapsedDays": record.segment_rules.lapsed_days,
        "segmentLoyalQuintile": record.segment_rules.loyal_quintile,
        "loyaltyEnabled": record.loyalty_enabled,
    }


def _scenario_values(change: SettingsChange) -> dict[str, list[str]]:
    both = change.notification_scenarios
    email, sms = change.email_scenarios, change.sms_scenarios
    if not isinstance(both, Unset):
        if not (isinstance(email, Unset) and isinstance(sms, Unset)):
            raise reject(
                ErrorCode.INVALID,
                "Give notificationScenarios (both channels) or emailScenarios/smsScenarios.",
                "input",
                "notificationScenarios",
            )
        email = sms = both
    values: dict[str, list[str]] = {}
    if not isinstance(email, Unset):
        values["email_scenarios"] = sorted(s.value for s in email)
    if not isinstance(sms, Unset):
        values["sms_scenarios"] = sorted(s.value for s in sms)
    return values


async def cached_business_settings(tx: Transactions) -> BusinessSettingsRecord:
    """The settings from this process's cache while their stamp holds (``update`` bumps it
    after commit, through ``BusinessSettingsRepository.changed``), else from the database.

    For reads outside a transaction (a till's phone search reads the phone region);
    a unit of work reads them in its own transaction.
    """

    async def load() -> tuple[BusinessSettingsRecord, None]:
        async with tx.db.read() as session:
            return await BusinessSettingsRepository(session).get(), None

    settings = await tx.business_settings.get(None, load)
    assert settings is not None  # load never misses: the migration makes the row
    return settings


class BusinessSettingsService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def get(self) -> BusinessSettingsRecord:
        return await cached_business_settings(self.tx)

    async def update(self, change: SettingsChange) -> Result[BusinessSettingsRecord]:
        """Change the given settings; every change is audited."""

        async def work(uow: UnitOfWork) -> BusinessSettingsRecord:
            current = await uow.business.get()
            values: dict[str, Any] = {}
            if not isinstance(change.customer_search_first, Unset):
                values["customer_search_first"] = change.customer_search_first.value
            if not isinstance(change.default_phone_region, Unset):
                region = change.default_phone_region.strip().upper()
                if region not in phonenumbers.SUPPORTED_REGIONS:
                    raise reject(
                        ErrorCode.INVALID,
                        "Not a region code phone numbers know (e.g. US, GB, IN).",
                        "input",
                        "defaultPhoneRegion",
                    )
                values["default_phone_region"] = region
            if not isinstance(change.points_per_currency_unit, Unset):
                values["points_per_currency_unit"] = two_decimals(
                    change.points_per_currency_unit, upper=POINTS_MAX, field="pointsPerCurrencyUnit"
                )
            if not isinstance(change.point_value, Unset):
                values["point_value"] = two_decimals(
                    change.point_value, upper=POINTS_MAX, field="pointValue"
                )
            values.update(_scenario_values(change))
            if not isinstance(change.points_validity_days, Unset):
                days = change.points_validity_days
                if days is not None and not 1 <= days <= POINTS_VALIDITY_MAX_DAYS:
                    raise reject(
                        ErrorCode.INVALID,
                        f"Points last from 1 to {POINTS_VALIDITY_MAX_DAYS} days (null: forever).",
                        "input",
                        "pointsValidityDays",
                    )
                values["points_validity_days"] = days
            if not isinstance(change.sms_credit_warning_threshold, Unset):
                threshold = change.sms_credit_warning_threshold
                if not 0 <= threshold <= SMS_CREDIT_WARNING_MAX:
                    raise reject(
                        ErrorCode.INVALID,
                        f"The warning threshold is 0 (never warn) to {SMS_CREDIT_WARNING_MAX}.",
                        "input",
                        "smsCreditWarningThreshold",
                    )
                values["sms_credit_warning_threshold"] = threshold
            if not isinstance(change.forecast_service_level, Unset):
                level = change.forecast_service_level
                # Below half the forecast alone would do; at 100% no buffer is ever enough.
                if not 0.5 <= level <= 0.999:
                    raise reject(
                        ErrorCode.INVALID,
                        "The service level is from 0.5 to 0.999 (the share of units wanted "
                        "that should be on the shelf).",
                        "input",
                        "forecastServiceLevel",
                    )
                values["forecast_service_level"] = level
            values.update(_segment_values(change, current.segment_rules))
            if not isinstance(change.loyalty_enabled, Unset):
                # Seed 004 "Enable loyalty function"; the tills see it with the next
                # settings stamp, like every other setting.
                values["loyalty_enabled"] = change.loyalty_enabled
            if values:
                await uow.business.update({**values, "updated_at": uow.now})
            updated = await uow.business.get()
            before, after = _snapshot(current), _snapshot(updated)
            await uow.audit_changes("business_settings", 1, "update", before, after)
            return updated

        return await self.tx.run(self.actor, work)
