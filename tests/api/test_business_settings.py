"""Business settings (seed 000): read by every till, changed by managers, audited, and used."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission as P

READ = """{ businessSettings { customerSearchFirst defaultPhoneRegion pointsPerCurrencyUnit
  pointValue notificationScenarios emailScenarios smsScenarios } }"""
ALL_SCENARIOS = ["MARKETING", "PASSWORD_RESET", "REGISTRATION", "UNSUBSCRIBE"]
UPDATE = """mutation($input: BusinessSettingsInput!) { businessSettingsUpdate(input: $input) {
  businessSettings { customerSearchFirst defaultPhoneRegion pointsPerCurrencyUnit pointValue
  notificationScenarios emailScenarios smsScenarios } errors { field code } } }"""


async def update(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    return (await gql(UPDATE, {"input": fields}, token=token))["data"]["businessSettingsUpdate"]  # type: ignore[no-any-return]


async def test_defaults_are_readable_by_any_staff_or_till(gql, factory) -> None:
    token = await factory.token()  # no permissions at all: a till still needs these
    assert (await gql(READ, token=token))["data"]["businessSettings"] == {
        "customerSearchFirst": "PHONE",
        "defaultPhoneRegion": "US",
        "pointsPerCurrencyUnit": "1.00",
        "pointValue": "0.01",
        "notificationScenarios": ALL_SCENARIOS,
        "emailScenarios": ALL_SCENARIOS,
        "smsScenarios": ALL_SCENARIOS,
    }


async def test_scenarios_are_switched_per_channel(gql, factory) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    changed = await update(gql, token, smsScenarios=["REGISTRATION"])
    assert changed["errors"] == []
    assert changed["businessSettings"]["emailScenarios"] == ALL_SCENARIOS
    assert changed["businessSettings"]["smsScenarios"] == ["REGISTRATION"]
    assert changed["businessSettings"]["notificationScenarios"] == ALL_SCENARIOS
    both = await update(gql, token, notificationScenarios=["PASSWORD_RESET"])
    assert both["businessSettings"]["emailScenarios"] == ["PASSWORD_RESET"]
    assert both["businessSettings"]["smsScenarios"] == ["PASSWORD_RESET"]


async def test_both_channels_and_one_channel_at_once_is_refused(gql, factory) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    refused = await update(gql, token, notificationScenarios=[], emailScenarios=["MARKETING"])
    assert refused["errors"] == [{"field": ["input", "notificationScenarios"], "code": "INVALID"}]
    assert (await gql(READ, token=token))["data"]["businessSettings"]["emailScenarios"] == (
        ALL_SCENARIOS
    )


async def test_partial_update_is_audited(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    changed = await update(gql, token, customerSearchFirst="NAME", pointValue="0.05")
    assert changed["errors"] == []
    assert changed["businessSettings"]["customerSearchFirst"] == "NAME"
    assert changed["businessSettings"]["pointValue"] == "0.05"
    assert changed["businessSettings"]["pointsPerCurrencyUnit"] == "1.00"
    rows = await raw_sql(
        "SELECT action, before, after FROM audit_entries WHERE entity_type = 'business_settings'"
    )
    assert len(rows) == 1
    assert rows[0][0] == "update"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"defaultPhoneRegion": "XX"}, "defaultPhoneRegion"),
        ({"pointsPerCurrencyUnit": "-1"}, "pointsPerCurrencyUnit"),
        ({"pointsPerCurrencyUnit": "0.001"}, "pointsPerCurrencyUnit"),
        ({"pointValue": "1000.01"}, "pointValue"),
        ({"pointsValidityDays": 0}, "pointsValidityDays"),
        ({"pointsValidityDays": 3651}, "pointsValidityDays"),
    ],
)
async def test_bad_values_are_refused_and_change_nothing(gql, factory, fields, field) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    refused = await update(gql, token, customerSearchFirst="NAME", **fields)
    assert refused["businessSettings"] is None
    assert refused["errors"] == [{"field": ["input", field], "code": "INVALID"}]
    assert (await gql(READ, token=token))["data"]["businessSettings"][
        "customerSearchFirst"
    ] == "PHONE"


async def test_the_phone_region_decides_how_national_numbers_are_read(gql, factory) -> None:
    token = await factory.token(
        P.SETTINGS_MANAGE, P.CUSTOMER_ADD, P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII
    )
    assert (await update(gql, token, defaultPhoneRegion="gb"))["errors"] == []
    made = await gql(
        'mutation { customerCreate(input: {name: "Ann", phone: "07400 123456"}) '
        "{ customer { phone } errors { code } } }",
        token=token,
    )
    assert made["data"]["customerCreate"]["customer"]["phone"] == "+447400123456"
    found = await gql('{ customers(search: "07400 12") { totalCount } }', token=token)
    assert found["data"]["customers"]["totalCount"] == 1


async def test_registration_messages_follow_the_scenario_switch(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE, P.CUSTOMER_ADD)
    assert (await update(gql, token, notificationScenarios=[]))["errors"] == []
    await gql(
        'mutation { customerCreate(input: {name: "Quiet", phone: "2125550150"}) '
        "{ errors { code } } }",
        token=token,
    )
    assert await raw_sql("SELECT count(*) FROM notifications") == [(0,)]
    assert await raw_sql("SELECT count(*) FROM outbox") == [(0,)]


async def test_points_validity_is_set_and_cleared_with_null(gql, factory) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    query = "{ businessSettings { pointsValidityDays } }"
    assert (await gql(query, token=token))["data"]["businessSettings"] == {
        "pointsValidityDays": None
    }
    assert (await update(gql, token, pointsValidityDays=365))["errors"] == []
    # Other changes leave it alone; an explicit null means points last forever.
    await update(gql, token, customerSearchFirst="NAME")
    assert (await gql(query, token=token))["data"]["businessSettings"]["pointsValidityDays"] == 365
    assert (await update(gql, token, pointsValidityDays=None))["errors"] == []
    assert (await gql(query, token=token))["data"]["businessSettings"]["pointsValidityDays"] is None
