"""Marketing sends delivered by the real worker (issue 10 §4): fan-out, credits, the
unsubscribe link in each message, and what the link does."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from app.db.repositories.marketing import MarketingRepository
from app.domain.marketing import sign_token, sms_marketing_text
from app.domain.permissions import Permission
from app.domain.records import MarketingChannel
from app.domain.sms import segment_count
from app.services.marketing.fan_out import fan_out
from app.services.unit_of_work import utcnow
from tests.gateway_servers import SmtpHandler, smtp_server
from tests.gateway_servers import run_worker as run_smtp_worker
from tests.jobs.test_outbox_pipeline import RecordingGateway, run_worker
from tests.marketing_helpers import (
    SEND,
    UNSUBSCRIBE,
    bulk_subscribers,
    marketing_only,
    scenarios,
    token_in,
)

P = Permission
PUBLIC = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
async def _marketing_only(runtime: Any) -> None:
    await marketing_only(runtime)


async def send(gql: Any, factory: Any, **fields: Any) -> dict[str, Any]:
    token = await factory.token(P.SETTINGS_MANAGE)
    body = await gql(SEND, {"input": fields}, token=token)
    payload: dict[str, Any] = body["data"]["marketingMessageSend"]
    assert payload["errors"] == [], payload
    return payload


async def unsubscribe(gql: Any, token: str) -> dict[str, Any]:
    body = await gql(UNSUBSCRIBE, {"token": token})  # anonymous: no Authorization
    payload: dict[str, Any] = body["data"]["marketingUnsubscribe"]
    return payload


async def statuses(raw_sql: Any, scenario: str) -> list[tuple[str, str | None, int]]:
    rows = await raw_sql(
        "SELECT status, error, sms_credits FROM notifications WHERE scenario = :s", s=scenario
    )
    return sorted((s, e, c) for s, e, c in rows)


async def test_an_email_campaign_is_delivered_with_its_unsubscribe_link(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    await factory.customer(email="bo@example.com", email_marketing=True)
    await send(
        gql,
        factory,
        channel="EMAIL",
        subject="Spring <sale>",
        body="Hello & welcome\n\n<b>-20%</b>",
    )

    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert sorted(m.recipient for m in gateway.sent) == ["ada@example.com", "bo@example.com"]
    assert await statuses(raw_sql, "MARKETING") == [("SENT", None, 0)] * 2
    message = gateway.sent[0]
    assert message.subject == "Spring <sale>"
    assert message.body.startswith("Hello & welcome\n\n<b>-20%</b>")
    url = f"{PUBLIC}/unsubscribe?token={token_in(message.body)}"
    assert url in message.body
    # The shop's text is text: the HTML part escapes it.
    assert message.html is not None
    assert "&lt;b&gt;-20%&lt;/b&gt;" in message.html
    assert "Hello &amp; welcome" in message.html
    assert f'href="{url}"' in message.html
    assert dict(message.headers) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # Each message its own token.
    assert token_in(gateway.sent[0].body) != token_in(gateway.sent[1].body)


async def test_sms_credits_are_spent_per_message_as_each_is_sent(
    gql, factory, runtime, raw_sql
) -> None:
    for _ in range(3):
        await factory.customer(sms_marketing=True)
    await factory.sms_credits(50)
    segments = segment_count(sms_marketing_text("Offer: 2 for 1", PUBLIC))
    await send(gql, factory, channel="SMS", body="Offer: 2 for 1")
    assert await raw_sql("SELECT available, reserved FROM sms_credit_balance") == [
        (50 - 3 * segments, 3 * segments)
    ]

    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert len(gateway.sent) == 3
    assert all(m.body.startswith("Offer: 2 for 1\nStop: ") for m in gateway.sent)
    assert all(m.html is None and m.headers == () for m in gateway.sent)
    assert await raw_sql("SELECT available, reserved FROM sms_credit_balance") == [
        (50 - 3 * segments, 0)
    ]
    ledger = await raw_sql("SELECT kind, segments FROM sms_credit_ledger ORDER BY id")
    assert ledger == [("TOP_UP", 50), ("RESERVE", 3 * segments)] + [("SPEND", segments)] * 3


async def test_a_customer_who_unsubscribes_before_the_send_is_skipped_and_credits_return(
    gql, factory, runtime, raw_sql
) -> None:
    ada = await factory.customer(sms_marketing=True)
    await factory.customer(sms_marketing=True)
    await factory.sms_credits(50)
    segments = segment_count(sms_marketing_text("Offer", PUBLIC))
    await send(gql, factory, channel="SMS", body="Offer")
    result = await factory.customers().update_consent(
        ada.id, MarketingChannel.SMS, subscribed=False
    )
    assert result.ok, result.errors

    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert [m.recipient for m in gateway.sent] != [ada.phone]
    assert len(gateway.sent) == 1
    assert await statuses(raw_sql, "MARKETING") == [
        ("SENT", None, 0),
        ("SKIPPED", "unsubscribed or not active since the message was queued", 0),
    ]
    assert await raw_sql("SELECT available, reserved FROM sms_credit_balance") == [
        (50 - segments, 0)
    ]


async def test_a_fan_out_run_again_queues_no_recipient_twice(
    gql, factory, runtime, raw_sql
) -> None:
    await bulk_subscribers(runtime, 25)
    payload = await send(gql, factory, channel="EMAIL", subject="Sale", body="Come in")
    campaign_id = uuid.UUID(payload["campaignId"])
    [(fan_out_id,)] = await raw_sql("SELECT id FROM outbox WHERE job_name = 'fan_out_marketing'")
    fan_out_id = uuid.UUID(str(fan_out_id))

    # A run that died after its first batch of 10 committed, before it enqueued them.
    async with runtime.db.write() as session:
        written = await MarketingRepository(session).queue_deliveries(campaign_id, 10, utcnow())
    assert len(written) == 10

    # The job again (arq redelivers it), in batches of 7, and then once more.
    assert await fan_out(runtime.tx, fan_out_id, batch=7) == 15
    assert await fan_out(runtime.tx, fan_out_id, batch=7) == 0

    # One delivery row per notification, whose id it bears.
    delivery_ids = await raw_sql("SELECT id FROM outbox WHERE job_name = 'deliver_notification'")
    notification_ids = await raw_sql("SELECT id FROM notifications WHERE campaign_id IS NOT NULL")
    assert len(delivery_ids) == 25
    assert {str(i) for (i,) in delivery_ids} == {str(i) for (i,) in notification_ids}
    [(fanned_out,)] = await raw_sql("SELECT fanned_out_at FROM marketing_campaigns")
    assert fanned_out is not None

    # The 10 that missed Redis reach it through the relay; everyone gets one message.
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    assert len(gateway.sent) == 25
    assert len({m.recipient for m in gateway.sent}) == 25


async def test_ten_thousand_recipients_are_one_mutation_and_one_fan_out_job(
    gql, factory, runtime, raw_sql
) -> None:
    await bulk_subscribers(runtime, 10_000)

    started = time.perf_counter()
    payload = await send(gql, factory, channel="EMAIL", subject="Sale", body="Come in")
    mutation_seconds = time.perf_counter() - started

    assert (payload["recipients"], payload["skipped"]) == (10_000, 0)
    assert await raw_sql(
        "SELECT COUNT(*) FROM notifications WHERE campaign_id IS NOT NULL AND status = 'QUEUED'"
    ) == [(10_000,)]
    # The mutation wrote one outbox row: the fan-out job, not a job per recipient.
    assert await raw_sql("SELECT job_name FROM outbox") == [("fan_out_marketing",)]
    assert await runtime.redis.zcard(runtime.settings.queue_name) == 1

    [(fan_out_id,)] = await raw_sql("SELECT id FROM outbox")
    started = time.perf_counter()
    handed = await fan_out(runtime.tx, uuid.UUID(str(fan_out_id)))
    fan_out_seconds = time.perf_counter() - started

    assert handed == 10_000
    assert await raw_sql(
        "SELECT COUNT(*) FROM outbox WHERE job_name = 'deliver_notification' "
        "AND enqueued_at IS NOT NULL"
    ) == [(10_000,)]
    assert await runtime.redis.zcard(runtime.settings.queue_name) == 10_001
    # Figures for the docs, never asserted (the machine is shared).
    print(f"\n10k send: mutation {mutation_seconds:.2f} s, fan-out {fan_out_seconds:.2f} s")


async def test_the_link_unsubscribes_once_and_confirms_once(gql, factory, runtime, raw_sql) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    await send(gql, factory, channel="EMAIL", subject="Sale", body="Come in")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    [message] = gateway.sent
    token = token_in(message.body)

    assert await unsubscribe(gql, token) == {
        "channel": "EMAIL",
        "unsubscribed": True,
        "errors": [],
    }
    [(state, source, actor)] = await raw_sql(
        "SELECT state, source, actor_label FROM marketing_consents"
    )
    assert (state, source, actor) == ("UNSUBSCRIBED", "UNSUBSCRIBE_LINK", "unsubscribe link")
    history = await raw_sql(
        "SELECT previous_state, state, source FROM marketing_consent_history ORDER BY id"
    )
    assert history[-1] == ("SUBSCRIBED", "UNSUBSCRIBED", "UNSUBSCRIBE_LINK")
    assert await statuses(raw_sql, "UNSUBSCRIBE") == [("QUEUED", None, 0)]

    # The second click: harmless, and no second confirmation.
    assert await unsubscribe(gql, token) == {
        "channel": "EMAIL",
        "unsubscribed": False,
        "errors": [],
    }
    assert await statuses(raw_sql, "UNSUBSCRIBE") == [("QUEUED", None, 0)]

    # The confirmation is a service message: it goes although marketing consent is gone.
    confirmations = RecordingGateway()
    await run_worker(runtime, confirmations)
    [confirmation] = confirmations.sent
    assert confirmation.recipient == "ada@example.com"
    assert "no longer receive marketing emails" in confirmation.body
    assert await statuses(raw_sql, "UNSUBSCRIBE") == [("SENT", None, 0)]


async def test_no_confirmation_when_its_scenario_is_off(gql, factory, runtime, raw_sql) -> None:
    await factory.customer(sms_marketing=True)
    await factory.sms_credits(50)
    await send(gql, factory, channel="SMS", body="Offer")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    await scenarios(runtime, ["MARKETING", "UNSUBSCRIBE"], ["MARKETING"])

    payload = await unsubscribe(gql, token_in(gateway.sent[0].body))

    assert (payload["channel"], payload["unsubscribed"]) == ("SMS", True)
    assert await statuses(raw_sql, "UNSUBSCRIBE") == []


async def test_an_sms_confirmation_reserves_its_credits(gql, factory, runtime, raw_sql) -> None:
    await factory.customer(sms_marketing=True)
    await factory.sms_credits(50)
    await send(gql, factory, channel="SMS", body="Offer")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    [(available_before,)] = await raw_sql("SELECT available FROM sms_credit_balance")

    await unsubscribe(gql, token_in(gateway.sent[0].body))

    [(status, _, held)] = await statuses(raw_sql, "UNSUBSCRIBE")
    assert status == "QUEUED"
    assert held > 0
    assert await raw_sql("SELECT available, reserved FROM sms_credit_balance") == [
        (available_before - held, held)
    ]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "A" * 43,
        # The right shape, an id that exists nowhere, a MAC made with another key.
        sign_token(b"another key", uuid.uuid4()),
    ],
)
async def test_a_bad_or_forged_token_is_refused_and_reveals_nothing(
    gql, factory, raw_sql, token: str
) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    before = await raw_sql("SELECT state, source FROM marketing_consents")
    payload = await unsubscribe(gql, token)
    assert payload == {
        "channel": None,
        "unsubscribed": None,
        "errors": [
            {
                "field": ["token"],
                "code": "INVALID_TOKEN",
                "message": "This unsubscribe link is not valid.",
            }
        ],
    }
    assert await raw_sql("SELECT state, source FROM marketing_consents") == before


async def test_a_signed_token_of_a_service_message_does_not_unsubscribe(
    gql, factory, runtime, raw_sql
) -> None:
    ada = await factory.customer(email="ada@example.com", email_marketing=True)
    registration = await factory.notification(ada.id)
    async with runtime.db.read() as session:
        key = await MarketingRepository(session).signing_key()
    payload = await unsubscribe(gql, sign_token(key, registration))
    assert [e["code"] for e in payload["errors"]] == ["INVALID_TOKEN"]
    assert await raw_sql("SELECT state FROM marketing_consents") == [("SUBSCRIBED",)]


async def test_the_page_asks_on_get_and_unsubscribes_on_post(
    gql, client, factory, runtime, raw_sql
) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    await send(gql, factory, channel="EMAIL", subject="Sale", body="Come in")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    token = token_in(gateway.sent[0].body)

    # Mail scanners fetch links: a GET shows a button and changes nothing.
    for _ in range(2):
        page = await client.get("/unsubscribe", params={"token": token})
        assert page.status_code == 200
        assert 'method="post"' in page.text
        assert f'value="{token}"' in page.text
        assert page.headers["cache-control"] == "no-store"
    assert await raw_sql("SELECT state FROM marketing_consents") == [("SUBSCRIBED",)]
    assert await statuses(raw_sql, "UNSUBSCRIBE") == []

    done = await client.post("/unsubscribe", data={"token": token})
    assert done.status_code == 200
    assert "no longer receive our marketing emails" in done.text
    assert await raw_sql("SELECT state, source FROM marketing_consents") == [
        ("UNSUBSCRIBED", "UNSUBSCRIBE_LINK")
    ]

    bad = await client.post("/unsubscribe", data={"token": "forged"})
    assert bad.status_code == 400
    assert "not valid" in bad.text


async def test_the_one_click_post_of_rfc_8058_unsubscribes(
    gql, client, factory, runtime, raw_sql
) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    await send(gql, factory, channel="EMAIL", subject="Sale", body="Come in")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    header = dict(gateway.sent[0].headers)["List-Unsubscribe"]
    url = header.strip("<>").removeprefix(PUBLIC)

    # What a mail client sends: the header's URL, the one-click body, no cookies.
    response = await client.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert await raw_sql("SELECT state FROM marketing_consents") == [("UNSUBSCRIBED",)]


async def test_through_smtp_the_email_carries_the_one_click_headers_and_the_public_url(
    gql, factory, runtime
) -> None:
    await factory.customer(email="ada@example.com", email_marketing=True)
    await send(gql, factory, channel="EMAIL", subject="Sale", body="Come <in>")
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        await run_smtp_worker(
            runtime,
            smtp_url=f"smtp://127.0.0.1:{port}",
            smtp_from="Corner Shop <shop@example.com>",
            public_url="https://shop.example/crm/",
        )

    [message] = handler.received
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None
    assert markup is not None
    token = token_in(text.get_content())
    url = f"https://shop.example/crm/unsubscribe?token={token}"
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in text.get_content()
    assert "Come &lt;in&gt;" in markup.get_content()
