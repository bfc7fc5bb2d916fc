"""Privacy requests (issue 13): the data export and the erasure of one customer.

The erasure test puts a canary (a name, numbers, an email and tax ids no other row has)
into every place a person's data can land, erases the customer, and then reads every
cell of every table in the database, and the notification file, for the canary.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect, text

from app.domain.permissions import Permission
from app.services.appointments import AppointmentCreate
from app.services.customer_merge import CustomerMergeService
from app.services.customers import AddressDraft, CustomerCreate, CustomerUpdate, PhoneDraft
from app.services.gateways import FileGateway, OutgoingMessage
from app.services.photos import PhotoService
from app.services.sale_reversals import SaleReversalService
from app.services.statutory import gstin_check_character
from app.services.store_sync import StoreSyncService
from app.services.webhooks.endpoints import WebhookEndpointService
from tests.uploads import picture

P = Permission
CANARY = "Zqxcanary7311"
OLD_NAME = "Zqxoldname7311"
PHONE = "+12125557311"
EXTRA_PHONE = "+12125557312"
MERGED_PHONE = "+12125557313"
EMAIL = "zqxcanary7311@example.com"
PAN = "ZQXPC7311K"
GSTIN = "27" + PAN + "1Z" + gstin_check_character("27" + PAN + "1Z")
REG_NO = "ZQXREG7311"
VAT_NO = "GB73117311731"
# What must be found nowhere once the customer is erased (compared lower-cased).
NEEDLES = (
    CANARY,
    OLD_NAME,
    "2125557311",
    "2125557312",
    "2125557313",
    "zqxcanary7311@",
    PAN,
    REG_NO,
    VAT_NO,
)

EXPORT = "mutation($id: ID!) { customerDataExport(id: $id) { document errors { code field } } }"
ERASE = (
    "mutation($id: ID!, $reason: String!) { customerErase(id: $id, reason: $reason) "
    "{ customer { id name phone email status } errors { code field message } } }"
)
SEARCH = "query($s: String!) { customers(search: $s) { totalCount edges { node { id } } } }"


@dataclass
class Person:
    id: uuid.UUID
    merged_id: uuid.UUID
    notification_id: uuid.UUID
    other_notification_id: uuid.UUID


async def _seed(factory: Any) -> Person:
    """One person, their data in every table a person's data can reach."""
    tx, settings = factory.runtime.tx, factory.settings
    customers = factory.customers()
    # A webhook endpoint for every customer event: its deliveries must hold no one.
    local = settings.model_copy(update={"webhook_allow_private": True})
    hook = await WebhookEndpointService(tx, local, None).create(
        "http://127.0.0.1:9/never",
        ["customer.created", "customer.updated", "customer.merged", "customer.erased"],
    )
    assert hook.value, hook.errors
    made = await customers.create(
        CustomerCreate(
            name=f"{OLD_NAME} Person",
            phone=PHONE,
            email=EMAIL,
            customer_code=f"{CANARY}-code",
            first_name=OLD_NAME,
            last_name="Person",
            birth_date=datetime(1980, 7, 31).date(),
            pan=PAN,
            gstin=GSTIN,
            state_code="27",
            reg_no=REG_NO,
            vat_no=VAT_NO,
            allow_credit_sale=True,
            credit_limit=Decimal("500.00"),
            remarks=f"Prefers {CANARY} brand",
            addresses=(AddressDraft(f"1 {CANARY} Street", f"Flat {CANARY}", "Pune", label="home"),),
            phones=(PhoneDraft(EXTRA_PHONE, label=f"{CANARY} work"),),
            email_marketing=True,
            sms_marketing=True,
            idempotency_key=f"till-{uuid.uuid4().hex[:8]}",
        )
    )
    assert made.value, made.errors
    person = made.value
    # An older name, then the current one: the audit trail holds both.
    updated = await customers.update(
        person.id,
        CustomerUpdate(expected_version=person.version, name=f"{CANARY} Person", first_name=CANARY),
    )
    assert updated.value, updated.errors
    # A duplicate record of the same person, merged into them.
    duplicate = await factory.customer(f"{CANARY} Duplicate", MERGED_PHONE, email=EMAIL)
    merged = await CustomerMergeService(tx, None).merge(duplicate.id, person.id)
    assert merged.value, merged.errors
    # An offline till's registration, matched to them: its answer is stored.
    head_office = await factory.head_office()
    synced = await StoreSyncService(tx, settings, None).sync_offline(
        head_office.id,
        [(uuid.uuid4(), CustomerCreate(name=f"{CANARY} Offline", phone=PHONE, email=EMAIL))],
    )
    assert synced.value, synced.errors
    assert synced.value[0].customer_id == person.id, synced
    photo = await PhotoService(tx, None).set(person.id, picture("PNG"))
    assert photo.value, photo.errors
    group = await factory.group(f"Regulars {uuid.uuid4().hex[:6]}")
    await factory.add_to_group(group.id, person.id)
    await factory.loyalty_card(person.id)
    await factory.product("TEA-7311", "5.00")
    await factory.completed_sale(person.id, [("TEA-7311", 2)], payment="CREDIT")
    kept = await factory.completed_sale(person.id, [("TEA-7311", 1)])
    voided = await factory.completed_sale(person.id, [("TEA-7311", 1)])
    void = await SaleReversalService(tx, None, factory.loyalty()).void(
        voided.id, f"{CANARY} changed their mind"
    )
    assert void.value, void.errors
    await factory.earn_points(person.id, 40, sale_id=kept.id)
    adjusted = await factory.loyalty().adjust(person.id, 5, f"sorry, {CANARY}")
    assert adjusted.value, adjusted.errors
    booked = await factory.appointments().create(
        AppointmentCreate(
            customer_id=person.id,
            service="Haircut",
            starts_at=datetime.now(UTC) + timedelta(days=2),
            note=f"{CANARY} is allergic to lavender",
        )
    )
    assert booked.value, booked.errors
    # A message that failed with the address echoed, and its copy in the file gateway.
    notification_id = await factory.notification(
        person.id, attempts=(("PERMANENT", f"550 {CANARY} no such user"),), status="FAILED"
    )
    other = await factory.customer("Someone Else", "+12125550999", email="else@example.com")
    other_notification_id = await factory.notification(other.id, status="SENT")
    gateway = FileGateway(settings.resolved_data_dir / settings.notification_outbox_file)
    for nid, to, name in (
        (notification_id, EMAIL, CANARY),
        (other_notification_id, "else@example.com", "Someone Else"),
    ):
        await gateway.send(OutgoingMessage(nid, "EMAIL", to, "Welcome", f"Hello {name}"))
    return Person(person.id, duplicate.id, notification_id, other_notification_id)


