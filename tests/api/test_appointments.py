"""Appointments (seed 004): book, reschedule, cancel, complete; the customer's history."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.services.customer_merge import CustomerMergeService

FIELDS = """id service startsAt endsAt durationMinutes status note createdBy version
  store { id } staff { id username } customer { id }"""
CREATE = f"""mutation($c: ID!, $input: AppointmentCreateInput!) {{
  appointmentCreate(customerId: $c, input: $input) {{
  appointment {{ {FIELDS} }} errors {{ field code message }} }} }}"""
RESCHEDULE = f"""mutation($id: ID!, $input: AppointmentRescheduleInput!) {{
  appointmentReschedule(id: $id, input: $input) {{
  appointment {{ {FIELDS} }} errors {{ field code }} }} }}"""
CANCEL = """mutation($id: ID!, $reason: String, $v: Int) {
  appointmentCancel(id: $id, reason: $reason, expectedVersion: $v) {
  appointment { id status version } errors { field code } } }"""
COMPLETE = """mutation($id: ID!, $v: Int) { appointmentComplete(id: $id, expectedVersion: $v) {
  appointment { id status version } errors { field code } } }"""
ONE = f"query($id: ID!) {{ appointment(id: $id) {{ {FIELDS} }} }}"
HISTORY = """query($id: ID!, $first: Int!, $after: String) { customer(id: $id) {
  appointments(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { service startsAt status } } } } }"""
DIARY = """query($s: ID, $from: DateTime, $to: DateTime, $status: AppointmentStatus,
  $first: Int!, $after: String) {
  appointments(storeId: $s, from: $from, to: $to, status: $status, first: $first, after: $after)
  { totalCount pageInfo { hasNextPage endCursor } edges { node { service startsAt } } } }"""
TRAIL = """query($id: ID!) { customer(id: $id) {
  auditTrail { edges { node { action actor before after } } } } }"""


def at(days: int = 1, hour: int = 10, minute: int = 0) -> datetime:
    """A moment ``days`` from today at ``hour:minute`` UTC (always in the future for days>0)."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def desk(factory: Any) -> tuple[str, str]:
    """A receptionist at a branch: books and sees customers and their audit trail."""
    store = await factory.store()
    _, token = await factory.staff(
        P.CUSTOMER_VIEW, P.CUSTOMER_MODIFY, P.AUDIT_VIEW, store_id=store.id
    )
    return token, str(store.id)


@pytest.fixture
def token(desk: tuple[str, str]) -> str:
    return desk[0]


async def staff_member(gql: Any, factory: Any) -> tuple[str, str]:
    """A stylist's (id, username)."""
    username, stylist_token = await factory.staff()
    me = await gql("{ me { id } }", token=stylist_token)
    return me["data"]["me"]["id"], username


