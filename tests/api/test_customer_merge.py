"""Likely duplicates, and customerMerge: everything moves, the merged record stays as a pointer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db.base import Base
from app.db.models import (
    CustomerDiscount,
    DiscountCode,
    LoyaltyCard,
    PointsBalance,
    PointsEntry,
    Sale,
)
from app.db.repositories.merge import FOLDED_TABLES, KEPT_TABLES
from app.domain.permissions import Permission as P
from app.services.customers import CustomerUpdate, PhoneDraft
from app.services.groups import GroupService
from app.services.store_sync import StoreSyncService
from tests.uploads import picture, set_photo

ALL = (
    P.CUSTOMER_VIEW,
    P.CUSTOMER_VIEW_PII,
    P.CUSTOMER_ADD,
    P.CUSTOMER_MODIFY,
    P.CUSTOMER_DELETE,
    P.AUDIT_VIEW,
)
CREATE = """
mutation($input: CustomerCreateInput!) {
  customerCreate(input: $input) {
    customer { id }
    duplicates { customer { id } reasons }
    errors { code }
  }
}"""
PHOTO = "query($id: ID!) { customer(id: $id) { photoUrl } }"
DUPLICATES = "query($id: ID!) { customerDuplicates(id: $id) { customer { id } reasons } }"
MERGE = """
mutation($s: ID!, $t: ID!) {
  customerMerge(sourceId: $s, targetId: $t) {
    customer { id otherPhones { phone } }
    errors { field code }
  }
}"""
READ = """
query($id: ID!) {
  customer(id: $id) {
    id status mergedIntoId
    groups { id }
    marketingConsent { email { state } history { channel state } }
    auditTrail(first: 50) { edges { node { action } } }
  }
}"""


@pytest.fixture
async def token(factory: Any) -> str:
    return str(await factory.token(*ALL))


async def test_likely_duplicates_are_reported_on_create_and_on_demand(
    gql: Any, token: str, factory: Any
) -> None:
    jon = await factory.customer(name="Jon Smith", birth_date=datetime(1980, 5, 17).date())
    eve = await factory.customer(name="Eve Adams", email="eve@example.com")
    await factory.customer(name="John Smith", birth_date=datetime(1981, 5, 17).date())
    body = await gql(
        CREATE,
        {
            "input": {
                "name": "John Smith",
                "phone": "+12125550100",
                "birthDate": "1980-05-17",
                "email": "EVE@example.com",
            }
        },
        token=token,
    )
    payload = body["data"]["customerCreate"]
    assert payload["errors"] == []
    assert sorted((d["customer"]["id"], d["reasons"][0]) for d in payload["duplicates"]) == sorted(
        [
            (str(jon.id), "SIMILAR_NAME_SAME_BIRTH_DATE"),
            (str(eve.id), "SAME_EMAIL"),
        ]
    )
    again = await gql(DUPLICATES, {"id": str(jon.id)}, token=token)
    assert again["data"]["customerDuplicates"] == [
        {"customer": {"id": payload["customer"]["id"]}, "reasons": ["SIMILAR_NAME_SAME_BIRTH_DATE"]}
    ]


async def _programs(runtime: Any, customer_id: uuid.UUID, card: str, points: int) -> None:
    """Loyalty and discount rows, written as their services would."""
    now = datetime.now(UTC)
    async with runtime.db.write() as session:
        session.add(LoyaltyCard(customer_id=customer_id, card_number=card, issued_by="test"))
        session.add(PointsBalance(customer_id=customer_id, points=points, updated_at=now))
        session.add(
            PointsEntry(customer_id=customer_id, kind="EARN", points=points, actor_label="test")
        )


async def test_a_merge_moves_everything_and_leaves_a_pointer(
    gql: Any, token: str, factory: Any, runtime: Any, raw_sql: Any
) -> None:
    store = await factory.store()
    source = await factory.customer(name="Ann Lee", email="ann@example.com", home_store_id=store.id)
    target = await factory.customer(name="Ann Lee", email="ann.lee@example.com")
    extra = await factory.customers(None).update(
        source.id, CustomerUpdate(expected_version=1, phones=(PhoneDraft("+13055550177"),))
    )
    assert extra.ok, extra.errors
    await factory.sale(source.id)
    await _programs(runtime, source.id, "CARD-OLD", 120)
    await _programs(runtime, target.id, "CARD-NEW", 30)
    async with runtime.db.write() as session:
        code = DiscountCode(code="VIP", code_key="VIP", percent=Decimal("10.00"))
        session.add(code)
        await session.flush()
        session.add(
            CustomerDiscount(customer_id=source.id, discount_code_id=code.id, assigned_by="t")
        )
    group = await GroupService(runtime.tx, None).create("Regulars", None, None)
    assert group.value
    await GroupService(runtime.tx, None).change_members(group.value.id, [source.id], add=True)
    consent = """mutation($id: ID!) { marketingConsentUpdate(customerId: $id, channel: EMAIL,
      subscribed: true) { errors { code } } }"""
    await gql(consent, {"id": str(source.id)}, token=token)

    body = await gql(MERGE, {"s": str(source.id), "t": str(target.id)}, token=token)
    payload = body["data"]["customerMerge"]
    assert payload["errors"] == []
    assert payload["customer"]["otherPhones"] == [
        {"phone": "+13055550177"},
        {"phone": source.phone},  # the merged customer's main number
    ]

    async def value(stmt: Any) -> Any:
        async with runtime.db.read() as session:
            return await session.scalar(stmt)

    for model in (Sale, PointsEntry, CustomerDiscount):
        moved = select(func.count()).where(model.customer_id == source.id)
        assert await value(moved) == 0, model
    assert await value(select(func.count()).where(Sale.customer_id == target.id)) == 1
    balance = select(PointsBalance.points).where(PointsBalance.customer_id == target.id)
    assert await value(balance) == 150
    ledger = select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == target.id)
    assert await value(ledger) == 150
    # The survivor keeps its own card; the merged one's number stops working.
    cards = await raw_sql("SELECT card_number, status FROM loyalty_cards ORDER BY card_number")
    assert [tuple(c) for c in cards] == [("CARD-NEW", "ACTIVE"), ("CARD-OLD", "REPLACED")]
    discount = select(func.count()).where(CustomerDiscount.customer_id == target.id)
    assert await value(discount) == 1

    merged = (await gql(READ, {"id": str(target.id)}, token=token))["data"]["customer"]
    assert merged["groups"] == [{"id": str(group.value.id)}]
    assert merged["marketingConsent"]["email"]["state"] == "SUBSCRIBED"
    assert merged["marketingConsent"]["history"] == [{"channel": "EMAIL", "state": "SUBSCRIBED"}]
    actions = [e["node"]["action"] for e in merged["auditTrail"]["edges"]]
    # The merged customer's own history (its creation, its consent) moved with it.
    assert actions[0] == "merge"
    assert actions.count("create") == 2
    assert "consent" in actions

    pointer = (await gql(READ, {"id": str(source.id)}, token=token))["data"]["customer"]
    assert (pointer["status"], pointer["mergedIntoId"]) == ("MERGED", str(target.id))
    assert [e["node"]["action"] for e in pointer["auditTrail"]["edges"]] == ["merged_into"]
    # Search no longer offers the pointer; the survivor is found by the moved number.
    found = await gql(
        'query { customers(search: "Ann Lee") { edges { node { id } } } }', token=token
    )
    assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [str(target.id)]
    found = await gql(
        'query { customers(search: "3055550177") { edges { node { id } } } }', token=token
    )
    assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [str(target.id)]
    found = await gql(
        "query($q: String!) { customers(search: $q) { edges { node { id } } } }",
        {"q": source.phone},
        token=token,
    )
    assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [str(target.id)]
    # The source's store learns of the merge and now holds the survivor.
    feed = await StoreSyncService(runtime.tx, runtime.settings, None).changes(store.id, None, 50)
    kinds = {(c.customer_id, c.kind.value) for c in feed.changes}
    assert {(source.id, "MERGED"), (target.id, "CHANGED")} <= kinds


@pytest.mark.parametrize("case", ["self", "merged_source", "merged_target", "unknown"])
async def test_a_refused_merge_changes_nothing(
    gql: Any, token: str, factory: Any, raw_sql: Any, case: str
) -> None:
    a = await factory.customer()
    b = await factory.customer()
    c = await factory.customer()
    await gql(MERGE, {"s": str(c.id), "t": str(b.id)}, token=token)
    source, target, code, field = {
        "self": (a.id, a.id, "INVALID", "sourceId"),
        "merged_source": (c.id, a.id, "CUSTOMER_MERGED", "sourceId"),
        "merged_target": (a.id, c.id, "CUSTOMER_MERGED", "targetId"),
        "unknown": (uuid.uuid4(), a.id, "NOT_FOUND", "sourceId"),
    }[case]
    before = await raw_sql("SELECT id, status, version, merged_into_id FROM customers ORDER BY id")
    body = await gql(MERGE, {"s": str(source), "t": str(target)}, token=token)
    assert body["data"]["customerMerge"]["errors"] == [{"field": [field], "code": code}]
    after = await raw_sql("SELECT id, status, version, merged_into_id FROM customers ORDER BY id")
    assert after == before


async def test_a_merged_customer_cannot_be_changed_or_downloaded(
    gql: Any, token: str, factory: Any
) -> None:
    a = await factory.customer()
    b = await factory.customer()
    await gql(MERGE, {"s": str(a.id), "t": str(b.id)}, token=token)
    update = """mutation($id: ID!) { customerUpdate(id: $id, input: {expectedVersion: 2,
      name: "X"}) { errors { code } } }"""
    body = await gql(update, {"id": str(a.id)}, token=token)
    assert [e["code"] for e in body["data"]["customerUpdate"]["errors"]] == ["CUSTOMER_MERGED"]
    status = """mutation($id: ID!, $s: CustomerStatus!) { customerSetStatus(id: $id, status: $s)
      { errors { code } } }"""
    body = await gql(status, {"id": str(b.id), "s": "MERGED"}, token=token)
    assert [e["code"] for e in body["data"]["customerSetStatus"]["errors"]] == ["INVALID"]
    store = await factory.store()
    download = """mutation($id: ID!, $s: ID) { customerDownloadToStore(customerId: $id, storeId: $s)
      { errors { code } } }"""
    body = await gql(download, {"id": str(a.id), "s": str(store.id)}, token=token)
    assert [e["code"] for e in body["data"]["customerDownloadToStore"]["errors"]] == [
        "CUSTOMER_MERGED"
    ]


async def test_a_merge_moves_the_appointment_history_to_the_survivor(
    gql: Any, token: str, factory: Any
) -> None:
    source, target = await factory.customer(), await factory.customer()
    now = datetime.now(UTC)
    theirs = await factory.appointment(source.id, now + timedelta(days=2), service="Theirs")
    ours = await factory.appointment(target.id, now + timedelta(days=1), service="Ours")
    body = await gql(MERGE, {"s": str(source.id), "t": str(target.id)}, token=token)
    assert body["data"]["customerMerge"]["errors"] == []

    history = """query($id: ID!) { customer(id: $id) { appointments {
      totalCount edges { node { id customer { id } } } } } }"""
    merged = (await gql(history, {"id": str(target.id)}, token=token))["data"]["customer"]
    assert merged["appointments"]["totalCount"] == 2
    assert [e["node"] for e in merged["appointments"]["edges"]] == [
        {"id": str(theirs.id), "customer": {"id": str(target.id)}},
        {"id": str(ours.id), "customer": {"id": str(target.id)}},
    ]
    pointer = (await gql(history, {"id": str(source.id)}, token=token))["data"]["customer"]
    assert pointer["appointments"]["totalCount"] == 0
    trail = (await gql(READ, {"id": str(target.id)}, token=token))["data"]["customer"]
    assert "appointment_create" in [e["node"]["action"] for e in trail["auditTrail"]["edges"]]


def test_every_table_pointing_at_customers_is_handled_by_merge() -> None:
    pointing = {
        table.name
        for table in Base.metadata.sorted_tables
        if "customer_id" in table.columns
        or any(fk.column.table.name == "customers" for fk in table.foreign_keys)
    } - {"customers"}
    # The audit trail names its customer in entity_id, not customer_id.
    assert pointing | {"audit_entries"} == FOLDED_TABLES | KEPT_TABLES


async def test_the_survivor_takes_the_merged_ones_photo_unless_it_has_its_own(
    gql: Any, client: Any, token: str, factory: Any, raw_sql: Any
) -> None:
    async def owners() -> dict[str, int]:
        rows = await raw_sql("SELECT customer_id, size FROM customer_photos")
        counted: dict[str, int] = {}
        for customer_id, _size in rows:
            key = str(uuid.UUID(str(customer_id)))
            counted[key] = counted.get(key, 0) + 1
        return counted

    source, target = await factory.customer(), await factory.customer()
    await set_photo(client, str(source.id), picture("PNG"), token)
    body = await gql(MERGE, {"s": str(source.id), "t": str(target.id)}, token=token)
    assert body["data"]["customerMerge"]["errors"] == []
    assert await owners() == {str(target.id): 2}

    # A survivor with a picture keeps it; the merged one's is not left behind unseen.
    other = await factory.customer()
    await set_photo(client, str(other.id), picture("JPEG"), token)
    kept = (await gql(PHOTO, {"id": str(target.id)}, token=token))["data"]["customer"]
    body = await gql(MERGE, {"s": str(other.id), "t": str(target.id)}, token=token)
    assert body["data"]["customerMerge"]["errors"] == []
    assert await owners() == {str(target.id): 2}
    after = (await gql(PHOTO, {"id": str(target.id)}, token=token))["data"]["customer"]
    assert after == kept