async def _every_cell(db: Any) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every cell of every table the database has."""
    cells: list[tuple[str, str, str]] = []
    async with db.read() as session:
        tables = await session.run_sync(lambda s: inspect(s.connection()).get_table_names())
        for table in tables:
            result = await session.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            columns = list(result.keys())
            for row in result.all():
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        cells.append((table, column, str(value)))
    return cells


def _found(cells: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [c for c in cells if any(n.lower() in c[2].lower() for n in NEEDLES)]


async def _books(raw_sql: Any, person: uuid.UUID) -> dict[str, Any]:
    """What the accounts need: sales and their totals, the points ledger, what is owed."""
    return {
        "sales": sorted(
            tuple(str(v) for v in r)
            for r in await raw_sql(
                "SELECT id, status, subtotal, discount_total, total, paid, payment,"
                " points_earned FROM sales"
            )
        ),
        "lines": sorted(
            tuple(str(v) for v in r)
            for r in await raw_sql(
                "SELECT sale_id, sku, quantity, unit_price, total FROM sale_lines"
            )
        ),
        "ledger": sorted(
            tuple(str(v) for v in r)
            for r in await raw_sql(
                "SELECT id, customer_id, kind, points, sale_id FROM loyalty_points_ledger"
            )
        ),
        "balances": sorted(
            tuple(str(v) for v in r)
            for r in await raw_sql("SELECT customer_id, points FROM loyalty_points_balances")
        ),
        "stats": sorted(
            tuple(str(v) for v in r)
            for r in await raw_sql(
                "SELECT customer_id, visits, spent_cents, credit_cents FROM customer_sales_stats"
            )
        ),
    }


@pytest.fixture
async def person(factory: Any) -> Person:
    return await _seed(factory)


async def test_erasure_leaves_the_canary_nowhere_and_the_books_intact(
    gql: Any, factory: Any, db: Any, raw_sql: Any, person: Person
) -> None:
    cells = await _every_cell(db)
    # The control: the canary is in all these tables before (so the search below can see).
    seeded = {table for table, _, _ in _found(cells)}
    assert {
        "customers",
        "customer_addresses",
        "customer_phones",
        "customer_name_words",
        "audit_entries",
        "loyalty_points_ledger",
        "sales",
        "appointments",
        "notifications",
        "notification_attempts",
        "offline_customers",
    } <= seeded, seeded
    books = await _books(raw_sql, person.id)
    token = await factory.token(P.CUSTOMER_DELETE, P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)

    body = await gql(ERASE, {"id": str(person.id), "reason": f"{CANARY} wrote in"}, token=token)

    payload = body["data"]["customerErase"]
    assert payload["errors"] == []
    assert payload["customer"] == {
        "id": str(person.id),
        "name": "Erased customer",
        "phone": f"erased:{person.id.hex[:13]}",
        "email": None,
        "status": "INACTIVE",
    }
    assert _found(await _every_cell(db)) == []
    assert await raw_sql("SELECT id FROM customer_photos") == []
    path = factory.settings.resolved_data_dir / factory.settings.notification_outbox_file
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert not any(n.lower() in json.dumps(lines).lower() for n in NEEDLES)
    by_id = {line["id"]: line for line in lines}
    assert by_id[str(person.notification_id)]["to"] == "[erased]"
    # Someone else's message is untouched.
    assert by_id[str(person.other_notification_id)]["to"] == "else@example.com"
    assert by_id[str(person.other_notification_id)]["body"] == "Hello Someone Else"
    assert await _books(raw_sql, person.id) == books
    # The erasure itself is on record: who, when, why (scrubbed of the name), no data.
    [(actor, after)] = await raw_sql(
        "SELECT actor_label, after FROM audit_entries WHERE action = 'erase'"
    )
    assert actor.startswith("user")
    after = after if isinstance(after, dict) else json.loads(after)
    assert after == {"reason": "[erased] wrote in", "erasedRecords": 2}
    events = [r[0] for r in await raw_sql("SELECT event FROM webhook_deliveries")]
    assert "customer.erased" in events
    # What they owe can still be paid off.
    paid = await gql(
        "mutation($c: ID!) { customerAccountPayment(customerId: $c, "
        'input: {amount: "9.50", payment: CASH}) { errors { code } } }',
        {"c": str(person.id)},
        token=await factory.token(*Permission),
    )
    assert paid["data"]["customerAccountPayment"]["errors"] == []


async def test_no_search_finds_the_erased_person_and_the_number_is_free(
    gql: Any, factory: Any, person: Person
) -> None:
    token = await factory.token(*Permission)
    terms = [CANARY, PHONE, "(212) 555-7311", "7311", "2125557312", EMAIL, "zqxcan", "person"]
    for term in terms:
        body = await gql(SEARCH, {"s": term}, token=token)
        assert body["data"]["customers"]["totalCount"] >= 1, (term, body)
    erased = await gql(ERASE, {"id": str(person.id), "reason": "asked"}, token=token)
    assert erased["data"]["customerErase"]["errors"] == []
    for term in [*terms, OLD_NAME, f"{CANARY}-code", "2125557313"]:
        body = await gql(SEARCH, {"s": term}, token=token)
        assert body["data"]["customers"]["totalCount"] == 0, (term, body)
    again = await factory.customers().create(CustomerCreate(name="New Owner", phone=PHONE))
    assert again.value, again.errors
    extra = await factory.customers().create(CustomerCreate(name="Other Owner", phone=EXTRA_PHONE))
    assert extra.value, extra.errors


async def test_erasure_needs_a_reason_and_changes_nothing_without_one(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    customer = await factory.customer(f"{CANARY} Person", PHONE)
    token = await factory.token(P.CUSTOMER_DELETE)
    before = await raw_sql("SELECT name, phone FROM customers")
    body = await gql(ERASE, {"id": str(customer.id), "reason": "  "}, token=token)
    assert [(e["code"], e["field"]) for e in body["data"]["customerErase"]["errors"]] == [
        ("REQUIRED", ["reason"])
    ]
    assert await raw_sql("SELECT name, phone FROM customers") == before
    refused = await gql(
        ERASE,
        {"id": str(customer.id), "reason": "asked"},
        token=await factory.token(P.CUSTOMER_VIEW),
    )
    assert [e["code"] for e in refused["data"]["customerErase"]["errors"]] == ["FORBIDDEN"]
    assert await raw_sql("SELECT name, phone FROM customers") == before


async def test_a_merged_record_is_erased_through_its_survivor(
    gql: Any, factory: Any, person: Person
) -> None:
    token = await factory.token(P.CUSTOMER_DELETE)
    body = await gql(ERASE, {"id": str(person.merged_id), "reason": "asked"}, token=token)
    assert [e["code"] for e in body["data"]["customerErase"]["errors"]] == ["CUSTOMER_MERGED"]


async def test_a_queued_message_to_the_person_is_not_sent(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    customer = await factory.customer(f"{CANARY} Person", PHONE, email=EMAIL)
    queued = await factory.notification(customer.id)
    token = await factory.token(P.CUSTOMER_DELETE)
    body = await gql(ERASE, {"id": str(customer.id), "reason": "asked"}, token=token)
    assert body["data"]["customerErase"]["errors"] == []
    [(status, error)] = [
        (status, error)
        for nid, status, error in await raw_sql("SELECT id, status, error FROM notifications")
        if uuid.UUID(str(nid)) == queued
    ]
    assert (status, error) == ("SKIPPED", "the customer was erased; nothing was sent")
    # Made active again, the record has no address a message could go to.
    await factory.set_status(customer.id, "ACTIVE")
    admin = await factory.token(*Permission)
    invited = await gql(
        "mutation($c: ID!) { customerAccountInvite(customerId: $c) { errors { code } } }",
        {"c": str(customer.id)},
        token=admin,
    )
    assert [e["code"] for e in invited["data"]["customerAccountInvite"]["errors"]] == [
        "NO_MESSAGE_CHANNEL"
    ]


# -- export ----------------------------------------------------------------------------


async def test_the_export_holds_every_section(gql: Any, factory: Any, person: Person) -> None:
    token = await factory.token(P.CUSTOMER_VIEW_PII)
    body = await gql(EXPORT, {"id": str(person.id)}, token=token)
    payload = body["data"]["customerDataExport"]
    assert payload["errors"] == []
    doc = payload["document"]
    assert doc["schemaVersion"] == 1
    assert doc["customerId"] == str(person.id)
    profile = doc["profile"]
    assert (profile["name"], profile["phone"], profile["email"]) == (
        f"{CANARY} Person",
        PHONE,
        EMAIL,
    )
    assert (profile["pan"], profile["gstin"], profile["regNo"], profile["vatNo"]) == (
        PAN,
        GSTIN,
        REG_NO,
        VAT_NO,
    )
    assert profile["remarks"] == f"Prefers {CANARY} brand"
    assert profile["birthDate"] == "1980-07-31"
    assert profile["creditLimit"] == "500.00"
    assert [a["line1"] for a in profile["addresses"]] == [f"1 {CANARY} Street"]
    # The extra number, and the merged record's number (the merge gave it to them).
    assert sorted(p["phone"] for p in profile["otherPhones"]) == [EXTRA_PHONE, MERGED_PHONE]
    assert next(g["name"] for g in profile["groups"]).startswith("Regulars")
    assert len(profile["loyaltyCards"]) == 1
    assert profile["photos"]
    for stored in profile["photos"]:
        assert stored["contentType"].startswith("image/")
        assert len(base64.b64decode(stored["data"])) > 100  # the picture itself
    assert "passwordHash" not in json.dumps(doc)
    assert "nameKey" not in json.dumps(doc)
    assert [m["name"] for m in doc["mergedRecords"]] == [f"{CANARY} Duplicate"]
    assert {(c["channel"], c["state"]) for c in doc["consentHistory"]} == {
        ("EMAIL", "SUBSCRIBED"),
        ("SMS", "SUBSCRIBED"),
    }
    assert str(person.notification_id) in [n["id"] for n in doc["notifications"]]
    assert doc["salesSummary"]["visits"] == 2
    # The card's 5 % off, and money as decimal strings.
    assert doc["salesSummary"]["totalSpent"] == "14.25"
    assert doc["salesSummary"]["creditOwed"] == "9.50"
    assert sorted(s["total"] for s in doc["sales"]) == ["4.75", "4.75", "9.50"]
    assert {s["status"] for s in doc["sales"]} == {"COMPLETED", "VOIDED"}
    assert all(line["sku"] == "TEA-7311" for s in doc["sales"] for line in s["lines"])
    assert [e["reason"] for e in doc["pointsLedger"] if e["kind"] == "ADJUST"] == [
        f"sorry, {CANARY}"
    ]
    assert doc["pointsBalance"] == sum(e["points"] for e in doc["pointsLedger"])
    assert [a["note"] for a in doc["appointments"]] == [f"{CANARY} is allergic to lavender"]
    actions = [e["action"] for e in doc["auditTrail"]]
    assert {"create", "update", "merge", "consent", "appointment_create"} <= set(actions)


async def test_the_export_is_audited_without_the_data(
    gql: Any, factory: Any, raw_sql: Any, person: Person
) -> None:
    username, token = await factory.staff(P.CUSTOMER_VIEW_PII)
    feed_before = await raw_sql("SELECT store_id, customer_id, seq FROM store_customers")
    body = await gql(EXPORT, {"id": str(person.id)}, token=token)
    assert body["data"]["customerDataExport"]["errors"] == []
    [(actor, after)] = await raw_sql(
        "SELECT actor_label, after FROM audit_entries WHERE action = 'data_export'"
    )
    assert actor == username
    after = after if isinstance(after, dict) else json.loads(after)
    assert after == {"schemaVersion": 1, "sales": 3}
    # Nothing about the customer changed: no store's feed is told.
    assert await raw_sql("SELECT store_id, customer_id, seq FROM store_customers") == feed_before


async def test_the_export_needs_customer_view_pii(gql: Any, factory: Any, raw_sql: Any) -> None:
    customer = await factory.customer()
    token = await factory.token(*(p for p in Permission if p is not P.CUSTOMER_VIEW_PII))
    body = await gql(EXPORT, {"id": str(customer.id)}, token=token)
    payload = body["data"]["customerDataExport"]
    assert payload["document"] is None
    assert [e["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    assert await raw_sql("SELECT action FROM audit_entries WHERE action = 'data_export'") == []


async def test_a_store_bound_caller_exports_and_erases_only_its_stores_customers(
    gql: Any, factory: Any
) -> None:
    dt, hb = await factory.store("DT"), await factory.store("HB")
    theirs = await factory.customer(home_store_id=dt.id)
    ours = await factory.customer(home_store_id=hb.id)
    everything = [p for p in Permission if p is not P.STORE_ALL]
    manager = await factory.token(*everything, store_id=hb.id)
    till = await factory.till(hb.id, *Permission)
    for token in (manager, till):
        refused = await gql(EXPORT, {"id": str(theirs.id)}, token=token)
        assert [e["code"] for e in refused["data"]["customerDataExport"]["errors"]] == ["FORBIDDEN"]
        allowed = await gql(EXPORT, {"id": str(ours.id)}, token=token)
        assert allowed["data"]["customerDataExport"]["errors"] == []
    refused = await gql(ERASE, {"id": str(theirs.id), "reason": "asked"}, token=manager)
    assert [e["code"] for e in refused["data"]["customerErase"]["errors"]] == ["FORBIDDEN"]
    # Downloading them to the store's till (one CUSTOMER_ADD call) does not open the door.
    downloaded = await gql(
        "mutation($c: ID!) { customerDownloadToStore(customerId: $c) { errors { code } } }",
        {"c": str(theirs.id)},
        token=till,
    )
    assert downloaded["data"]["customerDownloadToStore"]["errors"] == []
    for token in (manager, till):
        refused = await gql(EXPORT, {"id": str(theirs.id)}, token=token)
        assert [e["code"] for e in refused["data"]["customerDataExport"]["errors"]] == ["FORBIDDEN"]
    refused = await gql(ERASE, {"id": str(theirs.id), "reason": "asked"}, token=manager)
    assert [e["code"] for e in refused["data"]["customerErase"]["errors"]] == ["FORBIDDEN"]
    allowed = await gql(ERASE, {"id": str(ours.id), "reason": "asked"}, token=manager)
    assert allowed["data"]["customerErase"]["errors"] == []
    # A customer without a home store is the head office's.
    headless = await factory.customer()
    refused = await gql(EXPORT, {"id": str(headless.id)}, token=manager)
    assert [e["code"] for e in refused["data"]["customerDataExport"]["errors"]] == ["FORBIDDEN"]
    office = await factory.token(*everything, store_id=(await factory.head_office()).id)
    allowed = await gql(EXPORT, {"id": str(headless.id)}, token=office)
    assert allowed["data"]["customerDataExport"]["errors"] == []
    # A chain-wide caller (STORE_ALL) may for any customer.
    chain = await factory.token(*Permission, store_id=hb.id)
    other = await factory.customer(home_store_id=dt.id)
    assert (await gql(EXPORT, {"id": str(other.id)}, token=chain))["data"]["customerDataExport"][
        "errors"
    ] == []


async def test_a_late_retry_of_the_registration_does_not_bring_the_person_back(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    create = CustomerCreate(name=f"{CANARY} Person", phone=PHONE, idempotency_key="till1-0042")
    first = await factory.customers().create(create)
    assert first.value, first.errors
    assert (await factory.customers().create(create)).value == first.value  # a replay
    token = await factory.token(P.CUSTOMER_DELETE)
    body = await gql(ERASE, {"id": str(first.value.id), "reason": "asked"}, token=token)
    assert body["data"]["customerErase"]["errors"] == []
    retried = await factory.customers().create(create)
    assert [e.code.value for e in retried.errors] == ["IDEMPOTENCY_KEY_REUSED"]
    assert [r[0] for r in await raw_sql("SELECT name FROM customers")] == ["Erased customer"]


async def test_erasure_cuts_the_person_not_everyones_words(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    """Only a name is cut into words: a remark's and an address's words ("Sunday", "Main
    Road") are everyone's, and a staff member sharing the surname keeps their name."""
    customer = await factory.customer(
        "Asha Rao",
        "+12125557399",
        remarks="visits on Sunday",
        addresses=(AddressDraft("12 Main Road", None, "Pune"),),
    )
    await factory.product("TEA-7399", "5.00")
    sale = await factory.completed_sale(customer.id, [("TEA-7399", 1)])
    _, staff = await factory.staff(P.SALE_VOID, P.SALE_CREATE, username="ravi.rao")
    reason = "Sunday promo: main road store, Asha asked"
    voided = await gql(
        "mutation($s: ID!, $r: String) { saleVoid(saleId: $s, reason: $r) { errors { code } } }",
        {"s": str(sale.id), "r": reason},
        token=staff,
    )
    assert voided["data"]["saleVoid"]["errors"] == []

    body = await gql(
        ERASE,
        {"id": str(customer.id), "reason": "asked"},
        token=await factory.token(P.CUSTOMER_DELETE),
    )
    assert body["data"]["customerErase"]["errors"] == []

    [(kept_reason,)] = await raw_sql("SELECT void_reason FROM sales WHERE void_reason IS NOT NULL")
    assert kept_reason == "Sunday promo: main road store, [erased] asked"
    labels = {label for (label,) in await raw_sql("SELECT actor_label FROM audit_entries")}
    assert any("ravi.rao" in label for label in labels), labels


async def test_the_sales_audit_entries_are_scrubbed_chunk_by_chunk(
    gql: Any, factory: Any, raw_sql: Any, monkeypatch: Any
) -> None:
    """A customer with more sales than one IN list takes (ID_CHUNK, small here): every
    sale's audit entries are still read and scrubbed."""
    from app.db.repositories import customer_privacy as repository

    monkeypatch.setattr(repository, "ID_CHUNK", 2)
    customer = await factory.customer(f"{CANARY} Chunked", "+12125557398")
    await factory.product("TEA-7398", "5.00")
    reversals = SaleReversalService(factory.runtime.tx, None, factory.loyalty())
    for _ in range(5):
        sale = await factory.completed_sale(customer.id, [("TEA-7398", 1)])
        voided = await reversals.void(sale.id, f"{CANARY} changed their mind")
        assert voided.value, voided.errors
    body = await gql(
        ERASE,
        {"id": str(customer.id), "reason": "asked"},
        token=await factory.token(P.CUSTOMER_DELETE),
    )
    assert body["data"]["customerErase"]["errors"] == []
    rows = await raw_sql("SELECT before, after FROM audit_entries WHERE entity_type = 'sale'")
    assert len(rows) >= 5
    assert CANARY.lower() not in json.dumps([str(r) for r in rows]).lower()
