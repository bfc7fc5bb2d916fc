"""Customer import and export: create's rules per row, whole rows only, a transaction per batch."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from app.db.base import Base
from app.db.repositories.customers import CustomerRepository
from app.domain.records import (
    ConsentSource,
    ConsentState,
    ContactChannel,
    CustomerRecord,
    CustomerStatus,
    Gender,
    MarketingChannel,
)
from app.runtime import Runtime
from app.services import customer_import
from app.services.customer_export import CustomerExportService
from app.services.customer_import import (
    CustomerImportService,
    ImportOutcome,
    ImportRefused,
    RejectedRow,
    check_row,
    read_csv,
    write_report,
)
from app.services.customer_merge import CustomerMergeService
from app.services.customers import SCALAR_FIELDS, created_snapshot, imported_snapshot
from app.services.store_sync import StoreSyncService
from tests.factories import Factory

FULL = {
    "firstName": " Priya ",
    "lastName": "Sharma",
    "phone": "+91 98200 12345",
    "otherPhones": "+91 98200 12346; +91 98200 12347",
    "email": "Priya@Example.com",
    "customerCode": "C-001",
    "birthDate": "1990-04-01",
    "gender": "female",
    "pan": "aapfu 0939 f",
    "gstin": "27 AAPFU0939F 1ZV",
    "state": "maharashtra",
    "regNo": " u12345mh2020ptc123456 ",
    "vatNo": "gb 123 4567 89",
    "allowCreditSale": "yes",
    "creditLimit": "2500.50",
    "preferredChannel": "email",
    "willingToReceive": "1",
    "remarks": "Prefers mornings.",
    "loyaltyOptOut": "yes",
    "status": "inactive",
    "emailMarketing": "true",
    "smsMarketing": "TRUE",
    "addressLabel": "home",
    "addressLine1": "12 Marine Drive",
    "addressLine2": "Flat 4",
    "city": "Mumbai",
    "region": "MH",
    "postalCode": "400020",
    "country": "in",
}


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    columns = header or list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def service(runtime: Runtime) -> CustomerImportService:
    return CustomerImportService(runtime.tx, runtime.settings, None)


async def run_import(
    runtime: Runtime, tmp_path: Path, rows: list[dict[str, str]], **options: Any
) -> ImportOutcome:
    source = read_csv(write_csv(tmp_path / "in.csv", rows))
    return await service(runtime).run(source, **options)


def reasons(outcome: ImportOutcome) -> dict[int, set[tuple[str, str]]]:
    return {r.row.line: {(e.column, e.code) for e in r.errors} for r in outcome.rejects}


async def count(raw_sql: Any, table: str) -> int:
    return int((await raw_sql(f"SELECT count(*) FROM {table}"))[0][0])  # noqa: S608


async def test_a_full_row_is_imported_with_every_field(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    branch = await factory.store("MUM")
    outcome = await run_import(runtime, tmp_path, [{**FULL, "homeStoreCode": "mum"}])
    assert (outcome.rows, outcome.imported, outcome.rejects) == (1, 1, [])

    async with runtime.db.read() as session:
        repo = CustomerRepository(session)
        customer_id = (await repo.owners_of_phones(["+919820012345"]))["+919820012345"]
        customer = await repo.get(customer_id)
        addresses = (await repo.addresses_for([customer_id]))[customer_id]
        phones = (await repo.phones_for([customer_id]))[customer_id]
    assert customer is not None
    assert customer.name == "Priya Sharma"  # composed as create composes it
    assert (customer.first_name, customer.last_name) == ("Priya", "Sharma")
    assert customer.email == "Priya@example.com"
    assert customer.customer_code == "C-001"
    assert customer.birth_date == date(1990, 4, 1)
    assert customer.gender is Gender.FEMALE
    assert (customer.pan, customer.gstin, customer.state_code) == (
        "AAPFU0939F",
        "27AAPFU0939F1ZV",
        "27",
    )
    assert (customer.reg_no, customer.vat_no) == ("U12345MH2020PTC123456", "GB123456789")
    assert customer.allow_credit_sale is True
    assert customer.credit_limit == Decimal("2500.50")
    assert customer.preferred_channel is ContactChannel.EMAIL
    assert customer.willing_to_receive is True
    assert customer.remarks == "Prefers mornings."
    assert customer.loyalty_opt_out is True
    assert customer.status is CustomerStatus.INACTIVE
    assert customer.home_store_id == branch.id
    assert [p.phone for p in phones] == ["+919820012346", "+919820012347"]
    assert [(a.label, a.line1, a.line2, a.city, a.region, a.postal_code, a.country)
            for a in addresses] == [
        ("home", "12 Marine Drive", "Flat 4", "Mumbai", "MH", "400020", "IN")
    ]  # fmt: skip

    consents = (await factory.customers().consents([customer_id]))[customer_id]
    assert {c: r.state for c, r in consents.items()} == {
        MarketingChannel.EMAIL: ConsentState.SUBSCRIBED,
        MarketingChannel.SMS: ConsentState.SUBSCRIBED,
    }
    assert {r.source for r in consents.values()} == {ConsentSource.IMPORT}
    history = (await factory.customers().consent_history([customer_id]))[customer_id]
    assert sorted((h.channel, h.previous_state, h.state, h.source) for h in history) == [
        (channel, ConsentState.NOT_SUBSCRIBED, ConsentState.SUBSCRIBED, ConsentSource.IMPORT)
        for channel in (MarketingChannel.EMAIL, MarketingChannel.SMS)
    ]

    audit = (await factory.customers().audit_pages([customer_id], 10, None))[customer_id]
    assert [e.action for _, e in audit.items] == ["import"]
    after = audit.items[0][1].after
    assert after is not None
    assert after["phone"] == "+919820012345"
    assert after["consentEmail"] == "SUBSCRIBED"

    # The home store's tills learn of it through their change feed.
    feed = await StoreSyncService(runtime.tx, runtime.settings, None).changes(branch.id, None, 10)
    assert [(c.customer_id, c.kind.value) for c in feed.changes] == [(customer_id, "CHANGED")]
    head_office = await StoreSyncService(runtime.tx, runtime.settings, None).changes(
        (await factory.store()).id, None, 10
    )
    assert head_office.changes == []
    # No registration message: these are existing customers, not sign-ups.
    assert await count(raw_sql, "notifications") == 0


async def test_without_a_home_store_code_customers_belong_to_the_head_office(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    outcome = await run_import(runtime, tmp_path, [{"name": "Ada", "phone": "2125550100"}])
    assert outcome.imported == 1
    rows = await raw_sql(
        "SELECT s.is_head_office FROM customers c JOIN stores s ON s.id = c.home_store_id"
    )
    assert [bool(r[0]) for r in rows] == [True]
    assert await count(raw_sql, "store_customers") == 1


BAD_ROWS = [
    ({"phone": "12"}, {("phone", "PHONE_INVALID")}),
    ({"phone": ""}, {("phone", "REQUIRED")}),
    ({"name": "", "firstName": "", "lastName": ""}, {("name", "REQUIRED")}),
    ({"email": "not-an-email"}, {("email", "EMAIL_INVALID")}),
    ({"birthDate": "01/04/1990"}, {("birthDate", "INVALID")}),
    ({"birthDate": "2999-01-01"}, {("birthDate", "INVALID")}),
    ({"gender": "sometimes"}, {("gender", "INVALID")}),
    ({"creditLimit": "12.345"}, {("creditLimit", "INVALID")}),
    ({"creditLimit": "lots"}, {("creditLimit", "INVALID")}),
    ({"allowCreditSale": "true"}, {("creditLimit", "REQUIRED")}),
    ({"allowCreditSale": "maybe"}, {("allowCreditSale", "INVALID")}),
    ({"emailMarketing": "yes"}, {("emailMarketing", "CONSENT_CHANNEL_MISSING")}),
    ({"preferredChannel": "post"}, {("preferredChannel", "INVALID")}),
    ({"pan": "ABC"}, {("pan", "PAN_INVALID")}),
    ({"gstin": "27AAPFU0939F1ZW"}, {("gstin", "GSTIN_INVALID")}),
    ({"city": "Paris"}, {("addressLine1", "REQUIRED")}),
    ({"addressLine1": "1 Rue", "country": "France"}, {("country", "INVALID")}),
    ({"otherPhones": "2125550101;212 555 0101"}, {("otherPhones", "DUPLICATE")}),
    ({"otherPhones": "2125550100"}, {("otherPhones", "DUPLICATE")}),  # the main phone again
    ({"status": "MERGED"}, {("status", "INVALID")}),
    ({"homeStoreCode": "NOPE"}, {("homeStoreCode", "NOT_FOUND")}),
    ({"remarks": "bad\x00byte"}, {("remarks", "INVALID")}),  # PostgreSQL cannot store it
    (
        {"email": "x", "birthDate": "tomorrow", "creditLimit": "-1"},
        {("email", "EMAIL_INVALID"), ("birthDate", "INVALID"), ("creditLimit", "INVALID")},
    ),
]


@pytest.mark.parametrize(("change", "expected"), BAD_ROWS)
async def test_a_bad_row_is_rejected_with_its_reasons_and_nothing_of_it_saved(
    runtime: Runtime,
    raw_sql: Any,
    tmp_path: Path,
    change: dict[str, str],
    expected: set[tuple[str, str]],
) -> None:
    good = {"name": "Good", "phone": "+1 646 555 0001"}
    bad = {"name": "Bad", "phone": "(212) 555-0100", **change}
    outcome = await run_import(runtime, tmp_path, [good, bad])
    assert outcome.imported == 1
    assert reasons(outcome) == {3: expected}
    assert [r[0] for r in await raw_sql("SELECT name FROM customers")] == ["Good"]
    for table in ("customer_phones", "customer_addresses", "marketing_consents"):
        assert await count(raw_sql, table) == 0
    assert await count(raw_sql, "audit_entries") == 1


async def test_a_row_with_more_values_than_columns_is_rejected(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text("name,phone\nAda,2125550100,extra\nBob,2125550101\n")
    outcome = await service(runtime).run(read_csv(path))
    assert reasons(outcome) == {2: {("", "INVALID")}}
    assert [r[0] for r in await raw_sql("SELECT name FROM customers")] == ["Bob"]


async def test_later_rows_repeating_a_number_or_code_of_the_file_are_rejected(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    rows = [
        {"name": "First", "phone": "212 555 0100", "otherPhones": "", "customerCode": "C1"},
        {"name": "Same phone", "phone": "+12125550100", "otherPhones": "", "customerCode": ""},
        {"name": "Extra", "phone": "2125550102", "otherPhones": "(212) 555-0100",
         "customerCode": ""},
        {"name": "Main was extra", "phone": "2125550103", "otherPhones": "", "customerCode": ""},
        {"name": "Has extra", "phone": "2125550104", "otherPhones": "2125550103",
         "customerCode": ""},
        {"name": "Code", "phone": "2125550105", "otherPhones": "", "customerCode": "C1"},
    ]  # fmt: skip
    outcome = await run_import(runtime, tmp_path, rows)
    assert reasons(outcome) == {
        3: {("phone", "DUPLICATE")},
        4: {("otherPhones", "DUPLICATE")},
        6: {("otherPhones", "DUPLICATE")},
        7: {("customerCode", "DUPLICATE")},
    }
    assert "Row 2" in outcome.rejects[0].errors[0].message
    names = sorted(r[0] for r in await raw_sql("SELECT name FROM customers"))
    assert names == ["First", "Main was extra"]


async def test_numbers_and_codes_held_in_the_database_are_rejected(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    await factory.customer(phone="+12125550100", customer_code="C1")
    rows = [
        {"name": "A", "phone": "2125550100", "otherPhones": "", "customerCode": ""},
        {"name": "B", "phone": "2125550101", "otherPhones": "", "customerCode": "C1"},
        {"name": "C", "phone": "2125550102", "otherPhones": "", "customerCode": "C2"},
    ]
    extra = {"name": "E", "phone": "2125550103", "otherPhones": "212 555 0100", "customerCode": ""}
    outcome = await run_import(runtime, tmp_path, rows)
    assert reasons(outcome) == {
        2: {("phone", "PHONE_TAKEN")},
        3: {("customerCode", "CUSTOMER_CODE_TAKEN")},
    }
    outcome = await run_import(runtime, tmp_path, [extra])
    assert reasons(outcome) == {2: {("otherPhones", "PHONE_TAKEN")}}
    assert await count(raw_sql, "customers") == 2


async def test_all_or_nothing_imports_nothing_when_a_row_is_rejected(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    rows = [{"name": "A", "phone": "2125550100"}, {"name": "B", "phone": "nope"}]
    outcome = await run_import(runtime, tmp_path, rows, all_or_nothing=True)
    assert (outcome.accepted, outcome.imported, len(outcome.rejects)) == (1, 0, 1)
    assert await count(raw_sql, "customers") == 0
    assert await count(raw_sql, "audit_entries") == 0

    fixed = [rows[0], {"name": "B", "phone": "2125550101"}]
    outcome = await run_import(runtime, tmp_path, fixed, all_or_nothing=True)
    assert outcome.imported == 2
    assert await count(raw_sql, "customers") == 2


async def test_a_dry_run_checks_everything_and_saves_nothing(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    await factory.customer(phone="+12125550100")
    rows = [
        {"name": "A", "phone": "2125550100"},
        {"name": "B", "phone": "2125550101"},
        {"name": "C", "phone": "bad"},
    ]
    outcome = await run_import(runtime, tmp_path, rows, dry_run=True)
    assert (outcome.accepted, outcome.imported) == (1, 0)
    assert reasons(outcome) == {2: {("phone", "PHONE_TAKEN")}, 4: {("phone", "PHONE_INVALID")}}
    assert await count(raw_sql, "customers") == 1


def many_rows(n: int) -> list[dict[str, str]]:
    return [
        {
            "name": f"Customer {i}",
            "phone": f"+1646555{i:04d}",
            "email": f"c{i}@example.com",
            "emailMarketing": "yes",
            "otherPhones": f"+1718555{i:04d}",
            "addressLine1": f"{i} Main St",
        }
        for i in range(n)
    ]


async def test_every_imported_customer_is_in_its_home_store_feed_once(
    runtime: Runtime, factory: Factory, tmp_path: Path
) -> None:
    branch = await factory.store("BR")
    rows = [{**row, "homeStoreCode": "BR"} for row in many_rows(2500)]  # several chunks
    assert (await run_import(runtime, tmp_path, rows)).imported == 2500
    sync = StoreSyncService(runtime.tx, runtime.settings, None)
    seen: list[str] = []
    after = None
    while True:
        page = await sync.changes(branch.id, after, 1000)
        seen += [c.customer.phone for c in page.changes if c.customer]
        if not page.has_more:
            break
        after = page.end_cursor
    assert sorted(seen) == sorted(f"+1646555{i:04d}" for i in range(2500))


IMPORTED_TABLES = (
    "customers",
    "customer_name_words",
    "customer_phones",
    "customer_addresses",
    "marketing_consents",
    "marketing_consent_history",
    "audit_entries",
    "store_customers",
)


async def counts(raw_sql: Any) -> dict[str, int]:
    return {table: await count(raw_sql, table) for table in IMPORTED_TABLES}


REAL_INSERT_PROFILES = CustomerRepository.insert_profiles_many


def fail_on_the_second_batch(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    real = CustomerRepository.insert_profiles_many
    calls: list[int] = []

    async def failing(self: CustomerRepository, *args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        await real(self, *args)

    monkeypatch.setattr(CustomerRepository, "insert_profiles_many", failing)
    return calls


# What 100 rows of many_rows leave: every table an import writes, whole customers only.
ONE_BATCH = {
    "customers": 100,
    "customer_name_words": 200,
    "customer_phones": 100,
    "customer_addresses": 100,
    "marketing_consents": 100,
    "marketing_consent_history": 100,
    "audit_entries": 100,
    "store_customers": 100,
}


@pytest.fixture
def batches_of_100(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_import, "ROWS_PER_TRANSACTION", 100)


@pytest.mark.usefixtures("batches_of_100")
async def test_a_failure_midway_keeps_the_batches_before_it_whole_and_a_rerun_adds_the_rest(
    runtime: Runtime, raw_sql: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fail_on_the_second_batch(monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        await run_import(runtime, tmp_path, many_rows(150))
    assert len(calls) == 2
    # The first batch committed (each customer with all its rows), the second rolled back.
    assert await counts(raw_sql) == ONE_BATCH

    monkeypatch.setattr(CustomerRepository, "insert_profiles_many", REAL_INSERT_PROFILES)
    outcome = await run_import(runtime, tmp_path, many_rows(150))
    assert outcome.imported == 50
    # The file's first 100 rows are in: each is reported, as any number held already is.
    assert reasons(outcome) == {
        line: {("phone", "PHONE_TAKEN"), ("otherPhones", "PHONE_TAKEN")} for line in range(2, 102)
    }
    assert await count(raw_sql, "customers") == 150


async def test_all_or_nothing_a_failure_midway_leaves_nothing_of_the_file(
    runtime: Runtime, raw_sql: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = fail_on_the_second_batch(monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        await run_import(runtime, tmp_path, many_rows(1500), all_or_nothing=True)
    assert len(calls) == 2  # the first 1,000 rows were written, then rolled back
    assert set((await counts(raw_sql)).values()) == {0}


@pytest.mark.usefixtures("batches_of_100")
@pytest.mark.parametrize("all_or_nothing", [False, True])
async def test_a_constraint_failure_midway_rolls_back_its_whole_batch(
    runtime: Runtime,
    factory: Factory,
    raw_sql: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    all_or_nothing: bool,
) -> None:
    # As if another till took the number between the check and the insert: the unique
    # index is the last line, and it rolls back the batch (all-or-nothing: the file).
    await factory.customer(phone="+16465550149")
    before = await counts(raw_sql)

    async def nobody_holds_it(self: CustomerRepository, phones: list[str]) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(CustomerRepository, "owners_of_phones", nobody_holds_it)
    with pytest.raises(IntegrityError):
        await run_import(runtime, tmp_path, many_rows(150), all_or_nothing=all_or_nothing)
    after = await counts(raw_sql)
    assert after == (before if all_or_nothing else {t: before[t] + n for t, n in ONE_BATCH.items()})


@pytest.mark.usefixtures("batches_of_100")
async def test_a_till_creating_a_customer_waits_for_one_batch_not_for_the_file(
    runtime: Runtime, factory: Factory, tmp_path: Path
) -> None:
    first_batch = asyncio.Event()

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "importing":
            first_batch.set()  # reported once a batch has committed

    source = read_csv(write_csv(tmp_path / "in.csv", many_rows(1000)))
    importing = asyncio.create_task(service(runtime).run(source, progress=progress))
    await first_batch.wait()
    till = await factory.customer(phone="+12125550199")
    # In between two batches: with one transaction for the file it would have waited.
    assert not importing.done()
    outcome = await importing
    assert outcome.imported == 1000
    assert till.phone == "+12125550199"


@pytest.mark.usefixtures("batches_of_100")
async def test_a_number_repeated_in_a_later_batch_is_a_duplicate_of_the_first_row(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    rows = [*many_rows(100), {"name": "Late", "phone": "+16465550000"}]
    outcome = await run_import(runtime, tmp_path, rows)
    assert reasons(outcome) == {102: {("phone", "DUPLICATE")}}
    assert "Row 2 " in outcome.rejects[0].errors[0].message
    assert await count(raw_sql, "customers") == 100


async def test_a_race_retried_by_the_transaction_answers_phone_taken(
    runtime: Runtime,
    factory: Factory,
    raw_sql: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await factory.customer(phone="+16465550003")
    real = CustomerRepository.owners_of_phones
    calls = 0

    async def stale_first_time(self: CustomerRepository, phones: list[str]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {} if calls == 1 else await real(self, phones)

    monkeypatch.setattr(CustomerRepository, "owners_of_phones", stale_first_time)
    outcome = await run_import(runtime, tmp_path, many_rows(5))
    assert reasons(outcome) == {5: {("phone", "PHONE_TAKEN")}}
    assert outcome.imported == 4
    assert await count(raw_sql, "customers") == 5
    assert await count(raw_sql, "store_customers") == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name,phone,shoeSize\nAda,2125550100,42\n", "Unknown column(s): shoeSize"),
        (b"name,email\nAda,a@b.c\n", "no phone column"),
        (b"phone,email\n2125550100,a@b.c\n", "no name column"),
        (b"name,phone,Phone\nAda,1,2\n", "given twice: phone"),
        (b"name,,phone\nAda,,1\n", "Column 2 has no name"),
        (b"name,phone\nAd\xe9,2125550100\n", "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_before_anything_is_imported(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(ImportRefused, match=re.escape(message)):
        read_csv(path)


async def test_headers_are_case_insensitive_and_a_byte_order_mark_is_fine(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes("\ufeffNAME, Phone ,EMAIL\nZoë,2125550100,zoe@example.com\n\n".encode())
    outcome = await service(runtime).run(read_csv(path))
    assert outcome.imported == 1
    assert [tuple(r) for r in await raw_sql("SELECT name, email FROM customers")] == [
        ("Zoë", "zoe@example.com")
    ]


async def test_the_report_holds_the_original_row_and_every_reason_and_imports_once_fixed(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    rows = [
        {"name": "Ada", "phone": "2125550100", "email": ""},
        {"name": "Bob", "phone": "21", "email": "bob@"},
    ]
    source = read_csv(write_csv(tmp_path / "in.csv", rows))
    outcome = await service(runtime).run(source)
    report = tmp_path / "in.rejects.csv"
    write_report(source, outcome.rejects, report)
    with report.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert lines == [
        {
            "row": "3",
            "name": "Bob",
            "phone": "21",
            "email": "bob@",
            "error_field": "phone | email",
            "error_code": "PHONE_INVALID | EMAIL_INVALID",
            "error_message": lines[0]["error_message"],
        }
    ]
    assert " | " in lines[0]["error_message"]

    # Fix the report in place and import it: its own columns are ignored.
    lines[0].update(phone="2125550101", email="bob@example.com")
    with report.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(lines[0]))
        writer.writeheader()
        writer.writerows(lines)
    again = await service(runtime).run(read_csv(report))
    assert (again.imported, again.rejects) == (1, [])
    assert await count(raw_sql, "customers") == 2


async def wipe_customers(runtime: Runtime) -> None:
    async with runtime.db.write() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in IMPORTED_TABLES:
                await session.execute(delete(table))


async def export(runtime: Runtime, **options: Any) -> str:
    out = io.StringIO()
    await CustomerExportService(runtime.tx, runtime.settings, None).export(out, **options)
    return out.getvalue()


async def test_export_then_import_into_an_empty_database_round_trips(
    runtime: Runtime, factory: Factory, tmp_path: Path
) -> None:
    await factory.store("MUM")
    rows = [
        {**FULL, "homeStoreCode": "MUM"},
        {**dict.fromkeys(FULL, ""), "name": "Bare", "phone": "2125550100"},
        {**dict.fromkeys(FULL, ""), "name": "Text, with \"quotes\"\nand lines",
         "phone": "2125550101", "smsMarketing": "yes", "remarks": "=1+2"},
    ]  # fmt: skip
    assert (await run_import(runtime, tmp_path, rows)).imported == 3
    first = await export(runtime)
    assert first.count("\n") >= 4

    await wipe_customers(runtime)
    (tmp_path / "export.csv").write_text(first, newline="")
    outcome = await service(runtime).run(read_csv(tmp_path / "export.csv"))
    assert (outcome.imported, outcome.rejects) == (3, [])
    # Rows come in id order, and the ids are new: compare the rows, not their order.
    assert sorted((await export(runtime)).splitlines()) == sorted(first.splitlines())


async def test_merged_customers_are_not_exported_and_pii_can_be_left_out(
    runtime: Runtime, factory: Factory
) -> None:
    kept = await factory.customer(name="Kept", phone="+12125550100", email="kept@example.com")
    gone = await factory.customer(name="Gone", phone="+12125550101")
    merged = await CustomerMergeService(runtime.tx, None).merge(gone.id, kept.id)
    assert merged.ok, merged.errors

    rows = list(csv.DictReader(io.StringIO(await export(runtime))))
    assert [r["name"] for r in rows] == ["Kept"]
    assert rows[0]["phone"] == "+12125550100"

    private = list(csv.DictReader(io.StringIO(await export(runtime, include_pii=False))))
    assert [(r["name"], r["phone"], r["email"]) for r in private] == [("Kept", "", "")]


async def test_the_export_reads_in_batches_past_the_first(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.services.customer_export.BATCH", 7)
    await run_import(runtime, tmp_path, many_rows(20))
    rows = list(csv.DictReader(io.StringIO(await export(runtime))))
    assert sorted(r["phone"] for r in rows) == sorted(f"+1646555{i:04d}" for i in range(20))


def test_the_audited_view_of_an_imported_customer_is_the_one_create_audits(
    tmp_path: Path,
) -> None:
    row = read_csv(write_csv(tmp_path / "one.csv", [FULL])).rows[0]
    checked = check_row(row, "IN")
    assert not isinstance(checked, RejectedRow)
    store_id = uuid.uuid4()
    record = CustomerRecord(
        id=uuid.uuid4(),
        status=CustomerStatus.INACTIVE,
        version=1,
        home_store_id=store_id,
        created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
        **{k: checked.fields[k] for k in SCALAR_FIELDS},
    )
    created = created_snapshot(record, checked.fields)
    assert imported_snapshot(checked.fields, CustomerStatus.INACTIVE, store_id) == created
    assert list(imported_snapshot(checked.fields, CustomerStatus.INACTIVE, store_id)) == list(
        created
    )
