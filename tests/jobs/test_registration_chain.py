"""The registration chain (seed 003): email first, then SMS, against real SMTP and SMS servers."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from app.db.models import SmsCreditBalance
from tests.gateway_servers import (
    SmsReply,
    SmtpHandler,
    free_port,
    run_worker,
    sms_provider,
    smtp_server,
)

SENDER = "shop@example.com"
FAST = {"notification_retry_base_seconds": 0.01}


def gateways(smtp_port: int, sms_url: str) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "smtp_from": SENDER,
        "sms_gateway_url": sms_url,
        "sms_gateway_token": "tok",
        **FAST,
    }


async def chain(raw_sql: Any) -> list[tuple[str, str]]:
    rows = await raw_sql("SELECT channel, status FROM notifications ORDER BY channel")
    return [(r[0], r[1]) for r in rows]


@pytest.fixture(autouse=True)
async def _credits(factory: Any) -> None:
    await factory.sms_credits(50)


async def test_with_both_addresses_only_the_email_goes(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ann", phone="+12125550121", email="ann@example.com")
    handler = SmtpHandler()
    async with sms_provider() as provider:
        with smtp_server(handler) as port:
            await run_worker(runtime, **gateways(port, provider.url))
    assert await chain(raw_sql) == [("EMAIL", "SENT")]
    assert len(handler.received) == 1
    assert provider.requests == []


async def test_a_refused_recipient_then_the_sms(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ben", phone="+12125550122", email="ben@example.com")
    handler = SmtpHandler(refuse={"ben@example.com": ["550 5.1.1 no such user"]})
    async with sms_provider() as provider:
        with smtp_server(handler) as port:
            await run_worker(runtime, **gateways(port, provider.url))
    assert await chain(raw_sql) == [("EMAIL", "FAILED"), ("SMS", "SENT")]
    [request] = provider.requests
    assert request.json["to"] == "+12125550122"
    assert "password: " in request.json["text"]
    assert await raw_sql("SELECT state FROM online_accounts") == [("INVITED",)]


async def test_smtp_down_for_good_then_the_sms(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Cat", phone="+12125550123", email="cat@example.com")
    async with sms_provider() as provider:
        await run_worker(
            runtime,
            **gateways(free_port(), provider.url),
            notification_retry_cap_seconds=0.02,
        )
    assert await chain(raw_sql) == [("EMAIL", "FAILED"), ("SMS", "SENT")]
    assert len(provider.requests) == 1


async def test_when_everything_fails_the_account_stays_invited_and_reset_works(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Dan", phone="+12125550124", email="dan@example.com")
    handler = SmtpHandler(refuse={"dan@example.com": ["550 5.1.1 no such user"]})
    async with sms_provider() as provider:
        provider.replies = [SmsReply(status=400, body={"error": "invalid number"})]
        with smtp_server(handler) as port:
            await run_worker(runtime, **gateways(port, provider.url))
    assert await chain(raw_sql) == [("EMAIL", "FAILED"), ("SMS", "FAILED")]
    assert await raw_sql("SELECT state FROM online_accounts") == [("INVITED",)]
    # "Forgot password" (seed 003): the code goes out once the address works again.
    body = await gql(
        "mutation($l: String!) { customerPasswordResetRequest(login: $l) { errors { code } } }",
        {"l": "dan@example.com"},
    )
    assert body["data"]["customerPasswordResetRequest"] == {"errors": []}
    handler = SmtpHandler()
    async with sms_provider() as provider:
        with smtp_server(handler) as port:
            await run_worker(runtime, **gateways(port, provider.url))
    [message] = handler.received
    assert "reset code" in message["Subject"]


async def test_no_sms_credits_skips_the_sms_and_the_chain_ends(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Eve", phone="+12125550125", email="eve@example.com")
    handler = SmtpHandler(refuse={"eve@example.com": ["550 5.1.1 no such user"]})
    # The credits went elsewhere while the email was on its way.
    async with runtime.db.write() as session:
        await session.execute(update(SmsCreditBalance).values(available=0))
    async with sms_provider() as provider:
        with smtp_server(handler) as port:
            await run_worker(runtime, **gateways(port, provider.url))
    rows = await raw_sql("SELECT channel, status, error FROM notifications ORDER BY channel")
    assert [(r[0], r[1], r[2]) for r in rows][1] == ("SMS", "SKIPPED", "NO_SMS_CREDITS")
    assert provider.requests == []
