"""Webhook events and signatures: pure rules."""

from __future__ import annotations

import inspect
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from app.domain.webhooks import (
    WebhookEventType,
    encode_body,
    event_from_customer_audit,
    signature_header,
    verify_signature,
)
from tests.webhook_receiver import verify

AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SECRET = "whsec_test"


def test_the_signature_header_signs_the_timestamp_and_the_body() -> None:
    body = encode_body({"b": 1, "a": [1, 2]})
    assert body == b'{"a":[1,2],"b":1}'
    now = int(time.time())
    header = signature_header(SECRET, now, body)
    assert header.startswith(f"t={now},v1=")
    assert verify_signature(SECRET, header, body, now)
    assert verify(SECRET, header, body)  # the README's snippet agrees
    assert not verify_signature("whsec_other", header, body, now)
    assert not verify_signature(SECRET, header, body + b" ", now)
    # Another timestamp with the same hex: the timestamp is part of what is signed.
    forged = header.replace(f"t={now}", f"t={now + 1}")
    assert not verify_signature(SECRET, forged, body, now)
    # An old delivery replayed later is refused.
    assert not verify_signature(SECRET, header, body, now + 301)
    assert not verify_signature(SECRET, "nonsense", body, now)
    assert not verify(SECRET, "nonsense", body)
    assert not verify(SECRET, "", body)
    assert not verify(SECRET, "t=abc,v1=00", body)


def test_the_readme_snippet_is_what_the_test_receiver_runs() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [block] = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "def verify" in b
    ]
    documented = block[block.index("def verify") :].strip()
    source = inspect.getsource(verify)
    tested = re.sub(r'\n    """[^\n]*"""', "", source).strip()
    assert tested == documented


def test_customer_audits_become_events_with_field_names_only() -> None:
    created = event_from_customer_audit("c1", "create", None, {"name": "Ada"}, AT)
    assert created is not None
    assert (created.type, created.data) == (WebhookEventType.CUSTOMER_CREATED, {"customerId": "c1"})

    updated = event_from_customer_audit(
        "c1", "update", {"name": "Ada", "email": None}, {"name": "Ada K", "email": "a@b.c"}, AT
    )
    assert updated is not None
    assert updated.data == {"customerId": "c1", "changedFields": ["email", "name"]}
    assert "Ada" not in repr(updated.body())

    reactivated = event_from_customer_audit(
        "c1", "set_status", {"status": "INACTIVE"}, {"status": "ACTIVE", "saleId": "s1"}, AT
    )
    assert reactivated is not None
    assert reactivated.data == {"customerId": "c1", "changedFields": ["status"]}

    consent = event_from_customer_audit(
        "c1", "consent", {"consentSms": "NOT_SUBSCRIBED"},
        {"consentSms": "SUBSCRIBED", "source": "POS"}, AT,
    )  # fmt: skip
    assert consent is not None
    assert consent.data == {
        "customerId": "c1",
        "channel": "SMS",
        "state": "SUBSCRIBED",
        "source": "POS",
    }


def test_imports_are_created_or_updated_and_other_actions_are_no_event() -> None:
    new = event_from_customer_audit("c1", "import", None, {"name": "X"}, AT)
    assert new is not None
    assert new.type is WebhookEventType.CUSTOMER_CREATED
    changed = event_from_customer_audit("c1", "import", {"name": "X"}, {"name": "Y"}, AT)
    assert changed is not None
    assert changed.type is WebhookEventType.CUSTOMER_UPDATED
    assert event_from_customer_audit("c1", "loyalty_card_issue", None, {"x": 1}, AT) is None
    assert event_from_customer_audit("c1", "points_earn", None, {"x": 1}, AT) is None


def test_the_body_names_the_event_once_for_every_endpoint() -> None:
    event = event_from_customer_audit("c1", "delete", {"name": "Ada"}, None, AT)
    assert event is not None
    body = event.body()
    assert body == {
        "id": str(event.id),
        "type": "customer.deleted",
        "createdAt": "2026-12-06T12:00:00+00:00",
        "data": {"customerId": "c1"},
    }