async def book(gql: Any, token: str, customer_id: Any, **fields: Any) -> dict[str, Any]:
    values = {"service": "Haircut", "startsAt": at().isoformat(), **fields}
    body = await gql(CREATE, {"c": str(customer_id), "input": values}, token=token)
    assert "errors" not in body, body
    return body["data"]["appointmentCreate"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def trail(gql: Any, token: str, customer_id: Any) -> list[dict[str, Any]]:
    body = await gql(TRAIL, {"id": str(customer_id)}, token=token)
    return [e["node"] for e in body["data"]["customer"]["auditTrail"]["edges"]]


# --- booking -------------------------------------------------------------------------------


async def test_a_booking_takes_the_callers_store_and_is_audited(
    gql: Any, desk: tuple[str, str], factory: Any
) -> None:
    token, store_id = desk
    customer = await factory.customer()
    stylist_id, stylist = await staff_member(gql, factory)
    # 09:00 at +05:30 is 03:30 UTC: stored and answered in UTC.
    local = at().replace(hour=9, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    made = await book(
        gql,
        token,
        customer.id,
        service="  Colour   and cut ",
        startsAt=local.isoformat(),
        durationMinutes=90,
        staffId=stylist_id,
        note=" Allergic to ammonia ",
    )
    assert made["errors"] == []
    appointment = made["appointment"]
    starts = local.astimezone(UTC)
    assert appointment == {
        "id": appointment["id"],
        "service": "Colour and cut",
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(minutes=90)).isoformat(),
        "durationMinutes": 90,
        "status": "BOOKED",
        "note": "Allergic to ammonia",
        "createdBy": appointment["createdBy"],
        "version": 1,
        "store": {"id": store_id},
        "staff": {"id": stylist_id, "username": stylist},
        "customer": {"id": str(customer.id)},
    }
    again = await gql(ONE, {"id": appointment["id"]}, token=token)
    assert again["data"]["appointment"] == appointment

    [entry, *_] = await trail(gql, token, customer.id)
    assert entry["action"] == "appointment_create"
    assert entry["after"]["appointmentId"] == appointment["id"]
    assert entry["after"]["staffId"] == stylist_id


async def test_without_a_store_the_head_office_takes_the_booking(gql: Any, factory: Any) -> None:
    token = await factory.token(P.CUSTOMER_MODIFY, P.CUSTOMER_VIEW)
    customer = await factory.customer()
    made = await book(gql, token, customer.id)
    stores = (await gql("{ stores { id isHeadOffice } }", token=token))["data"]["stores"]
    [head_office] = [s["id"] for s in stores if s["isHeadOffice"]]
    assert made["appointment"]["store"] == {"id": head_office}
    assert made["appointment"]["durationMinutes"] == 30
    assert made["appointment"]["staff"] is None


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        # Naive: a till's local time read as UTC would move the booking by hours.
        ({"startsAt": "2031-01-01T10:00:00"}, "INVALID", "startsAt"),
        ({"startsAt": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}, "INVALID", "startsAt"),
        ({"startsAt": "2999-01-01T10:00:00+00:00"}, "INVALID", "startsAt"),
        ({"durationMinutes": 4}, "INVALID", "durationMinutes"),
        ({"durationMinutes": 721}, "INVALID", "durationMinutes"),
        ({"service": "   "}, "REQUIRED", "service"),
        ({"service": "x" * 201}, "INVALID", "service"),
        ({"note": "x" * 1001}, "INVALID", "note"),
        ({"staffId": "00000000-0000-4000-8000-000000000000"}, "NOT_FOUND", "staffId"),
        # The desk is bound to its branch: any other store, real or not, is refused alike.
        ({"storeId": "00000000-0000-4000-8000-000000000000"}, "FORBIDDEN", "storeId"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_booked(
    gql: Any, token: str, factory: Any, raw_sql: Any, fields: dict[str, Any], code: str, field: str
) -> None:
    customer = await factory.customer()
    made = await book(gql, token, customer.id, **fields)
    assert codes(made) == [(code, ["input", field])]
    assert made["appointment"] is None
    assert await raw_sql("SELECT id FROM appointments") == []


async def test_an_unknown_or_merged_customer_cannot_book_an_inactive_one_can(
    gql: Any, token: str, factory: Any, raw_sql: Any
) -> None:
    unknown = await book(gql, token, "00000000-0000-4000-8000-000000000000")
    assert codes(unknown) == [("NOT_FOUND", ["customerId"])]
    merged, survivor = await factory.customer(), await factory.customer()
    assert (await CustomerMergeService(factory.runtime.tx, None).merge(merged.id, survivor.id)).ok
    refused = await book(gql, token, merged.id)
    assert codes(refused) == [("CUSTOMER_MERGED", ["customerId"])]
    assert await raw_sql("SELECT id FROM appointments") == []

    # Inactive is the shop's alternative to deleting: a returning customer may book.
    inactive = await factory.customer()
    status = """mutation($id: ID!) { customerSetStatus(id: $id, status: INACTIVE)
      { errors { code } } }"""
    assert (await gql(status, {"id": str(inactive.id)}, token=token))["data"]["customerSetStatus"][
        "errors"
    ] == []
    assert (await book(gql, token, inactive.id))["errors"] == []


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_booking(
    gql: Any, token: str, factory: Any, raw_sql: Any
) -> None:
    customer = await factory.customer()
    starts = at().isoformat()
    first = await book(gql, token, customer.id, startsAt=starts, idempotencyKey="till-1-42")
    retry = await book(gql, token, customer.id, startsAt=starts, idempotencyKey="till-1-42")
    assert retry["appointment"]["id"] == first["appointment"]["id"]
    other = await book(gql, token, customer.id, service="Shave", idempotencyKey="till-1-42")
    assert codes(other) == [("IDEMPOTENCY_KEY_REUSED", ["input", "idempotencyKey"])]
    assert len(await raw_sql("SELECT id FROM appointments")) == 1


# --- one staff member, one client at a time ---------------------------------------------------


async def test_a_staff_member_cannot_be_booked_twice_at_once(
    gql: Any, token: str, factory: Any
) -> None:
    customer = await factory.customer()
    stylist, _ = await staff_member(gql, factory)
    other_stylist, _ = await staff_member(gql, factory)
    ten = at(hour=10)
    first = await book(gql, token, customer.id, startsAt=ten.isoformat(), staffId=stylist)
    assert first["errors"] == []

    clash = await book(
        gql, token, customer.id, startsAt=(ten + timedelta(minutes=15)).isoformat(), staffId=stylist
    )
    assert codes(clash) == [("INVALID", ["input", "startsAt"])]
    # An earlier booking running into this one clashes too.
    before = await book(
        gql,
        token,
        customer.id,
        startsAt=(ten - timedelta(minutes=20)).isoformat(),
        staffId=stylist,
    )
    assert codes(before) == [("INVALID", ["input", "startsAt"])]
    # Back to back is fine; so is another stylist, or nobody named, at the same time.
    for fields in (
        {"startsAt": (ten + timedelta(minutes=30)).isoformat(), "staffId": stylist},
        {"startsAt": ten.isoformat(), "staffId": other_stylist},
        {"startsAt": ten.isoformat()},
        {"startsAt": ten.isoformat()},
    ):
        assert (await book(gql, token, customer.id, **fields))["errors"] == [], fields

    # A cancelled booking frees its slot.
    body = await gql(CANCEL, {"id": first["appointment"]["id"]}, token=token)
    assert body["data"]["appointmentCancel"]["errors"] == []
    again = await book(gql, token, customer.id, startsAt=ten.isoformat(), staffId=stylist)
    assert again["errors"] == []


async def test_two_desks_booking_one_stylist_at_once_get_one_booking(
    gql: Any, token: str, factory: Any, raw_sql: Any
) -> None:
    customers = [await factory.customer() for _ in range(6)]
    stylist, _ = await staff_member(gql, factory)
    starts = at(hour=14).isoformat()
    results = await asyncio.gather(
        *(book(gql, token, c.id, startsAt=starts, staffId=stylist) for c in customers)
    )
    assert sorted(len(r["errors"]) for r in results) == [0, 1, 1, 1, 1, 1]
    assert len(await raw_sql("SELECT id FROM appointments")) == 1


# --- reschedule, cancel, complete -----------------------------------------------------------


async def test_reschedule_moves_a_booking_and_checks_its_version(
    gql: Any, token: str, factory: Any
) -> None:
    customer = await factory.customer()
    stylist, _ = await staff_member(gql, factory)
    made = (await book(gql, token, customer.id, startsAt=at(hour=10).isoformat()))["appointment"]
    later = at(days=2, hour=11)
    # Half an hour later overlaps its own old slot: a booking never clashes with itself.
    moved = await gql(
        RESCHEDULE,
        {
            "id": made["id"],
            "input": {
                "expectedVersion": 1,
                "startsAt": later.isoformat(),
                "durationMinutes": 45,
                "staffId": stylist,
            },
        },
        token=token,
    )
    payload = moved["data"]["appointmentReschedule"]
    assert payload["errors"] == []
    assert (payload["appointment"]["startsAt"], payload["appointment"]["version"]) == (
        later.isoformat(),
        2,
    )
    assert payload["appointment"]["durationMinutes"] == 45
    assert payload["appointment"]["staff"]["id"] == stylist
    nudged = await gql(
        RESCHEDULE,
        {
            "id": made["id"],
            "input": {
                "expectedVersion": 2,
                "startsAt": (later + timedelta(minutes=30)).isoformat(),
            },
        },
        token=token,
    )
    assert nudged["data"]["appointmentReschedule"]["appointment"]["durationMinutes"] == 45

    stale = await gql(
        RESCHEDULE,
        {"id": made["id"], "input": {"expectedVersion": 2, "startsAt": later.isoformat()}},
        token=token,
    )
    assert codes(stale["data"]["appointmentReschedule"]) == [
        ("VERSION_CONFLICT", ["input", "expectedVersion"])
    ]
    naive = await gql(
        RESCHEDULE,
        {"id": made["id"], "input": {"expectedVersion": 3, "startsAt": "2031-01-01T10:00:00"}},
        token=token,
    )
    assert codes(naive["data"]["appointmentReschedule"]) == [("INVALID", ["input", "startsAt"])]
    cleared = await gql(
        RESCHEDULE,
        {
            "id": made["id"],
            "input": {"expectedVersion": 3, "startsAt": later.isoformat(), "staffId": None},
        },
        token=token,
    )
    assert cleared["data"]["appointmentReschedule"]["appointment"]["staff"] is None

    [entry, *_] = await trail(gql, token, customer.id)
    assert entry["action"] == "appointment_reschedule"
    assert entry["before"] == {
        "appointmentId": made["id"],
        "startsAt": (later + timedelta(minutes=30)).isoformat(),
        "staffId": stylist,
    }
    assert entry["after"] == {
        "appointmentId": made["id"],
        "startsAt": later.isoformat(),
        "staffId": None,
    }


async def test_cancel_and_complete_close_a_booking_for_good(
    gql: Any, token: str, factory: Any
) -> None:
    customer = await factory.customer()
    done = (await book(gql, token, customer.id))["appointment"]
    called_off = (await book(gql, token, customer.id, service="Shave"))["appointment"]

    body = await gql(COMPLETE, {"id": done["id"]}, token=token)
    assert body["data"]["appointmentComplete"] == {
        "appointment": {"id": done["id"], "status": "COMPLETED", "version": 2},
        "errors": [],
    }
    body = await gql(CANCEL, {"id": called_off["id"], "reason": " Ill ", "v": 1}, token=token)
    assert body["data"]["appointmentCancel"]["appointment"]["status"] == "CANCELLED"

    for document, name, variables in (
        (COMPLETE, "appointmentComplete", {"id": done["id"]}),
        (CANCEL, "appointmentCancel", {"id": done["id"]}),
        (COMPLETE, "appointmentComplete", {"id": called_off["id"]}),
        (
            RESCHEDULE,
            "appointmentReschedule",
            {"id": called_off["id"], "input": {"expectedVersion": 2, "startsAt": at().isoformat()}},
        ),
    ):
        refused = (await gql(document, variables, token=token))["data"][name]
        assert codes(refused) == [("APPOINTMENT_CLOSED", ["id"])], (name, variables)

    unknown = await gql(COMPLETE, {"id": "00000000-0000-4000-8000-000000000000"}, token=token)
    assert codes(unknown["data"]["appointmentComplete"]) == [("NOT_FOUND", ["id"])]

    entries = await trail(gql, token, customer.id)
    assert [e["action"] for e in entries[:2]] == ["appointment_cancel", "appointment_complete"]
    assert entries[0]["after"] == {
        "appointmentId": called_off["id"],
        "status": "CANCELLED",
        "reason": "Ill",
    }
    assert entries[1]["before"] == {"appointmentId": done["id"], "status": "BOOKED"}


async def test_a_stale_version_on_cancel_is_a_conflict(gql: Any, token: str, factory: Any) -> None:
    customer = await factory.customer()
    made = (await book(gql, token, customer.id))["appointment"]
    await gql(
        RESCHEDULE,
        {"id": made["id"], "input": {"expectedVersion": 1, "startsAt": at(days=3).isoformat()}},
        token=token,
    )
    body = await gql(CANCEL, {"id": made["id"], "v": 1}, token=token)
    assert codes(body["data"]["appointmentCancel"]) == [("VERSION_CONFLICT", ["expectedVersion"])]


async def test_two_devices_closing_one_booking_at_once_one_wins(
    gql: Any, token: str, factory: Any
) -> None:
    customer = await factory.customer()
    made = (await book(gql, token, customer.id))["appointment"]
    calls = [(COMPLETE, "appointmentComplete"), (CANCEL, "appointmentCancel")] * 3
    bodies = await asyncio.gather(
        *(gql(document, {"id": made["id"]}, token=token) for document, _ in calls)
    )
    outcomes = sorted(
        codes(body["data"][name]) for body, (_, name) in zip(bodies, calls, strict=True)
    )
    assert outcomes == [[]] + [[("APPOINTMENT_CLOSED", ["id"])]] * 5
    final = (await gql(ONE, {"id": made["id"]}, token=token))["data"]["appointment"]
    assert final["version"] == 2


async def test_a_booking_reaches_the_change_feed_of_stores_holding_the_customer(
    gql: Any, token: str, factory: Any
) -> None:
    feed = (
        "query($s: ID, $after: String) { customerChanges(storeId: $s, after: $after, first: 100) "
        "{ endCursor changes { customerId } } }"
    )
    stores = (await gql("{ stores { id isHeadOffice } }", token=token))["data"]["stores"]
    [head_office] = [s["id"] for s in stores if s["isHeadOffice"]]
    # The desk is at a branch; the head office's feed is read by a chain-wide caller.
    office = await factory.token(P.CUSTOMER_VIEW, P.STORE_ALL)
    customer = await factory.customer()  # registered at the head office, which holds it
    body = await gql(feed, {"s": head_office}, token=office)
    cursor = body["data"]["customerChanges"]["endCursor"]
    await book(gql, token, customer.id)
    body = await gql(feed, {"s": head_office, "after": cursor}, token=office)
    changes = body["data"]["customerChanges"]["changes"]
    assert [c["customerId"] for c in changes] == [str(customer.id)]


# --- reading -------------------------------------------------------------------------------


async def test_a_customers_history_is_paged_newest_first(
    gql: Any, token: str, factory: Any
) -> None:
    customer, other = await factory.customer(), await factory.customer()
    for days in (3, 1, 5, 2):
        await factory.appointment(customer.id, at(days=days), service=f"Day {days}")
    # Two at one moment: the id breaks the tie, so paging neither skips nor repeats one.
    await factory.appointment(customer.id, at(days=4), service="Day 4a")
    await factory.appointment(customer.id, at(days=4), service="Day 4b")
    await factory.appointment(other.id, at(days=6))

    seen: list[str] = []
    after = None
    while True:
        body = await gql(HISTORY, {"id": str(customer.id), "first": 2, "after": after}, token=token)
        connection = body["data"]["customer"]["appointments"]
        assert connection["totalCount"] == 6
        seen += [e["node"]["service"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen[0] == "Day 5"
    assert sorted(seen[1:3]) == ["Day 4a", "Day 4b"]
    assert seen[3:] == ["Day 3", "Day 2", "Day 1"]

    bad = await gql(HISTORY, {"id": str(customer.id), "first": 2, "after": "nope"}, token=token)
    assert bad["data"]["customer"] is None
    assert bad["errors"]


async def test_a_stores_diary_is_in_start_order_within_a_window(
    gql: Any, desk: tuple[str, str], factory: Any
) -> None:
    token, store_id = desk
    customer = await factory.customer()
    for days in (3, 1, 2, 9):
        await factory.appointment(customer.id, at(days=days), service=f"Day {days}")
    done = await factory.appointment(customer.id, at(days=2, hour=15), service="Done")
    await factory.appointments().complete(done.id)
    # The caller's store by default: a booking made with no store is the head office's.
    variables: dict[str, Any] = {"first": 2, "from": at(days=1).isoformat()}
    variables["to"] = at(days=4).isoformat()

    body = await gql(DIARY, {**variables, "s": store_id}, token=token)
    assert body["data"]["appointments"]["totalCount"] == 0
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            DIARY, {**variables, "after": after}, token=await head_office_token(factory)
        )
        connection = body["data"]["appointments"]
        assert connection["totalCount"] == 4
        seen += [e["node"]["service"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["Day 1", "Day 2", "Done", "Day 3"]

    booked = await gql(
        DIARY, {**variables, "status": "BOOKED"}, token=await head_office_token(factory)
    )
    assert [e["node"]["service"] for e in booked["data"]["appointments"]["edges"]] == [
        "Day 1",
        "Day 2",
    ]
    naive = await gql(DIARY, {"first": 5, "from": "2031-01-01T10:00:00"}, token=token)
    assert naive["data"] is None
    assert naive["errors"][0]["extensions"]["code"] == "INVALID"


async def head_office_token(factory: Any) -> str:
    return str(await factory.token(P.CUSTOMER_VIEW))


async def test_the_customer_list_loads_appointments_in_constant_statements(
    gql: Any, token: str, factory: Any, count_statements: Any
) -> None:
    stylist, _ = await staff_member(gql, factory)
    screen = """{ customers(first: 50) { edges { node { name appointments(first: 3) {
      totalCount edges { node { service store { name } staff { username }
      customer { name } } } } } } } }"""
    counts = []
    hour = 8
    for size in (5, 20):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < size:
            customer = await factory.customer()
            hour += 1
            starts = at(days=1 + hour // 20, hour=hour % 20)
            await factory.appointment(customer.id, starts, staff_id=uuid.UUID(stylist))
            await factory.appointment(customer.id, starts + timedelta(days=30))
        with count_statements() as counter:
            body = await gql(screen, token=token)
        edges = body["data"]["customers"]["edges"]
        assert len(edges) == size
        for edge in edges:
            node = edge["node"]
            assert node["appointments"]["totalCount"] == 2
            assert all(
                a["node"]["customer"]["name"] == node["name"] for a in node["appointments"]["edges"]
            )
        counts.append(counter.count)
    assert counts[0] == counts[1]


# --- permissions ----------------------------------------------------------------------------


async def test_booking_needs_customer_modify_and_reading_customer_view(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    customer = await factory.customer()
    viewer = await factory.token(*(p for p in P if p is not P.CUSTOMER_MODIFY))
    refused = await book(gql, viewer, customer.id)
    assert codes(refused) == [("FORBIDDEN", None)]
    assert await raw_sql("SELECT id FROM appointments") == []

    made = await factory.appointment(customer.id)
    blind = await factory.token(*(p for p in P if p is not P.CUSTOMER_VIEW))
    body = await gql(ONE, {"id": str(made.id)}, token=blind)
    assert body["data"] == {"appointment": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    body = await gql(DIARY, {"first": 5}, token=blind)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_racing_retries_with_one_key_make_one_booking(gql: Any, factory: Any) -> None:
    import asyncio

    from app.services.appointments import AppointmentCreate

    customer = await factory.customer()
    stylist, _ = await staff_member(gql, factory)
    # Each retry waits on the stylist's lock, then finds the first call's key: not a
    # clash with its own booking (PostgreSQL; SQLite has one writer).
    command = AppointmentCreate(
        customer_id=customer.id,
        service="Colour",
        starts_at=at(days=1, hour=10),
        staff_id=uuid.UUID(stylist),
        idempotency_key="desk-1",
    )
    service = factory.appointments()
    results = await asyncio.gather(*(service.create(command) for _ in range(3)))
    assert all(r.ok for r in results), [r.errors for r in results]
    assert len({r.value.id for r in results}) == 1


async def test_diary_times_past_the_calendar_are_refused_cleanly(gql: Any, token: str) -> None:
    for moment in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"):
        body = await gql(DIARY, {"from": moment, "first": 5}, token=token)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "INVALID", body
