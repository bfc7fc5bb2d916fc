"""Business settings: type, input, payload."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.services.business import SettingsChange
from app.services.unit_of_work import Result

strawberry.enum(
    records.SearchFirst,
    description=(
        "What the till's customer search lists first when a term could mean either: PHONE, "
        "phone and email matches; NAME, name, customer code and card matches."
    ),
)
strawberry.enum(records.NotificationScenario)


@strawberry.type(description="The shop's configuration (seed 000).")
class BusinessSettings:
    customer_search_first: records.SearchFirst
    default_phone_region: str = strawberry.field(
        description="How numbers typed without a country code are read (ISO 3166 code)."
    )
    points_per_currency_unit: Decimal
    point_value: Decimal = strawberry.field(description="What one point is worth when redeemed.")
    notification_scenarios: list[records.NotificationScenario] = strawberry.field(
        description="The scenarios on in at least one channel."
    )
    email_scenarios: list[records.NotificationScenario] = strawberry.field(
        description="The scenarios sent by email."
    )
    sms_scenarios: list[records.NotificationScenario] = strawberry.field(
        description="The scenarios sent by SMS (each SMS spends credits)."
    )
    points_validity_days: int | None = strawberry.field(
        description="Earned points expire after this many days; null: never."
    )
    sms_credit_warning_threshold: int = strawberry.field(
        description="smsCredits.lowBalance when available credits fall below this; 0: never."
    )
    forecast_service_level: float = strawberry.field(
        description="Reorder suggestions plan for this share of units wanted to be on the "
        "shelf (fill rate), over all products and stores together: a slow mover's own share "
        "is lower, a fast mover's higher. Safety stock grows with it. Default 0.95."
    )
    segment_window_days: int = strawberry.field(
        description="Customer segments count purchase days and spend over this many days."
    )
    segment_at_risk_days: int = strawberry.field(
        description="A repeat customer with no purchase for this many days is AT_RISK."
    )
    segment_lapsed_days: int = strawberry.field(
        description="Any customer with no purchase for this many days is LAPSED."
    )
    segment_loyal_quintile: int = strawberry.field(
        description="LOYAL: frequency and spend quintiles (1-5, in the chain) at least this."
    )
    loyalty_enabled: bool = strawberry.field(
        description='Seed 004 "Enable loyalty function": off, no sale earns or redeems '
        "points and no loyalty card discount applies (group discounts and codes still do); "
        "balances and cards are kept and shown, and LOYALTY_ADJUST can still correct them."
    )
    updated_at: datetime

    @classmethod
    def from_record(cls, r: records.BusinessSettingsRecord) -> BusinessSettings:
        return cls(
            customer_search_first=r.customer_search_first,
            default_phone_region=r.default_phone_region,
            points_per_currency_unit=r.points_per_currency_unit,
            point_value=r.point_value,
            notification_scenarios=sorted(r.notification_scenarios),
            email_scenarios=sorted(r.email_scenarios),
            sms_scenarios=sorted(r.sms_scenarios),
            points_validity_days=r.points_validity_days,
            sms_credit_warning_threshold=r.sms_credit_warning_threshold,
            forecast_service_level=r.forecast_service_level,
            segment_window_days=r.segment_rules.window_days,
            segment_at_risk_days=r.segment_rules.at_risk_days,
            segment_lapsed_days=r.segment_rules.lapsed_days,
            segment_loyal_quintile=r.segment_rules.loyal_quintile,
            loyalty_enabled=r.loyalty_enabled,
            updated_at=r.updated_at,
        )


@strawberry.input(description="Only the fields given change.")
class BusinessSettingsInput:
    customer_search_first: records.SearchFirst | None = strawberry.UNSET
    default_phone_region: str | None = strawberry.UNSET
    points_per_currency_unit: Decimal | None = strawberry.UNSET
    point_value: Decimal | None = strawberry.UNSET
    notification_scenarios: list[records.NotificationScenario] | None = strawberry.field(
        default=strawberry.UNSET, description="Sets the scenarios of both channels."
    )
    email_scenarios: list[records.NotificationScenario] | None = strawberry.UNSET
    sms_scenarios: list[records.NotificationScenario] | None = strawberry.UNSET
    points_validity_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="null makes points last forever."
    )
    sms_credit_warning_threshold: int | None = strawberry.UNSET
    forecast_service_level: float | None = strawberry.field(
        default=strawberry.UNSET, description="0.5 to 0.999."
    )
    segment_window_days: int | None = strawberry.UNSET
    segment_at_risk_days: int | None = strawberry.UNSET
    segment_lapsed_days: int | None = strawberry.UNSET
    segment_loyal_quintile: int | None = strawberry.UNSET
    loyalty_enabled: bool | None = strawberry.UNSET

    def to_change(self) -> SettingsChange:
        # Every setting always has a value: null, like absent, leaves it as it is.
        def given(value: object) -> object:
            return DOMAIN_UNSET if value is None or value is strawberry.UNSET else value

        def scenarios(value: object) -> object:
            chosen = given(value)
            return frozenset(chosen) if isinstance(chosen, list) else chosen

        return SettingsChange(
            customer_search_first=given(self.customer_search_first),  # type: ignore[arg-type]
            default_phone_region=given(self.default_phone_region),  # type: ignore[arg-type]
            points_per_currency_unit=given(self.points_per_currency_unit),  # type: ignore[arg-type]
            point_value=given(self.point_value),  # type: ignore[arg-type]
            sms_credit_warning_threshold=given(self.sms_credit_warning_threshold),  # type: ignore[arg-type]
            forecast_service_level=given(self.forecast_service_level),  # type: ignore[arg-type]
            segment_window_days=given(self.segment_window_days),  # type: ignore[arg-type]
            segment_at_risk_days=given(self.segment_at_risk_days),  # type: ignore[arg-type]
            segment_lapsed_days=given(self.segment_lapsed_days),  # type: ignore[arg-type]
            segment_loyal_quintile=given(self.segment_loyal_quintile),  # type: ignore[arg-type]
            loyalty_enabled=given(self.loyalty_enabled),  # type: ignore[arg-type]
            # Unlike the others, null is a value here: points that never expire.
            points_validity_days=(
                DOMAIN_UNSET
                if self.points_validity_days is strawberry.UNSET
                else self.points_validity_days
            ),
            notification_scenarios=scenarios(self.notification_scenarios),  # type: ignore[arg-type]
            email_scenarios=scenarios(self.email_scenarios),  # type: ignore[arg-type]
            sms_scenarios=scenarios(self.sms_scenarios),  # type: ignore[arg-type]
        )


@strawberry.type
class BusinessSettingsPayload:
    business_settings: BusinessSettings | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[records.BusinessSettingsRecord]) -> BusinessSettingsPayload:
        found = BusinessSettings.from_record(result.value) if result.value else None
        return cls(business_settings=found, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> BusinessSettingsPayload:
        return cls(business_settings=None, errors=user_errors(errors))
