"""Store sync: a store's set, its change feed through offline/online cycles, offline creates."""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest

from app.db.repositories.paging import number_cursor
from app.db.repositories.sync import SyncRepository
from app.domain.permissions import Permission as P
from app.domain.sales import PaymentMethod
from app.services.customers import CustomerUpdate
from app.services.groups import GroupChange, GroupService
from app.services.loyalty import LoyaltyService
from app.services.sales import LineDraft, SaleCompletion, SaleCreate, SaleService
from app.services.store_sync import StoreSyncService
from app.services.unit_of_work import UnitOfWork
from tests.conftest import BACKEND

TILL = (P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII, P.CUSTOMER_ADD, P.CUSTOMER_MODIFY)
FEED = """
query($store: ID, $after: String, $first: Int) {
  customerChanges(storeId: $store, after: $after, first: $first) {
    changes { kind customerId mergedIntoId customer { id name phone status version } }
    endCursor hasMore
  }
}"""
CREATE = """
mutation($input: CustomerCreateInput!) {
  customerCreate(input: $input) { customer { id version } errors { code } }
}"""
UPDATE = """
mutation($id: ID!, $input: CustomerUpdateInput!) {
  customerUpdate(id: $id, input: $input) { customer { id version } errors { code } }
}"""
STATUS = """
mutation($id: ID!, $status: CustomerStatus!) {
  customerSetStatus(id: $id, status: $status) { customer { id } errors { code } }
}"""
DELETE = "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code } } }"
DOWNLOAD = """
mutation($id: ID!, $store: ID) {
  customerDownloadToStore(customerId: $id, storeId: $store) { customer { id } errors { code } }
}"""
OFFLINE = """
mutation($customers: [OfflineCustomerInput!]!) {
  customerSyncOffline(customers: $customers) {
    results { clientId status customerId candidateIds reason }
    errors { field code }
  }
}"""
CONFLICTS = "query { offlineCustomerConflicts { clientId reason candidateIds submitted } }"
RESOLVE = """
mutation($client: ID!, $customer: ID!) {
  offlineCustomerResolve(clientId: $client, customerId: $customer) {
    results { status customerId } errors { code }
  }
}"""
HELD = "query($q: String!) { customers(search: $q) { totalCount } }"


class Till:
    """A till's local copy, kept only through the feed, as a real till would."""

    def __init__(self, gql: Any, token: str) -> None:
        self.gql = gql
        self.token = token
        self.cursor: str | None = None
        self.customers: dict[str, dict[str, Any]] = {}
        self.applied: list[str] = []

    async def sync(self, first: int = 3) -> None:
        while True:
            body = await self.gql(FEED, {"after": self.cursor, "first": first}, token=self.token)
            assert "errors" not in body, body
            page = body["data"]["customerChanges"]
            for change in page["changes"]:
                self.applied.append(change["customerId"])
                if change["kind"] == "CHANGED":
                    self.customers[change["customerId"]] = change["customer"]
                else:
                    self.customers.pop(change["customerId"], None)
            self.cursor = page["endCursor"]
            if not page["hasMore"]:
                return


@pytest.fixture
async def stores(factory: Any) -> tuple[Any, Any]:
    return await factory.store(), await factory.store()


