"""Webhook endpoints through GraphQL: create, list, update, rotate, delete, and the URL checks.

No test here resolves a public name: refused URLs are literal addresses or 'localhost',
and accepted ones a literal public address that saving never connects to.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission

PUBLIC_URL = "https://93.184.215.14/poscrm/hooks"
FIELDS = "id url events secret isActive disabledReason consecutiveFailures createdAt"
CREATE = (
    "mutation($i: WebhookEndpointInput!) { webhookEndpointCreate(input: $i) "
    f"{{ webhookEndpoint {{ {FIELDS} }} errors {{ code field message }} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $i: WebhookEndpointUpdateInput!) { webhookEndpointUpdate(id: $id, "
    f"input: $i) {{ webhookEndpoint {{ {FIELDS} }} errors {{ code field message }} }} }}"
)
DELETE = "mutation($id: ID!) { webhookEndpointDelete(id: $id) { deletedId errors { code field } } }"
LIST = f"{{ webhookEndpoints {{ {FIELDS} }} }}"


@pytest.fixture
async def token(factory: Any) -> str:
    return await factory.token(Permission.WEBHOOK_MANAGE)  # type: ignore[no-any-return]


async def create(gql: Any, token: str, url: str, events: list[str]) -> dict[str, Any]:
    body = await gql(CREATE, {"i": {"url": url, "events": events}}, token=token)
    payload: dict[str, Any] = body["data"]["webhookEndpointCreate"]
    return payload


async def test_the_secret_is_shown_once_at_creation(gql, token, raw_sql) -> None:
    made = await create(gql, token, PUBLIC_URL, ["sale.completed", "customer.created"])
    assert made["errors"] == []
    endpoint = made["webhookEndpoint"]
    assert endpoint["url"] == PUBLIC_URL
    # In the events' own order, whatever the order asked in.
    assert endpoint["events"] == ["customer.created", "sale.completed"]
    assert endpoint["secret"].startswith("whsec_")
    assert len(endpoint["secret"]) > 40
    assert (endpoint["isActive"], endpoint["disabledReason"], endpoint["consecutiveFailures"]) == (
        True,
        None,
        0,
    )

    [listed] = (await gql(LIST, token=token))["data"]["webhookEndpoints"]
    assert listed == {**endpoint, "secret": None}

    # Audited, without the secret.
    rows = await raw_sql("SELECT entity_type, action, after FROM audit_entries")
    assert ("webhook_endpoint", "create") in [(t, a) for t, a, _ in rows]
    assert endpoint["secret"] not in repr(rows)


async def test_a_rotation_shows_the_new_secret_once(gql, token) -> None:
    made = (await create(gql, token, PUBLIC_URL, ["sale.completed"]))["webhookEndpoint"]
    rotated = await gql(UPDATE, {"id": made["id"], "i": {"rotateSecret": True}}, token=token)
    new = rotated["data"]["webhookEndpointUpdate"]["webhookEndpoint"]
    assert new["secret"].startswith("whsec_")
    assert new["secret"] != made["secret"]
    plain = await gql(UPDATE, {"id": made["id"], "i": {"events": ["sale.voided"]}}, token=token)
    changed = plain["data"]["webhookEndpointUpdate"]
    assert changed["errors"] == []
    assert changed["webhookEndpoint"]["events"] == ["sale.voided"]
    assert changed["webhookEndpoint"]["secret"] is None


async def test_turning_an_endpoint_off_says_who_did(gql, token) -> None:
    made = (await create(gql, token, PUBLIC_URL, ["sale.completed"]))["webhookEndpoint"]
    off = await gql(UPDATE, {"id": made["id"], "i": {"isActive": False}}, token=token)
    endpoint = off["data"]["webhookEndpointUpdate"]["webhookEndpoint"]
    assert endpoint["isActive"] is False
    assert endpoint["disabledReason"].startswith("turned off by ")


async def test_delete_and_unknown_ids(gql, token, raw_sql) -> None:
    made = (await create(gql, token, PUBLIC_URL, ["sale.completed"]))["webhookEndpoint"]
    gone = await gql(DELETE, {"id": made["id"]}, token=token)
    assert gone["data"]["webhookEndpointDelete"] == {"deletedId": made["id"], "errors": []}
    assert (await gql(LIST, token=token))["data"]["webhookEndpoints"] == []
    again = await gql(DELETE, {"id": made["id"]}, token=token)
    assert again["data"]["webhookEndpointDelete"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["id"]}
    ]
    update = await gql(UPDATE, {"id": "not-an-id", "i": {"isActive": True}}, token=token)
    assert [e["code"] for e in update["data"]["webhookEndpointUpdate"]["errors"]] == ["NOT_FOUND"]


async def test_events_must_be_known_and_at_least_one(gql, token, raw_sql) -> None:
    unknown = await create(gql, token, PUBLIC_URL, ["sale.completed", "customer.birthday"])
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [
        ("INVALID", ["input", "events", "1"])
    ]
    none = await create(gql, token, PUBLIC_URL, [])
    assert [(e["code"], e["field"]) for e in none["errors"]] == [("REQUIRED", ["input", "events"])]
    assert await raw_sql("SELECT count(*) FROM webhook_endpoints") == [(0,)]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/hooks",
        "file:///etc/passwd",
        "gopher://93.184.215.14/",
        "https://user:secret@93.184.215.14/hooks",
        "not a url",
        "https:///no-host",
        "http://93.184.215.14:0/",
        "https://93.184.215.14/" + "x" * 2000,
    ],
)
async def test_only_plain_http_and_https_urls(gql, token, raw_sql, url: str) -> None:
    refused = await create(gql, token, url, ["sale.completed"])
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID", ["input", "url"])]
    assert refused["webhookEndpoint"] is None
    assert await raw_sql("SELECT count(*) FROM webhook_endpoints") == [(0,)]


PRIVATE_URLS = [
    "http://127.0.0.1/hooks",
    "http://127.1.2.3:8080/",
    "http://10.0.0.5/hooks",
    "http://172.16.3.4/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:8000/",
    "http://[::1]/hooks",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::ffff:10.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",
    "http://localhost:8080/hooks",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
async def test_private_addresses_are_refused_at_creation(gql, token, raw_sql, url: str) -> None:
    refused = await create(gql, token, url, ["sale.completed"])
    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("WEBHOOK_URL_NOT_ALLOWED", ["input", "url"])
    assert "Not allowed" in error["message"]
    assert await raw_sql("SELECT count(*) FROM webhook_endpoints") == [(0,)]


async def test_a_private_url_is_refused_on_update_too(gql, token) -> None:
    made = (await create(gql, token, PUBLIC_URL, ["sale.completed"]))["webhookEndpoint"]
    moved = await gql(
        UPDATE, {"id": made["id"], "i": {"url": "http://169.254.169.254/"}}, token=token
    )
    errors = moved["data"]["webhookEndpointUpdate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("WEBHOOK_URL_NOT_ALLOWED", ["input", "url"])
    ]
    [listed] = (await gql(LIST, token=token))["data"]["webhookEndpoints"]
    assert listed["url"] == PUBLIC_URL


async def test_allow_private_lets_a_self_hosted_integration_in(
    gql, token, runtime, monkeypatch
) -> None:
    monkeypatch.setattr(runtime.settings, "webhook_allow_private", True)
    made = await create(gql, token, "http://127.0.0.1:9/hooks", ["sale.completed"])
    assert made["errors"] == []
    # The scheme rule stays: allowing private addresses allows nothing else.
    assert [
        e["code"]
        for e in (await create(gql, token, "ftp://127.0.0.1/", ["sale.completed"]))["errors"]
    ] == ["INVALID"]


async def test_listing_needs_webhook_manage(gql, factory) -> None:
    token = await factory.token(*(p for p in Permission if p is not Permission.WEBHOOK_MANAGE))
    body = await gql(LIST, token=token)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
