"""Email through a real SMTP server (aiosmtpd on 127.0.0.1), by the real worker (issue 10 §1)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.services.delivery_gateways import gateways_from_settings
from app.services.gateways import DeliveryFailed, OutgoingMessage
from app.services.notifications import MAX_ATTEMPTS, NotificationDelivery
from app.services.smtp import SmtpConfig, SmtpGateway
from tests.gateway_servers import (
    SmtpHandler,
    free_port,
    make_tls,
    run_worker,
    silent_server,
    smtp_server,
)

SENDER = "Corner Shop <shop@example.com>"
FAST_RETRIES = {"notification_retry_base_seconds": 0.01}


def smtp(port: int, scheme: str = "smtp", auth: str = "", query: str = "") -> dict[str, Any]:
    return {"smtp_url": f"{scheme}://{auth}127.0.0.1:{port}{query}", "smtp_from": SENDER}


async def notification(raw_sql: Any) -> tuple[uuid.UUID, str, int, str | None]:
    # The email; an SMS may follow a refused one (tests/jobs/test_registration_chain.py).
    [(notification_id, status, attempts, error)] = await raw_sql(
        "SELECT id, status, attempts, error FROM notifications WHERE channel = 'EMAIL'"
    )
    return uuid.UUID(str(notification_id)), status, attempts, error


async def attempts(raw_sql: Any) -> list[tuple[int, str, str | None, str | None]]:
    rows = await raw_sql(
        "SELECT number, gateway, outcome, error, finished_at FROM notification_attempts "
        "ORDER BY number"
    )
    assert all(row[4] is not None for row in rows)  # every attempt was closed
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def test_an_email_goes_out_as_text_and_html_with_the_notifications_message_id(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ada & Bo", email="ada@example.com")
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        await run_worker(runtime, **smtp(port))

    notification_id, status, count, error = await notification(raw_sql)
    assert (status, count, error) == ("SENT", 1, None)
    assert await attempts(raw_sql) == [(1, "smtp", "SENT", None)]
    [message] = handler.received
    assert handler.envelopes == [("shop@example.com", ["ada@example.com"])]
    assert message["Message-ID"] == f"<{notification_id}@example.com>"
    assert message["From"] == SENDER
    assert message["To"] == "ada@example.com"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    markup = message.get_body(("html",))
    assert text is not None
    assert markup is not None
    assert "Hello Ada & Bo, you are now registered" in text.get_content()
    assert "Hello Ada &amp; Bo, you are now registered" in markup.get_content()


async def test_starttls_with_a_login_against_a_self_signed_certificate(
    factory, runtime, raw_sql, tmp_path: Path, caplog
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    tls = make_tls(tmp_path)
    handler = SmtpHandler()
    caplog.set_level(logging.DEBUG)
    with smtp_server(handler, starttls=tls) as port:
        # The user and password are URL-encoded: an @ and a space.
        await run_worker(
            runtime,
            **smtp(
                port, "smtp+starttls", "shop%40example.com:s3cret%20pass@", f"?cafile={tls.cafile}"
            ),
        )
    assert handler.logins == [(b"shop@example.com", b"s3cret pass")]
    assert len(handler.received) == 1
    assert (await notification(raw_sql))[1:] == ("SENT", 1, None)
    assert "s3cret" not in caplog.text


async def test_a_wrong_password_is_retried_and_never_recorded(
    factory, runtime, raw_sql, tmp_path: Path, caplog
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    tls = make_tls(tmp_path)
    handler = SmtpHandler()
    caplog.set_level(logging.DEBUG)
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    with smtp_server(handler, starttls=tls) as port:
        url = f"smtp://shop:wrong-pass@127.0.0.1:{port}?starttls=1&cafile={tls.cafile}"
        settings = runtime.settings.model_copy(
            update={"smtp_url": SecretStr(url), "smtp_from": SENDER}
        )
        outcome = await NotificationDelivery(runtime.db, gateways_from_settings(settings)).deliver(
            uuid.UUID(str(outbox_id)), attempt=1
        )
    # Refused at AUTH: our configuration, not this message; a fix made meanwhile delivers it.
    assert outcome.retry
    _, status, count, error = await notification(raw_sql)
    assert (status, count) == ("QUEUED", 1)
    assert error is not None
    assert error.startswith("SMTP 535")
    [(_, _, outcome_text, attempt_error)] = await attempts(raw_sql)
    assert outcome_text == "TRANSIENT"
    assert "wrong-pass" not in (attempt_error or "")
    assert "wrong-pass" not in caplog.text
    assert handler.received == []


async def test_implicit_tls(factory, runtime, raw_sql, tmp_path: Path) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    tls = make_tls(tmp_path)
    handler = SmtpHandler()
    with smtp_server(handler, implicit_tls=tls) as port:
        await run_worker(runtime, **smtp(port, "smtps", query=f"?cafile={tls.cafile}"))
    assert len(handler.received) == 1
    assert (await notification(raw_sql))[1:] == ("SENT", 1, None)


async def test_a_certificate_nobody_vouches_for_is_refused(
    factory, runtime, raw_sql, tmp_path: Path
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    tls = make_tls(tmp_path)
    handler = SmtpHandler()
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    with smtp_server(handler, implicit_tls=tls) as port:
        settings = runtime.settings.model_copy(
            update={"smtp_url": SecretStr(f"smtps://127.0.0.1:{port}"), "smtp_from": SENDER}
        )
        outcome = await NotificationDelivery(runtime.db, gateways_from_settings(settings)).deliver(
            uuid.UUID(str(outbox_id)), attempt=1
        )
    assert outcome.retry
    assert handler.received == []
    [(_, _, result, error)] = await attempts(raw_sql)
    assert result == "TRANSIENT"
    assert "CERTIFICATE_VERIFY_FAILED" in (error or "")


async def test_a_refused_recipient_fails_at_once_and_the_reason_keeps_no_address(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    handler = SmtpHandler(
        refuse={"ada@example.com": ["550 5.1.1 <ada@example.com>: Recipient address rejected"]}
    )
    with smtp_server(handler) as port:
        await run_worker(runtime, **smtp(port), **FAST_RETRIES)

    _, status, count, error = await notification(raw_sql)
    assert (status, count) == ("FAILED", 1)
    assert error == "SMTP 550 at RCPT: 5.1.1 <[recipient]>: Recipient address rejected"
    assert await attempts(raw_sql) == [(1, "smtp", "PERMANENT", error)]
    assert await raw_sql("SELECT count(*) FROM outbox WHERE processed_at IS NULL") == [(0,)]
    assert handler.received == []


async def test_a_greylisted_recipient_is_retried_and_then_accepted(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    handler = SmtpHandler(refuse={"ada@example.com": ["451 4.7.1 Greylisted, try again later"]})
    with smtp_server(handler) as port:
        await run_worker(runtime, **smtp(port), **FAST_RETRIES)

    assert (await notification(raw_sql))[1:] == ("SENT", 2, None)
    assert await attempts(raw_sql) == [
        (1, "smtp", "TRANSIENT", "SMTP 451 at RCPT: 4.7.1 Greylisted, try again later"),
        (2, "smtp", "SENT", None),
    ]
    assert len(handler.received) == 1


async def test_smtp_down_then_back(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    port = free_port()
    handler = SmtpHandler()
    # The first try finds nothing listening; the retry comes 0.5-1 s later.
    worker = asyncio.create_task(
        run_worker(runtime, **smtp(port), notification_retry_base_seconds=1.0)
    )
    for _ in range(500):
        if await raw_sql("SELECT outcome FROM notification_attempts") == [("TRANSIENT",)]:
            break
        await asyncio.sleep(0.01)
    with smtp_server(handler, port):
        await asyncio.wait_for(worker, 30)

    _, status, count, error = await notification(raw_sql)
    assert (status, count, error) == ("SENT", 2, None)
    [first, second] = await attempts(raw_sql)
    assert first[2] == "TRANSIENT"
    assert "SMTPConnectError" in (first[3] or "")
    assert second[2] == "SENT"
    assert len(handler.received) == 1


async def test_a_server_that_never_answers_times_out_and_is_retried(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    [(outbox_id,)] = await raw_sql("SELECT id FROM outbox")
    async with silent_server() as port:
        settings = runtime.settings.model_copy(
            update={
                "smtp_url": SecretStr(f"smtp://127.0.0.1:{port}"),
                "smtp_from": SENDER,
                "smtp_timeout_seconds": 0.3,
            }
        )
        outcome = await NotificationDelivery(runtime.db, gateways_from_settings(settings)).deliver(
            uuid.UUID(str(outbox_id)), attempt=1
        )
    assert outcome.retry
    assert (await notification(raw_sql))[1:3] == ("QUEUED", 1)
    [(_, _, result, error)] = await attempts(raw_sql)
    assert result == "TRANSIENT"
    assert "Timeout" in (error or "")


async def test_a_server_down_for_good_fails_after_the_last_attempt(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ada", email="ada@example.com")
    await run_worker(runtime, **smtp(free_port()), **FAST_RETRIES)

    _, status, count, error = await notification(raw_sql)
    assert (status, count) == ("FAILED", MAX_ATTEMPTS)
    assert "SMTPConnectError" in (error or "")
    rows = await attempts(raw_sql)
    assert [(number, outcome) for number, _, outcome, _ in rows] == [
        (n, "TRANSIENT") for n in range(1, MAX_ATTEMPTS + 1)
    ]
    assert await raw_sql("SELECT count(*) FROM outbox WHERE processed_at IS NULL") == [(0,)]


# --- connection reuse -------------------------------------------------------------------


def outgoing(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=uuid.uuid4(),
        channel="EMAIL",
        recipient=f"customer{n}@example.com",
        subject="Welcome",
        body=f"Hello {n}",
    )


def smtp_gateway(port: int, **options: Any) -> SmtpGateway:
    return SmtpGateway(
        SmtpConfig.from_url(f"smtp://127.0.0.1:{port}"), SENDER, timeout=5, **options
    )


async def test_the_worker_sends_many_emails_over_one_connection(factory, runtime, raw_sql) -> None:
    for n in range(3):
        await factory.customer(name=f"Ada {n}", email=f"ada{n}@example.com")
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        await run_worker(runtime, **smtp(port), smtp_connections=1)

    assert await raw_sql("SELECT status, count(*) FROM notifications GROUP BY status") == [
        ("SENT", 3)
    ]
    assert len(handler.received) == 3
    assert len(set(handler.peers)) == 1
    assert len(handler.sessions) == 1


async def test_concurrent_sends_share_at_most_the_configured_connections() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port, connections=2)
        try:
            await asyncio.gather(*(gateway.send(outgoing(n)) for n in range(10)))
        finally:
            await gateway.aclose()
    assert len(handler.received) == 10
    assert gateway.connects == len(set(handler.peers)) == 2


async def test_a_connection_the_server_dropped_unnoticed_is_replaced_before_the_message() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port)
        try:
            await gateway.send(outgoing(1))
            # Closed from the server's side while our event loop does not run: the kept
            # connection still looks open when the next message takes it.
            handler.drop_connections()
            await gateway.send(outgoing(2))
        finally:
            await gateway.aclose()
    assert [m["To"] for m in handler.received] == ["customer1@example.com", "customer2@example.com"]
    assert gateway.connects == len(set(handler.peers)) == 2


async def test_a_connection_closed_while_idle_is_replaced() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port)
        try:
            await gateway.send(outgoing(1))
            handler.drop_connections()
            await asyncio.sleep(0.2)  # the client sees the close
            await gateway.send(outgoing(2))
        finally:
            await gateway.aclose()
    assert len(handler.received) == 2
    assert gateway.connects == 2


async def test_a_server_restarted_between_messages_gets_the_second_one() -> None:
    first, second = SmtpHandler(), SmtpHandler()
    port = free_port()
    gateway = smtp_gateway(port)
    try:
        with smtp_server(first, port):
            await gateway.send(outgoing(1))
        with smtp_server(second, port):
            await gateway.send(outgoing(2))
    finally:
        await gateway.aclose()
    assert (len(first.received), len(second.received)) == (1, 1)


async def test_a_drop_during_the_message_is_a_transient_failure_not_a_resend() -> None:
    # The server may have the message: sending it again at once could make a duplicate,
    # so the job's retry decides (the same Message-ID), not the gateway.
    class DropAtData(SmtpHandler):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await super().handle_DATA(server, session, envelope)
            server.transport.close()
            return "250 never heard"

    handler = DropAtData()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port)
        try:
            with pytest.raises(DeliveryFailed) as failure:
                await gateway.send(outgoing(1))
        finally:
            await gateway.aclose()
    assert not failure.value.permanent
    assert len(handler.received) == 1


async def test_idle_connections_are_closed_after_a_while_and_at_shutdown() -> None:
    handler = SmtpHandler()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port, idle_seconds=0.2)
        await gateway.send(outgoing(1))
        [server] = handler.sessions
        for _ in range(100):
            if server.transport is None:
                break
            await asyncio.sleep(0.05)
        assert server.transport is None  # the idle connection was closed
        await gateway.send(outgoing(2))
        await gateway.aclose()
        [_, later] = handler.sessions
        for _ in range(100):
            if later.transport is None:
                break
            await asyncio.sleep(0.05)
        assert later.transport is None
    with pytest.raises(DeliveryFailed):
        await gateway.send(outgoing(3))


async def test_a_send_cancelled_mid_session_closes_its_connection_and_the_next_uses_a_new_one() -> (
    None
):
    class SlowOnce(SmtpHandler):
        stalled = False

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if not self.stalled:
                self.stalled = True
                await asyncio.sleep(5)  # in the server's own thread and loop
            return await super().handle_DATA(server, session, envelope)

    handler = SlowOnce()
    with smtp_server(handler) as port:
        gateway = smtp_gateway(port)
        try:
            # arq's timeout cancels a job mid-send.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(gateway.send(outgoing(1)), 0.5)
            [cut] = handler.sessions
            for _ in range(100):
                if cut.transport is None:
                    break
                await asyncio.sleep(0.05)
            assert cut.transport is None  # not left open, owned by no one
            await gateway.send(outgoing(2))
        finally:
            await gateway.aclose()
    assert gateway.connects == 2
