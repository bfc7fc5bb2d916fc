"""Which gateway carries each channel, how the SMTP URL reads, and how long a retry waits."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.jobs.notifications import retry_delay
from app.services.delivery_gateways import gateways_from_settings
from app.services.gateways import FileGateway, redact
from app.services.sms import HttpSmsGateway, retry_after_seconds
from app.services.smtp import SmtpConfig, SmtpGateway
from app.settings import Settings
from tests.gateway_servers import run_worker


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


def test_with_nothing_configured_both_channels_go_to_the_file(tmp_path: Path) -> None:
    gateways = gateways_from_settings(settings(tmp_path))
    assert isinstance(gateways.by_channel["EMAIL"], FileGateway)
    assert gateways.by_channel["SMS"] is gateways.by_channel["EMAIL"]
    assert (gateways.name_for("EMAIL"), gateways.name_for("SMS")) == ("file", "file")


def test_each_configured_channel_gets_its_gateway(tmp_path: Path) -> None:
    gateways = gateways_from_settings(
        settings(
            tmp_path,
            smtp_url=SecretStr("smtp://127.0.0.1:2525"),
            smtp_from="shop@example.com",
        )
    )
    assert isinstance(gateways.by_channel["EMAIL"], SmtpGateway)
    assert isinstance(gateways.by_channel["SMS"], FileGateway)

    gateways = gateways_from_settings(
        settings(tmp_path, sms_gateway_url="http://127.0.0.1:9/v1/messages")
    )
    assert isinstance(gateways.by_channel["EMAIL"], FileGateway)
    assert isinstance(gateways.by_channel["SMS"], HttpSmsGateway)


def test_smtp_needs_a_sender_and_a_known_scheme(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="POSCRM_SMTP_FROM"):
        gateways_from_settings(settings(tmp_path, smtp_url=SecretStr("smtp://127.0.0.1")))
    with pytest.raises(ValueError, match="must start with") as refused:
        SmtpConfig.from_url("imap://user:hunter2@127.0.0.1")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ValueError, match="http"):
        gateways_from_settings(settings(tmp_path, sms_gateway_url="ftp://127.0.0.1/x"))


@pytest.mark.parametrize(
    ("url", "port", "implicit_tls", "starttls"),
    [
        ("smtp://127.0.0.1", 25, False, False),
        ("smtp://127.0.0.1:2525", 2525, False, False),
        ("smtp+starttls://127.0.0.1", 587, False, True),
        ("smtp://127.0.0.1?starttls=true", 587, False, True),
        ("smtps://127.0.0.1", 465, True, False),
        ("SMTPS://127.0.0.1:1465", 1465, True, False),
    ],
)
def test_the_smtp_url_says_where_and_how(
    url: str, port: int, implicit_tls: bool, starttls: bool
) -> None:
    config = SmtpConfig.from_url(url)
    assert (config.host, config.port) == ("127.0.0.1", port)
    assert (config.implicit_tls, config.starttls) == (implicit_tls, starttls)


def test_the_smtp_password_is_decoded_and_never_shown() -> None:
    config = SmtpConfig.from_url(
        "smtp+starttls://shop%40example.com:p%40ss%20word@127.0.0.1:587?cafile=/etc/ca.pem"
    )
    assert (config.username, config.password) == ("shop@example.com", "p@ss word")
    assert config.cafile == "/etc/ca.pem"
    assert "p@ss" not in repr(config)
    assert "p@ss" not in repr(
        Settings(smtp_url=SecretStr("smtp://u:p%40ss@127.0.0.1"), smtp_from="a@b.c")
    )


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    config = Settings(notification_retry_base_seconds=10, notification_retry_cap_seconds=60)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
        delays = [retry_delay(attempt, None, config) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered: failures that came together spread out


def test_retry_after_is_honoured_within_its_cap() -> None:
    config = Settings(notification_retry_base_seconds=1, notification_retry_after_cap_seconds=120)
    assert retry_delay(1, 30, config) == 30
    assert retry_delay(1, 86_400, config) == 120
    # Asking for less than the backoff does not hurry the retry.
    assert 0.5 <= retry_delay(1, 0, config) <= 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sun, 06 Dec 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_reasons_keep_no_addresses_or_numbers() -> None:
    assert redact("550 5.1.1 <ada@example.com> unknown", "ada@example.com") == (
        "550 5.1.1 <[recipient]> unknown"
    )
    assert redact("bounced for bob@example.org", "ada@example.com") == "bounced for [address]"
    assert redact("bad number 212 555 0100", "+12125550100") == "bad number [number]"
    assert len(redact("x" * 5000, "")) == 300
    # An SMS provider that echoes the text would hand staff the customer's name.
    text = "Hello Bo, you are now registered with us."
    assert redact(f'{{"rejected": "{text}"}}', "+12125550100", body=text) == (
        '{"rejected": "[message]"}'
    )


async def test_by_default_the_worker_writes_every_message_to_the_data_folder(
    factory, runtime, raw_sql
) -> None:
    await factory.sms_credits(10)  # the file gateway's SMS spend credits like any other
    await factory.customer(name="Ada", email="ada@example.com")
    await factory.customer(name="Bo", phone="+12125550101")
    log_file = runtime.settings.resolved_data_dir / runtime.settings.notification_outbox_file
    log_file.unlink(missing_ok=True)

    await run_worker(runtime)

    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    ids = {uuid.UUID(str(row[0])) for row in await raw_sql("SELECT id FROM notifications")}
    assert {uuid.UUID(line["id"]) for line in lines} == ids
    assert sorted((line["channel"], line["to"]) for line in lines) == [
        ("EMAIL", "ada@example.com"),
        ("SMS", "+12125550101"),
    ]
    assert await raw_sql("SELECT DISTINCT gateway, outcome FROM notification_attempts") == [
        ("file", "SENT")
    ]
