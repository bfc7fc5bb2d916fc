"""SMS credits (issue 10 §2): top-ups through GraphQL; reserve at queue, spend or release at
send, by the real worker; the balance never negative under concurrent registrations."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.sms_credits import SmsCreditRepository
from app.domain.permissions import Permission
from app.domain.sms import segment_count
from app.services import sms_credits
from app.services.customers import CustomerUpdate
from app.services.gateways import DeliveryFailed
from app.services.notifications import sms_text
from app.services.unit_of_work import utcnow
from tests.jobs.test_outbox_pipeline import RecordingGateway, run_worker

CREDITS = "{ smsCredits { available reserved warningThreshold lowBalance } }"
ADD = """
mutation($amount: Int!, $reference: String!) {
  smsCreditsAdd(amount: $amount, reference: $reference) {
    smsCredits { available reserved lowBalance }
    errors { field code message }
  }
}"""
ONE = segment_count(sms_text("REGISTRATION", "Bo"))


async def balance(raw_sql: Any) -> tuple[int, int]:
    [(available, reserved)] = await raw_sql("SELECT available, reserved FROM sms_credit_balance")
    return available, reserved


async def ledger(raw_sql: Any) -> list[tuple[str, int]]:
    rows = await raw_sql("SELECT kind, segments FROM sms_credit_ledger ORDER BY id")
    return [(kind, segments) for kind, segments in rows]


async def notifications(raw_sql: Any) -> list[tuple[str, str, str | None, int]]:
    rows = await raw_sql("SELECT channel, status, error, sms_credits FROM notifications")
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_registration_sms_is_one_segment() -> None:
    assert ONE == 1


async def test_credits_are_topped_up_audited_and_shown(gql, factory, raw_sql) -> None:
    token = await factory.token(Permission.SETTINGS_MANAGE)
    body = await gql(CREDITS, token=token)
    assert body["data"]["smsCredits"] == {
        "available": 0,
        "reserved": 0,
        "warningThreshold": 100,
        "lowBalance": True,
    }

    body = await gql(ADD, {"amount": 250, "reference": " INV-2026-17 "}, token=token)
    assert body["data"]["smsCreditsAdd"] == {
        "smsCredits": {"available": 250, "reserved": 0, "lowBalance": False},
        "errors": [],
    }
    [(kind, segments, reference, actor)] = await raw_sql(
        "SELECT kind, segments, reference, actor_id FROM sms_credit_ledger"
    )
    assert (kind, segments, reference) == ("TOP_UP", 250, "INV-2026-17")
    assert actor is not None
    [(action, after)] = await raw_sql(
        "SELECT action, after FROM audit_entries WHERE entity_type = 'sms_credits'"
    )
    assert action == "top_up"
    assert "250" in str(after)
    assert "INV-2026-17" in str(after)


@pytest.mark.parametrize(
    ("amount", "reference", "field", "code"),
    [
        (0, "INV-1", ["amount"], "INVALID"),
        (-5, "INV-1", ["amount"], "INVALID"),
        (1_000_001, "INV-1", ["amount"], "INVALID"),
        (10, "   ", ["reference"], "REQUIRED"),
        (10, "x" * 201, ["reference"], "INVALID"),
    ],
)
async def test_a_bad_top_up_changes_nothing(
    gql, factory, raw_sql, amount: int, reference: str, field: list[str], code: str
) -> None:
    token = await factory.token(Permission.SETTINGS_MANAGE)
    body = await gql(ADD, {"amount": amount, "reference": reference}, token=token)
    payload = body["data"]["smsCreditsAdd"]
    assert payload["smsCredits"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await balance(raw_sql) == (0, 0)
    assert await ledger(raw_sql) == []
    assert await raw_sql("SELECT id FROM audit_entries WHERE entity_type = 'sms_credits'") == []


async def test_the_balance_has_a_ceiling(gql, factory, raw_sql) -> None:
    token = await factory.token(Permission.SETTINGS_MANAGE)
    async with factory.runtime.db.write() as session:
        # Close to the ceiling without a thousand top-ups.
        repository = SmsCreditRepository(session)
        assert await repository.top_up(
            sms_credits.BALANCE_MAX - 5, sms_credits.BALANCE_MAX, utcnow()
        )
    body = await gql(ADD, {"amount": 6, "reference": "INV-1"}, token=token)
    assert [e["code"] for e in body["data"]["smsCreditsAdd"]["errors"]] == ["INVALID"]
    assert await balance(raw_sql) == (sms_credits.BALANCE_MAX - 5, 0)


async def test_the_warning_threshold_is_a_business_setting(gql, factory) -> None:
    token = await factory.token(Permission.SETTINGS_MANAGE)
    update = (
        "mutation($t: Int!) { businessSettingsUpdate(input: {smsCreditWarningThreshold: $t}) "
        "{ businessSettings { smsCreditWarningThreshold } errors { field code } } }"
    )
    body = await gql(update, {"t": 5}, token=token)
    assert body["data"]["businessSettingsUpdate"] == {
        "businessSettings": {"smsCreditWarningThreshold": 5},
        "errors": [],
    }
    await factory.sms_credits(5)
    body = await gql(CREDITS, token=token)
    assert body["data"]["smsCredits"]["lowBalance"] is False
    body = await gql(update, {"t": -1}, token=token)
    assert body["data"]["businessSettingsUpdate"]["errors"] == [
        {"field": ["input", "smsCreditWarningThreshold"], "code": "INVALID"}
    ]


async def test_an_sms_reserves_at_queue_and_spends_when_sent(factory, runtime, raw_sql) -> None:
    await factory.sms_credits(10)
    await factory.customer(name="Bo", phone="+12125550101")
    assert await balance(raw_sql) == (10 - ONE, ONE)
    assert await notifications(raw_sql) == [("SMS", "QUEUED", None, ONE)]

    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert [m.channel for m in gateway.sent] == ["SMS"]
    assert await balance(raw_sql) == (10 - ONE, 0)
    assert await notifications(raw_sql) == [("SMS", "SENT", None, 0)]
    assert await ledger(raw_sql) == [("TOP_UP", 10), ("RESERVE", ONE), ("SPEND", ONE)]


async def test_a_failed_sms_gives_its_credits_back(factory, runtime, raw_sql) -> None:
    await factory.sms_credits(10)
    await factory.customer(name="Bo", phone="+12125550101")
    refused = DeliveryFailed("number refused", permanent=True)
    await run_worker(runtime, RecordingGateway(refused))

    assert await notifications(raw_sql) == [("SMS", "FAILED", "number refused", 0)]
    assert await balance(raw_sql) == (10, 0)
    assert await ledger(raw_sql) == [("TOP_UP", 10), ("RESERVE", ONE), ("RELEASE", ONE)]


async def test_without_credits_the_sms_is_skipped_and_the_customer_created(
    gql, factory, runtime, raw_sql
) -> None:
    token = await factory.token(Permission.CUSTOMER_ADD)
    body = await gql(
        'mutation { customerCreate(input: {name: "Bo", phone: "2125550101"}) '
        "{ customer { name } errors { code } } }",
        token=token,
    )
    assert body["data"]["customerCreate"] == {"customer": {"name": "Bo"}, "errors": []}
    assert await notifications(raw_sql) == [("SMS", "SKIPPED", "NO_SMS_CREDITS", 0)]
    assert await raw_sql("SELECT id FROM outbox") == []
    assert await balance(raw_sql) == (0, 0)
    assert await ledger(raw_sql) == []


async def test_email_costs_no_credits(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ada", phone="+12125550102", email="ada@example.com")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    assert [m.channel for m in gateway.sent] == ["EMAIL"]
    assert await notifications(raw_sql) == [("EMAIL", "SENT", None, 0)]
    assert await balance(raw_sql) == (0, 0)
    assert await ledger(raw_sql) == []


async def test_a_longer_text_at_send_reserves_the_difference(factory, runtime, raw_sql) -> None:
    await factory.sms_credits(10)
    customer = await factory.customer(name="Bo", phone="+12125550101")
    # Renamed before the send: a Cyrillic name makes the text UCS-2, several segments.
    name = "Борис Пастернак"
    result = await factory.customers().update(
        customer.id, CustomerUpdate(expected_version=customer.version, name=name)
    )
    assert result.ok, result.errors
    needed = segment_count(sms_text("REGISTRATION", name))
    assert needed > ONE

    await run_worker(runtime, RecordingGateway())

    assert await notifications(raw_sql) == [("SMS", "SENT", None, 0)]
    assert await balance(raw_sql) == (10 - needed, 0)
    assert await ledger(raw_sql) == [
        ("TOP_UP", 10),
        ("RESERVE", ONE),
        ("RESERVE", needed - ONE),
        ("SPEND", needed),
    ]


async def test_too_few_credits_for_the_text_at_send_skips_and_releases(
    factory, runtime, raw_sql
) -> None:
    await factory.sms_credits(ONE)
    customer = await factory.customer(name="Bo", phone="+12125550101")
    assert await balance(raw_sql) == (0, ONE)
    result = await factory.customers().update(
        customer.id, CustomerUpdate(expected_version=customer.version, name="Борис Пастернак")
    )
    assert result.ok, result.errors
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert gateway.sent == []
    assert await notifications(raw_sql) == [("SMS", "SKIPPED", "NO_SMS_CREDITS", 0)]
    assert await balance(raw_sql) == (ONE, 0)
    assert await ledger(raw_sql) == [("TOP_UP", ONE), ("RESERVE", ONE), ("RELEASE", ONE)]


async def test_twenty_concurrent_registrations_against_five_credits(
    factory, runtime, raw_sql
) -> None:
    await factory.sms_credits(5 * ONE)
    phones = [f"+1212555{n:04d}" for n in range(20)]
    created = await asyncio.gather(*(factory.customer(name="Bo", phone=phone) for phone in phones))
    assert len(created) == 20
    statuses = sorted(status for _, status, _, _ in await notifications(raw_sql))
    assert statuses == ["QUEUED"] * 5 + ["SKIPPED"] * 15
    assert await balance(raw_sql) == (0, 5 * ONE)


async def test_twenty_concurrent_reservations_against_five(factory, runtime, raw_sql) -> None:
    """The conditional UPDATE alone, each reservation in its own transaction."""
    await factory.customer(name="Bo")  # no credits yet: a SKIPPED notification to name
    [(notification_id,)] = await raw_sql("SELECT id FROM notifications")
    await factory.sms_credits(5)

    async def reserve_one() -> bool:
        async with runtime.db.write() as session:
            return await sms_credits.reserve(
                SmsCreditRepository(session),
                BusinessSettingsRepository(session),
                uuid.UUID(str(notification_id)),
                1,
                utcnow(),
            )

    results = await asyncio.gather(*(reserve_one() for _ in range(20)))
    assert results.count(True) == 5
    assert await balance(raw_sql) == (0, 5)


async def test_the_balance_cannot_go_negative_even_by_hand(runtime) -> None:
    with pytest.raises(IntegrityError):
        async with runtime.db.write() as session:
            await session.execute(text("UPDATE sms_credit_balance SET available = -1"))
    with pytest.raises(IntegrityError):
        async with runtime.db.write() as session:
            await session.execute(text("UPDATE sms_credit_balance SET reserved = -1"))


async def test_falling_below_the_threshold_logs_once_without_personal_data(
    factory, raw_sql, caplog
) -> None:
    await factory.sms_credits(101)
    with caplog.at_level(logging.WARNING, logger="app.services.sms_credits"):
        await factory.customer(name="Bo Secret", phone="+12125550101")  # 101 -> 100: not below
        await factory.customer(name="Bo Secret", phone="+12125550102")  # 100 -> 99: below
        await factory.customer(name="Bo Secret", phone="+12125550103")  # 99 -> 98: said already
    warnings = [r for r in caplog.records if "threshold" in r.getMessage()]
    assert len(warnings) == 1
    assert (warnings[0].available, warnings[0].threshold) == (99, 100)  # type: ignore[attr-defined]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "Secret" not in logged
    assert "555010" not in logged
