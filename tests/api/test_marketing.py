"""marketingMessageSend (issue 10 §4): who is sent to, who is skipped, credits, retries."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from app.db.models import CustomerSegmentRow
from app.domain.marketing import sms_marketing_text
from app.domain.permissions import Permission
from app.domain.sms import segment_count
from app.services.customers import CustomerUpdate
from tests.marketing_helpers import SEND, marketing_only, scenarios

P = Permission


@pytest.fixture(autouse=True)
async def _marketing_only(runtime: Any) -> None:
    await marketing_only(runtime)


async def subscriber(factory: Any, channel: str = "EMAIL", **fields: Any) -> Any:
    return await factory.customer(
        email=fields.pop("email", None) or None,
        email_marketing=channel == "EMAIL",
        sms_marketing=channel == "SMS",
        **fields,
    )


async def send(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(SEND, {"input": fields}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["marketingMessageSend"]
    return payload


async def marketing_rows(raw_sql: Any) -> list[tuple[str, str, str]]:
    rows = await raw_sql(
        "SELECT customer_id, channel, status FROM notifications WHERE scenario = 'MARKETING'"
    )
    return [(str(c).replace("-", ""), ch, s) for c, ch, s in rows]


def _hex(customer: Any) -> str:
    return str(customer.id.hex)


async def state(raw_sql: Any) -> dict[str, Any]:
    """Everything a refused send must leave as it was."""
    return {
        table: (await raw_sql(f"SELECT COUNT(*) FROM {table}"))[0][0]  # noqa: S608
        for table in (
            "marketing_campaigns",
            "notifications",
            "outbox",
            "idempotency_keys",
            "sms_credit_ledger",
            "audit_entries",
        )
    } | {"balance": await raw_sql("SELECT available, reserved FROM sms_credit_balance")}


async def test_only_active_subscribers_with_an_address_receive(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    ada = await subscriber(factory, email="ada@example.com")
    await factory.customer(email="bo@example.com")  # never subscribed
    cy = await subscriber(factory, email="cy@example.com")
    await factory.set_status(cy.id, "INACTIVE")
    # Subscribed by SMS only: not targeted by an email send.
    await subscriber(factory, "SMS")

    payload = await send(gql, token, channel="EMAIL", subject="Spring sale", body="All -20%")

    assert payload["errors"] == []
    # Targeted without a group: everyone subscribed by email (Ada, Cy); Cy is inactive.
    assert (payload["recipients"], payload["skipped"]) == (1, 1)
    assert await marketing_rows(raw_sql) == [(_hex(ada), "EMAIL", "QUEUED")]
    [(channel, subject, recipients, skipped, created_by)] = await raw_sql(
        "SELECT channel, subject, recipients, skipped, created_by FROM marketing_campaigns"
    )
    assert (channel, subject, recipients, skipped) == ("EMAIL", "Spring sale", 1, 1)
    assert created_by
    # One outbox row: the fan-out job, never one per recipient.
    assert await raw_sql("SELECT job_name FROM outbox") == [("fan_out_marketing",)]


async def test_a_group_send_reaches_its_subscribed_members_and_counts_the_rest(
    gql, factory, raw_sql
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    ada = await subscriber(factory, "SMS")
    bo = await factory.customer()  # in the group, not subscribed
    cy = await subscriber(factory, "SMS")
    await factory.set_status(cy.id, "INACTIVE")
    await subscriber(factory, "SMS")  # subscribed, not in the group
    group = await factory.group("VIP")
    await factory.add_to_group(group.id, ada.id, bo.id, cy.id)
    await factory.sms_credits(50)

    payload = await send(gql, token, channel="SMS", body="VIP night", groupId=str(group.id))

    assert payload["errors"] == []
    assert (payload["recipients"], payload["skipped"]) == (1, 2)
    assert await marketing_rows(raw_sql) == [(_hex(ada), "SMS", "QUEUED")]


async def test_a_segment_send_reaches_that_segments_subscribers(
    gql, factory, runtime, raw_sql
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    loyal = await subscriber(factory, email="loyal@example.com")
    lapsed = await subscriber(factory, email="lapsed@example.com")
    quiet = await factory.customer(email="quiet@example.com")  # loyal, not subscribed
    await subscriber(factory, email="never@example.com")  # never bought: no segment
    async with runtime.db.write() as session:
        for customer, segment in ((loyal, "LOYAL"), (lapsed, "LAPSED"), (quiet, "LOYAL")):
            session.add(
                CustomerSegmentRow(
                    customer_id=customer.id, segment=segment, updated_at=datetime.now(UTC)
                )
            )

    payload = await send(
        gql, token, channel="EMAIL", subject="Thanks", body="For you", segment="LOYAL"
    )

    assert payload["errors"] == []
    assert (payload["recipients"], payload["skipped"]) == (1, 1)
    assert await marketing_rows(raw_sql) == [(_hex(loyal), "EMAIL", "QUEUED")]
    assert await raw_sql("SELECT segment FROM marketing_campaigns") == [("LOYAL",)]
    group = await factory.group("Both")
    both = await gql(
        SEND,
        {
            "input": {
                "channel": "EMAIL",
                "subject": "x",
                "body": "y",
                "segment": "LOYAL",
                "groupId": str(group.id),
            }
        },
        token=token,
    )
    [error] = both["data"]["marketingMessageSend"]["errors"]
    assert (error["field"], error["code"]) == (["input", "segment"], "INVALID")


async def test_an_unknown_group_is_not_found(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    before = await state(raw_sql)
    payload = await send(gql, token, channel="EMAIL", subject="x", body="y", groupId="not-a-group")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "groupId"], "NOT_FOUND")
    ]
    assert await state(raw_sql) == before


async def test_a_channel_whose_marketing_scenario_is_off_is_refused(
    gql, factory, runtime, raw_sql
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    await subscriber(factory, "SMS")
    await factory.sms_credits(50)
    await scenarios(runtime, ["MARKETING", "UNSUBSCRIBE"], ["UNSUBSCRIBE"])
    before = await state(raw_sql)

    payload = await send(gql, token, channel="SMS", body="Offer")

    assert payload["recipients"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["input", "channel"], "SCENARIO_OFF")
    ]
    assert await state(raw_sql) == before


async def test_too_few_sms_credits_refuse_the_send_and_change_nothing(
    gql, factory, raw_sql
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    for _ in range(3):
        await subscriber(factory, "SMS")
    segments = segment_count(sms_marketing_text("Offer", "http://127.0.0.1:8000"))
    await factory.sms_credits(3 * segments - 1)
    before = await state(raw_sql)

    payload = await send(gql, token, channel="SMS", body="Offer", idempotencyKey="k-1")

    assert payload["campaignId"] is None
    [error] = payload["errors"]
    assert (error["field"], error["code"]) == (["input", "channel"], "INSUFFICIENT_SMS_CREDITS")
    assert str(3 * segments) in error["message"]
    # No campaign, no notification, no job, no key, no ledger entry, the same balance.
    assert await state(raw_sql) == before

    # The key was not kept: once credits are bought, the same call goes through.
    await factory.sms_credits(1)
    payload = await send(gql, token, channel="SMS", body="Offer", idempotencyKey="k-1")
    assert (payload["errors"], payload["recipients"]) == ([], 3)


async def test_an_sms_send_reserves_every_recipient_s_credits_at_once(
    gql, factory, raw_sql, caplog
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    for _ in range(4):
        await subscriber(factory, "SMS")
    await factory.sms_credits(100)
    segments = segment_count(sms_marketing_text("Offer", "http://127.0.0.1:8000"))

    with caplog.at_level(logging.WARNING, logger="app.services.sms_credits"):
        payload = await send(gql, token, channel="SMS", body="Offer")

    assert payload["recipients"] == 4
    # 100 was the warning threshold: the campaign's reservation crossed it, and says so once.
    warnings = [r.message for r in caplog.records if "warning threshold" in r.message]
    assert len(warnings) == 1
    assert await raw_sql("SELECT available, reserved FROM sms_credit_balance") == [
        (100 - 4 * segments, 4 * segments)
    ]
    holds = await raw_sql("SELECT sms_credits FROM notifications WHERE scenario = 'MARKETING'")
    assert sorted(h for (h,) in holds) == [segments] * 4
    [(kind, reserved, reference)] = await raw_sql(
        "SELECT kind, segments, reference FROM sms_credit_ledger WHERE kind = 'RESERVE'"
    )
    assert (kind, reserved) == ("RESERVE", 4 * segments)
    assert payload["campaignId"] in reference


async def test_a_retry_with_the_same_key_answers_the_first_send(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    await subscriber(factory, email="ada@example.com")
    await subscriber(factory, email="bo@example.com")
    message = {"channel": "EMAIL", "subject": "Sale", "body": "Come in", "idempotencyKey": "s-1"}

    first = await send(gql, token, **message)
    await subscriber(factory, email="cy@example.com")  # subscribed after the first call
    again = await send(gql, token, **message)

    assert first["errors"] == []
    assert again == first
    assert await raw_sql("SELECT COUNT(*) FROM marketing_campaigns") == [(1,)]
    assert len(await marketing_rows(raw_sql)) == 2
    assert await raw_sql("SELECT COUNT(*) FROM outbox") == [(1,)]

    changed = await send(gql, token, **(message | {"body": "Something else"}))
    assert [(e["field"], e["code"]) for e in changed["errors"]] == [
        (["input", "idempotencyKey"], "IDEMPOTENCY_KEY_REUSED")
    ]


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"channel": "EMAIL", "body": "Hi"}, ["input", "subject"], "REQUIRED"),
        (
            {"channel": "EMAIL", "subject": "a\nBcc: x@y", "body": "Hi"},
            ["input", "subject"],
            "INVALID",
        ),
        ({"channel": "EMAIL", "subject": "s" * 151, "body": "Hi"}, ["input", "subject"], "INVALID"),
        ({"channel": "EMAIL", "subject": "Hi", "body": "  \n "}, ["input", "body"], "REQUIRED"),
        ({"channel": "SMS", "body": "x" * 1001}, ["input", "body"], "INVALID"),
        ({"channel": "EMAIL", "subject": "Hi", "body": "bell\x07"}, ["input", "body"], "INVALID"),
    ],
)
async def test_the_text_is_checked_before_anything_is_written(
    gql, factory, raw_sql, fields: dict[str, Any], field: list[str], code: str
) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    await subscriber(factory, email="ada@example.com")
    before = await state(raw_sql)
    payload = await send(gql, token, **fields)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await state(raw_sql) == before


async def test_a_send_needs_settings_manage_and_a_chain_wide_role(gql, factory, raw_sql) -> None:
    await subscriber(factory, email="ada@example.com")
    message = {"channel": "EMAIL", "subject": "Sale", "body": "Come in"}
    cashier = await factory.token(*(p for p in Permission if p is not P.SETTINGS_MANAGE))
    store = await factory.store()
    bound = await factory.token(P.SETTINGS_MANAGE, store_id=store.id)
    before = await state(raw_sql)

    payload = await send(gql, cashier, **message)
    assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    payload = await send(gql, bound, **message)
    assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    assert await state(raw_sql) == before


async def test_a_customer_whose_email_was_removed_is_skipped(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    ada = await subscriber(factory, email="ada@example.com")
    group = await factory.group("Regulars")
    await factory.add_to_group(group.id, ada.id)
    result = await factory.customers().update(
        ada.id, CustomerUpdate(expected_version=ada.version, email=None)
    )
    assert result.ok, result.errors

    payload = await send(
        gql, token, channel="EMAIL", subject="Sale", body="Come in", groupId=str(group.id)
    )
    assert (payload["recipients"], payload["skipped"]) == (0, 1)
    # Nobody to send to: the campaign is recorded, and no job is queued.
    assert await raw_sql("SELECT COUNT(*) FROM marketing_campaigns") == [(1,)]
    assert await raw_sql("SELECT COUNT(*) FROM outbox") == [(0,)]