async def server_copy(gql: Any, token: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    query = "query($id: ID!) { customer(id: $id) { id name phone status version } }"
    found = {}
    for customer_id in ids:
        customer = (await gql(query, {"id": customer_id}, token=token))["data"]["customer"]
        if customer is not None:
            found[customer_id] = customer
    return found


async def test_offline_online_cycles_leave_the_till_equal_to_the_server(
    gql: Any, factory: Any, stores: tuple[Any, Any]
) -> None:
    here, elsewhere = stores
    till = Till(gql, await factory.till(here.id, *TILL))
    office = await factory.token(*TILL, P.CUSTOMER_DELETE)
    rng = random.Random(7)  # noqa: S311  (a reproducible test scenario, not a secret)
    ours: set[str] = set()
    n = 0
    for _cycle in range(6):
        # While the till is offline, the back office creates, edits, deactivates, deletes.
        for _ in range(rng.randint(2, 6)):
            action = rng.choice(["create", "create", "edit", "status", "delete", "other"])
            if action in ("create", "other") or not ours:
                n += 1
                store = elsewhere if action == "other" else here
                made = await gql(
                    CREATE,
                    {
                        "input": {
                            "name": f"C{n}",
                            "phone": f"+1212555{n:04d}",
                            "homeStoreId": str(store.id),
                        }
                    },
                    token=office,
                )
                if store is here:
                    ours.add(made["data"]["customerCreate"]["customer"]["id"])
                continue
            target = rng.choice(sorted(ours))
            current = (await server_copy(gql, office, {target}))[target]
            if action == "edit":
                await gql(
                    UPDATE,
                    {
                        "id": target,
                        "input": {"expectedVersion": current["version"], "name": f"E{n}"},
                    },
                    token=office,
                )
            elif action == "status":
                status = "INACTIVE" if current["status"] == "ACTIVE" else "ACTIVE"
                await gql(STATUS, {"id": target, "status": status}, token=office)
            else:
                await gql(DELETE, {"id": target}, token=office)
                ours.discard(target)
        applied_before = len(till.applied)
        await till.sync()
        assert till.customers == await server_copy(gql, office, ours)
        # Each customer arrives at most once per sync: the feed holds its latest state only.
        new = till.applied[applied_before:]
        assert len(new) == len(set(new))
    # Nothing more to tell: a sync now is empty and keeps the cursor.
    cursor = till.cursor
    await till.sync()
    assert till.cursor == cursor


async def test_a_store_sees_only_its_own_set_until_it_downloads(
    gql: Any, factory: Any, stores: tuple[Any, Any]
) -> None:
    here, elsewhere = stores
    till = Till(gql, await factory.till(here.id, *TILL))
    theirs = await factory.customer(home_store_id=elsewhere.id)
    await till.sync()
    assert till.customers == {}
    # Seed 001: search on the web (across all stores), then download to the store.
    assert (await gql(HELD, {"q": theirs.phone}, token=till.token))["data"]["customers"][
        "totalCount"
    ] == 1
    body = await gql(DOWNLOAD, {"id": str(theirs.id)}, token=till.token)
    assert body["data"]["customerDownloadToStore"]["errors"] == []
    await till.sync()
    assert set(till.customers) == {str(theirs.id)}
    # Later changes made anywhere reach the store that downloaded the customer.
    office = await factory.token(*TILL)
    await gql(
        UPDATE, {"id": str(theirs.id), "input": {"expectedVersion": 1, "name": "New"}}, token=office
    )
    await till.sync()
    assert till.customers[str(theirs.id)]["name"] == "New"
    # Downloading again adds nothing new to the feed.
    await gql(DOWNLOAD, {"id": str(theirs.id)}, token=till.token)
    before = len(till.applied)
    await till.sync()
    assert len(till.applied) == before


async def test_a_till_reads_and_fills_only_its_own_store(
    gql: Any, factory: Any, stores: tuple[Any, Any]
) -> None:
    here, elsewhere = stores
    token = await factory.till(here.id, *TILL)
    body = await gql(FEED, {"store": str(elsewhere.id)}, token=token)
    assert body["data"] is None or body["data"]["customerChanges"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    customer = await factory.customer(home_store_id=here.id)
    body = await gql(DOWNLOAD, {"id": str(customer.id), "store": str(elsewhere.id)}, token=token)
    assert [e["code"] for e in body["data"]["customerDownloadToStore"]["errors"]] == ["FORBIDDEN"]


async def test_a_malformed_cursor_is_a_clear_error(gql: Any, factory: Any, stores: Any) -> None:
    token = await factory.till(stores[0].id, *TILL)
    body = await gql(FEED, {"after": "not-a-cursor"}, token=token)
    assert body["errors"][0]["message"] == "malformed cursor"


def offline(client_id: str, **customer: Any) -> dict[str, Any]:
    return {"clientId": client_id, "customer": customer}


async def test_offline_customers_are_created_matched_or_kept_as_conflicts(
    gql: Any, factory: Any, stores: tuple[Any, Any], raw_sql: Any
) -> None:
    here, _ = stores
    token = await factory.till(here.id, *TILL)
    by_phone = await factory.customer(phone="+12125550101")
    by_email = await factory.customer(phone="+12125550102", email="eve@example.com")
    new_id, match_id, conflict_id, bad_id = (str(uuid.uuid4()) for _ in range(4))
    batch = [
        offline(new_id, name="Nia", phone="+1 646 555 0199"),
        offline(match_id, name="Ann B.", phone="(212) 555-0101"),
        offline(conflict_id, name="Mix", phone="+12125550101", email="EVE@example.com"),
        offline(bad_id, name="Bad", phone="12"),
    ]
    body = await gql(OFFLINE, {"customers": batch}, token=token)
    results = {r["clientId"]: r for r in body["data"]["customerSyncOffline"]["results"]}
    assert results[new_id]["status"] == "CREATED"
    assert results[new_id]["customerId"] == new_id  # the till keeps its own id
    assert (results[match_id]["status"], results[match_id]["customerId"]) == (
        "MATCHED",
        str(by_phone.id),
    )
    assert results[conflict_id]["status"] == "CONFLICT"
    assert sorted(results[conflict_id]["candidateIds"]) == sorted(
        [str(by_phone.id), str(by_email.id)]
    )
    assert results[bad_id]["status"] == "CONFLICT"
    assert "PHONE_INVALID" in results[bad_id]["reason"]
    # Resending the batch (a dropped connection) answers the same and creates nothing more.
    again = await gql(OFFLINE, {"customers": batch}, token=token)
    assert {r["clientId"]: r for r in again["data"]["customerSyncOffline"]["results"]} == results
    assert (await raw_sql("SELECT COUNT(*) FROM customers"))[0][0] == 3
    # The matched customer joins the store's set so the till gets their updates.
    till = Till(gql, token)
    await till.sync()
    assert {new_id, str(by_phone.id)} <= set(till.customers)
    # A manager resolves the conflict; the till's next resend learns the customer to use.
    manager = await factory.token(P.CUSTOMER_MODIFY, P.CUSTOMER_VIEW_PII)
    open_ = (await gql(CONFLICTS, token=manager))["data"]["offlineCustomerConflicts"]
    assert {c["clientId"] for c in open_} == {conflict_id, bad_id}
    assert (
        next(c for c in open_ if c["clientId"] == conflict_id)["submitted"]["email"]
        == "EVE@example.com"
    )
    # Without CUSTOMER_VIEW_PII neither what was sent nor the reason (it may quote it) shows.
    clerk = await factory.token(P.CUSTOMER_MODIFY)
    masked = await gql(CONFLICTS, token=clerk)
    bad = next(c for c in masked["data"]["offlineCustomerConflicts"] if c["clientId"] == bad_id)
    assert (bad["reason"], bad["submitted"]) == (None, None)
    body = await gql(RESOLVE, {"client": conflict_id, "customer": str(by_email.id)}, token=manager)
    assert body["data"]["offlineCustomerResolve"]["errors"] == []
    again = await gql(OFFLINE, {"customers": batch[2:3]}, token=token)
    assert again["data"]["customerSyncOffline"]["results"][0] | {
        "candidateIds": None,
        "reason": None,
    } == {
        "clientId": conflict_id,
        "status": "MATCHED",
        "customerId": str(by_email.id),
        "candidateIds": None,
        "reason": None,
    }
    body = await gql(RESOLVE, {"client": conflict_id, "customer": str(by_email.id)}, token=manager)
    assert [e["code"] for e in body["data"]["offlineCustomerResolve"]["errors"]] == ["NOT_FOUND"]


async def test_a_customer_created_offline_is_invited_like_one_created_online(
    gql: Any, factory: Any, stores: tuple[Any, Any], raw_sql: Any
) -> None:
    here, _ = stores
    token = await factory.till(here.id, *TILL)
    client_id = str(uuid.uuid4())
    batch = [offline(client_id, name="Ola", phone="+1 646 555 0177", email="ola@example.com")]
    body = await gql(OFFLINE, {"customers": batch}, token=token)
    assert body["data"]["customerSyncOffline"]["results"][0]["status"] == "CREATED"
    assert await raw_sql("SELECT channel, scenario, status FROM notifications") == [
        ("EMAIL", "REGISTRATION", "QUEUED")
    ]
    assert await raw_sql("SELECT state FROM online_accounts") == [("INVITED",)]
    # The batch again (a dropped connection): matched, not invited twice.
    await gql(OFFLINE, {"customers": batch}, token=token)
    assert await raw_sql("SELECT count(*) FROM notifications") == [(1,)]


async def test_a_malformed_client_id_is_refused(gql: Any, factory: Any, stores: Any) -> None:
    token = await factory.till(stores[0].id, *TILL)
    body = await gql(
        OFFLINE, {"customers": [offline("17", name="A", phone="+12125550100")]}, token=token
    )
    payload = body["data"]["customerSyncOffline"]
    assert payload["errors"] == [{"field": ["customers", "0", "clientId"], "code": "INVALID"}]


async def test_two_tills_sending_the_same_new_customer_make_one(
    gql: Any, factory: Any, stores: tuple[Any, Any], raw_sql: Any
) -> None:
    here, elsewhere = stores
    tokens = [await factory.till(here.id, *TILL), await factory.till(elsewhere.id, *TILL)]
    for round_ in range(5):
        phone = f"+1646555{round_:04d}"
        bodies = await asyncio.gather(
            *(
                gql(
                    OFFLINE,
                    {"customers": [offline(str(uuid.uuid4()), name="Twin", phone=phone)]},
                    token=t,
                )
                for t in tokens
            )
        )
        statuses = sorted(b["data"]["customerSyncOffline"]["results"][0]["status"] for b in bodies)
        assert statuses == ["CREATED", "MATCHED"]
        rows = await raw_sql("SELECT COUNT(*) FROM customers WHERE phone = :p", p=phone)
        assert rows[0][0] == 1


async def test_a_till_syncing_while_others_write_misses_nothing(
    gql: Any, factory: Any, stores: tuple[Any, Any]
) -> None:
    """Changes commit while the till reads: a number must never be seen before a smaller one."""
    here, _ = stores
    till = Till(gql, await factory.till(here.id, *TILL))
    office = await factory.token(*TILL)
    customers = [await factory.customer(home_store_id=here.id) for _ in range(6)]
    versions = {c.id: 1 for c in customers}

    async def writer(customer: Any) -> None:
        for round_ in range(5):
            body = await gql(
                UPDATE,
                {
                    "id": str(customer.id),
                    "input": {"expectedVersion": versions[customer.id], "name": f"R{round_}"},
                },
                token=office,
            )
            assert body["data"]["customerUpdate"]["errors"] == []
            versions[customer.id] += 1

    async def reader() -> None:
        for _ in range(15):
            await till.sync(first=2)
            await asyncio.sleep(0)

    await asyncio.gather(reader(), *(writer(c) for c in customers))
    await till.sync()
    server = await server_copy(gql, office, {str(c.id) for c in customers})
    assert till.customers == server
    assert {c["name"] for c in server.values()} == {"R4"}


async def test_a_download_racing_a_change_never_hides_it(
    factory: Any, runtime: Any, stores: tuple[Any, Any], monkeypatch: Any
) -> None:
    """An edit whose transaction read the holders before a download committed must still
    reach the downloading store (the download locks the customer the edit has updated)."""
    home, other = stores
    customer = await factory.customer(name="Old Name", home_store_id=home.id)
    original = SyncRepository.holders
    reached, release = asyncio.Event(), asyncio.Event()

    async def paused(self: Any, ids: list[uuid.UUID]) -> Any:
        found = await original(self, ids)
        if customer.id in ids and not reached.is_set():
            reached.set()  # the edit has read who holds the customer
            await release.wait()
        return found

    monkeypatch.setattr(SyncRepository, "holders", paused)
    edit = asyncio.create_task(
        factory.customers().update(customer.id, CustomerUpdate(expected_version=1, name="New"))
    )
    await reached.wait()
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    download = asyncio.create_task(sync.download(customer.id, other.id))
    await asyncio.sleep(0.2)  # the download waits for the edit (or would have committed)
    # A till of the other store syncs now, and again once everything has committed.
    copy: dict[uuid.UUID, str] = {}
    first = await sync.changes(other.id, None, 10)
    copy |= {c.customer_id: c.customer.name for c in first.changes if c.customer}
    release.set()
    assert (await edit).ok
    assert (await download).ok
    later = await sync.changes(other.id, first.end_cursor, 10)
    copy |= {c.customer_id: c.customer.name for c in later.changes if c.customer}
    assert copy == {customer.id: "New"}


async def test_a_download_racing_a_change_that_leaves_the_customer_row_never_hides_it(
    factory: Any, runtime: Any, stores: tuple[Any, Any], monkeypatch: Any
) -> None:
    """Points move (as at every sale) without updating the customer's row: the change
    locks the row itself before reading the holders, so a download waits for it."""
    home, other = stores
    customer = await factory.customer(home_store_id=home.id)
    original = SyncRepository.holders
    reached, release = asyncio.Event(), asyncio.Event()

    async def paused(self: Any, ids: list[uuid.UUID]) -> Any:
        found = await original(self, ids)
        if customer.id in ids and not reached.is_set():
            reached.set()  # the points change has read who holds the customer
            await release.wait()
        return found

    monkeypatch.setattr(SyncRepository, "holders", paused)
    change = asyncio.create_task(factory.loyalty().adjust(customer.id, 50, "Welcome gift"))
    await reached.wait()
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    download = asyncio.create_task(sync.download(customer.id, other.id))
    await asyncio.sleep(0.2)  # the download waits for the change (or would have committed)
    first = await sync.changes(other.id, None, 10)
    release.set()
    assert (await change).ok
    assert (await download).ok
    # The till's copy must come from after the change: it arrives (again) now.
    later = await sync.changes(other.id, first.end_cursor, 10)
    assert [c.customer_id for c in later.changes] == [customer.id]


@pytest.mark.skipif(BACKEND == "sqlite", reason="SQLite has one writer: every commit queues")
async def test_commits_numbering_different_stores_do_not_wait_for_each_other(
    factory: Any, runtime: Any, stores: tuple[Any, Any], monkeypatch: Any
) -> None:
    """A change held open after taking its store's numbers does not hold up a change
    numbered in another store (one chain-wide counter would)."""
    here, there = stores
    mine = await factory.customer(home_store_id=here.id)
    theirs = await factory.customer(home_store_id=there.id)
    original = SyncRepository.number
    numbered, release = asyncio.Event(), asyncio.Event()

    async def paused(self: Any, entries: Any, now: Any) -> None:
        await original(self, entries, now)
        if (here.id, mine.id) in entries:
            numbered.set()  # this store's counter is locked until the commit
            await release.wait()

    monkeypatch.setattr(SyncRepository, "number", paused)
    loyalty = factory.loyalty()
    held_open = asyncio.create_task(loyalty.adjust(mine.id, 10, "Held open"))
    await numbered.wait()
    try:
        # A deadline, not a timing: with one counter this would wait for the release.
        other = await asyncio.wait_for(loyalty.adjust(theirs.id, 10, "Elsewhere"), 30)
    finally:
        release.set()
        assert (await held_open).ok
    assert other.ok
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    assert theirs.id in [c.customer_id for c in (await sync.changes(there.id, None, 10)).changes]


async def test_numbers_taken_in_several_statements_stay_in_order(
    factory: Any, runtime: Any, stores: tuple[Any, Any], monkeypatch: Any
) -> None:
    """More feed rows than one statement carries (an import): the counters are taken once
    for all of them, and each store's rows get its next numbers, in customer order."""
    here, there = stores
    members = [await factory.customer(home_store_id=s.id) for s in (here, there, here, there)]
    groups = GroupService(runtime.tx, None)
    group = await groups.create("Chunked", None, Decimal("5"))
    assert group.value
    await groups.change_members(group.value.id, [m.id for m in members], add=True)
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    cursors = {s.id: (await sync.changes(s.id, None, 50)).end_cursor for s in stores}
    monkeypatch.setattr("app.db.repositories.sync.NUMBER_ROWS", 1)
    assert (await groups.update(group.value.id, GroupChange(discount_percent=Decimal("7")))).ok
    for store in stores:
        page = await sync.changes(store.id, cursors[store.id], 50)
        mine = sorted((m.id for m in members if m.home_store_id == store.id), key=str)
        assert [c.customer_id for c in page.changes] == mine
        numbers = [number_cursor(c.cursor) for c in page.changes]
        assert numbers == list(range(numbers[0], numbers[0] + len(mine)))
        before = cursors[store.id]
        assert before is not None
        assert numbers[0] == number_cursor(before) + 1


async def test_publishing_a_change_takes_a_fixed_few_statements(
    factory: Any, stores: tuple[Any, Any], monkeypatch: Any, count_statements: Any
) -> None:
    """The feed's share of every customer write, each sale with a customer included."""
    here, _ = stores
    customer = await factory.customer(home_store_id=here.id)
    original = UnitOfWork.publish_changes
    counts: list[int] = []

    async def counted(self: UnitOfWork) -> None:
        with count_statements() as counter:
            await original(self)
        counts.append(len(counter.statements))

    monkeypatch.setattr(UnitOfWork, "publish_changes", counted)
    assert (await factory.loyalty().adjust(customer.id, 5, "Counted")).ok
    # PostgreSQL: lock, holders, counters with rows; SQLite: holders, counters, rows. Was 6
    # (5 on SQLite): the counter's lock, two reads of holders, numbers, delete, insert.
    assert counts == [3]


async def test_sales_edits_and_downloads_of_one_customer_at_once_all_commit(
    factory: Any, runtime: Any, stores: tuple[Any, Any]
) -> None:
    """Every transaction takes the feed's locks in one order, after its own (a sale's
    points, stats and stock): customers, then store counters. Sales, edits (one moving
    the home store) and downloads of one customer at once never deadlock, and every
    store that holds the customer ends with its latest state."""
    here, other = stores
    third = await factory.store()
    await factory.product("GUM", "1.00")
    customer = await factory.customer(name="V0", home_store_id=here.id)
    service = SaleService(runtime.tx, None, LoyaltyService(runtime.tx, None))
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    version = customer.version
    for round_ in range(1, 6):
        opened = [
            await service.create(SaleCreate(lines=(LineDraft("GUM", 1),), customer_id=customer.id))
            for _ in range(2)
        ]
        home = third.id if round_ == 3 else here.id
        edit = CustomerUpdate(expected_version=version, name=f"V{round_}", home_store_id=home)
        results = await asyncio.gather(
            *(service.complete(s.value.id, SaleCompletion(PaymentMethod.CASH)) for s in opened),  # type: ignore[union-attr]
            factory.customers().update(customer.id, edit),
            sync.download(customer.id, other.id),
        )
        assert all(r.ok for r in results), [r.errors for r in results]
        version = results[2].value.version
    for store in (here, other, third):
        page = await sync.changes(store.id, None, 50)
        assert [(c.customer_id, c.customer.name) for c in page.changes if c.customer] == [
            (customer.id, "V5")
        ]


async def test_group_changes_reach_the_members_stores(
    gql: Any, factory: Any, runtime: Any, stores: tuple[Any, Any]
) -> None:
    here, _ = stores
    member = await factory.customer(home_store_id=here.id)
    groups = GroupService(runtime.tx, None)
    group = await groups.create("Staff", None, Decimal("10"))
    assert group.value
    await groups.change_members(group.value.id, [member.id], add=True)
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    cursor = (await sync.changes(here.id, None, 50)).end_cursor
    for change in (
        lambda: groups.update(group.value.id, GroupChange(discount_percent=Decimal("15"))),
        lambda: groups.delete(group.value.id),
    ):
        assert (await change()).ok
        page = await sync.changes(here.id, cursor, 50)
        assert [c.customer_id for c in page.changes] == [member.id]
        cursor = page.end_cursor
