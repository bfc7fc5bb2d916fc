"""Customers from a CSV file: every row checked by create's rules, written batch by batch.

The file: UTF-8 (a byte-order mark is fine), a header row of API field names in any case
(``IMPORT_COLUMNS``), one customer per row. A column we do not know refuses the whole file
before anything is read further, so a typo never silently drops a field.

Each row is checked with the rules ``customerCreate`` uses (``customers.check_new``, i.e.
``FIELD_CHECKS``, ``check_profile`` and the consent rule), then against the rest of the
file (a phone number or customer code on an earlier accepted row) and the database
(``PHONE_TAKEN``, ``CUSTOMER_CODE_TAKEN``, an unknown ``homeStoreCode``). A rejected row
is reported with every reason found and nothing of it is saved.

Policy: by default the accepted rows are imported and the rejected ones reported (a file
from another system is rarely perfect, and the report is what gets fixed and imported
again: it carries the original columns, and the import ignores its extra columns). The
file goes in batches of ``ROWS_PER_TRANSACTION`` rows, each checked and then written and
committed in a transaction of its own, so tills creating customers meanwhile wait for a
batch, never for the file. A customer is always whole (its row, name words, phones,
addresses, consents, audit entry and feed entry commit together), but a crash or a
constraint failure midway keeps the batches committed before it: importing the same file
again adds the rest, and reports the rows already in as ``PHONE_TAKEN``.
``all_or_nothing`` checks every row first and writes every row or none in ONE
transaction (tills wait for it); ``dry_run`` only checks. Imported customers are audited
(action ``import``), appear in their home store's change feed, and an imported marketing
opt-in is recorded with source IMPORT in the consent history. No registration message is
sent: these are existing customers, not new sign-ups.

Speed (DESIGN.md §6, bench/README.md): checks run in Python outside any transaction; the
database is asked about uniqueness 1,000 values per statement; rows are written by the
backend's bulk path (``app/db/bulk.py``: COPY on PostgreSQL, bare executemany on
SQLite), and the new customers are numbered in their home store's feed without looking
up holders (none can hold them yet).
"""

from __future__ import annotations

import asyncio
import csv
import enum
import gc
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.stores import StoreRepository
from app.domain.errors import ErrorCode, Rejected, UserError
from app.domain.records import (
    Actor,
    ConsentSource,
    ContactChannel,
    CustomerStatus,
    Gender,
    MarketingChannel,
)
from app.services.customers import (
    AddressDraft,
    CustomerCreate,
    PhoneDraft,
    check_new,
    customer_row,
    imported_snapshot,
)
from app.services.unit_of_work import Transactions, UnitOfWork
from app.settings import Settings

# The columns an import reads and an export writes, in the export's order.
IMPORT_COLUMNS = (
    "name",
    "firstName",
    "lastName",
    "phone",
    "otherPhones",
    "email",
    "customerCode",
    "birthDate",
    "gender",
    "pan",
    "gstin",
    "state",
    "regNo",
    "vatNo",
    "allowCreditSale",
    "creditLimit",
    "preferredChannel",
    "willingToReceive",
    "remarks",
    "loyaltyOptOut",
    "homeStoreCode",
    "status",
    "emailMarketing",
    "smsMarketing",
    "addressLabel",
    "addressLine1",
    "addressLine2",
    "city",
    "region",
    "postalCode",
    "country",
)
# What a rejects report adds; importing a corrected report ignores them.
REPORT_ROW = "row"
REPORT_ERRORS = ("error_field", "error_code", "error_message")
_IGNORED = {c.lower() for c in (REPORT_ROW, *REPORT_ERRORS)}
_BY_LOWER = {c.lower(): c for c in IMPORT_COLUMNS}
ADDRESS_COLUMNS = {
    "label": "addressLabel",
    "line1": "addressLine1",
    "line2": "addressLine2",
    "city": "city",
    "region": "region",
    "postalCode": "postalCode",
    "country": "country",
}
OTHER_PHONES_SEPARATOR = ";"
BATCH = 1000  # values per IN list: far under every bind limit
# Rows checked, then written and committed, at a time: what a till creating a customer
# may wait for (a fraction of a second), against a commit's fixed cost.
ROWS_PER_TRANSACTION = 5000
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Progress = Callable[[str, int, int], None]
E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


class ImportRefused(Exception):
    """The file as a whole cannot be imported (not UTF-8 CSV, unknown or missing columns)."""


@dataclass(frozen=True, slots=True)
class RowError:
    column: str
    code: str
    message: str


@dataclass(slots=True)
class SourceRow:
    """One data row as read: its line in the file, its cells, and the cells by column."""

    line: int
    cells: list[str]
    values: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class CsvFile:
    header: list[str]
    # The column each header cell stands for; None for a rejects report's own columns.
    columns: list[str | None]
    rows: list[SourceRow]


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row: SourceRow
    errors: list[RowError]


@dataclass(slots=True)
class _Accepted:
    row: SourceRow
    fields: dict[str, Any]
    store_code: str | None
    status: CustomerStatus
    consents: tuple[MarketingChannel, ...]
    home_store_id: uuid.UUID | None = None


@dataclass(slots=True)
class ImportOutcome:
    rows: int
    accepted: int
    imported: int
    rejects: list[RejectedRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.imported > 0


def _batches(items: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- reading the file --------------------------------------------------------------


Columns = Callable[[list[str]], list[str | None]]


def read_csv(path: Path, columns: Columns | None = None) -> CsvFile:
    """The file's rows, or ``ImportRefused`` saying what is wrong with the file as a whole.

    ``columns`` maps the header to known columns (default: the customer columns).
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read(handle, columns or _columns)
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"{path.name} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8."
        ) from None
    except csv.Error as exc:
        raise ImportRefused(f"{path.name} is not a readable CSV file: {exc}") from None
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror}") from None


def _read(handle: Iterable[str], known: Columns) -> CsvFile:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise ImportRefused("The file is empty: it needs a header row of column names.")
    header = [h.strip() for h in header]
    columns = known(header)
    rows: list[SourceRow] = []
    while True:
        line = reader.line_num + 1
        cells = next(reader, None)
        if cells is None:
            break
        if not any(c.strip() for c in cells):
            continue  # blank lines, and spreadsheets' trailing ",,,," rows
        values = {c: v for c, v in zip(columns, cells, strict=False) if c is not None}
        # Fewer cells are trailing blanks some spreadsheets drop; more would be lost data.
        problem = (
            f"{len(cells)} values for {len(header)} columns." if len(cells) > len(header) else None
        )
        rows.append(SourceRow(line=line, cells=cells, values=values, problem=problem))
    return CsvFile(header=header, columns=columns, rows=rows)


def _columns(header: list[str]) -> list[str | None]:
    columns: list[str | None] = []
    unknown: list[str] = []
    for position, name in enumerate(header, start=1):
        if not name:
            raise ImportRefused(f"Column {position} has no name in the header row.")
        key = name.lower()
        if key in _IGNORED:
            columns.append(None)
        elif key in _BY_LOWER:
            columns.append(_BY_LOWER[key])
        else:
            unknown.append(name)
    if unknown:
        raise ImportRefused(
            f"Unknown column(s): {', '.join(unknown)}. Known columns: {', '.join(IMPORT_COLUMNS)}."
        )
    named = [c for c in columns if c is not None]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise ImportRefused(f"Column(s) given twice: {', '.join(repeated)}.")
    if "phone" not in named:
        raise ImportRefused("The file has no phone column; every customer needs a phone number.")
    if not {"name", "firstName", "lastName"} & set(named):
        raise ImportRefused("The file has no name column (name, or firstName and lastName).")
    return columns


# -- one row -------------------------------------------------------------------------


class _Cells:
    """Typed reads of a row's cells; a cell that cannot be read adds an error, not a value."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.errors: list[RowError] = []

    def text(self, column: str) -> str | None:
        value = self.values.get(column, "").strip()
        if "\x00" in value:
            # PostgreSQL cannot store it; one such cell must not abort the whole file.
            self._bad(column, "Text may not contain NUL characters.")
            return None
        return value or None

    def _bad(self, column: str, message: str) -> None:
        self.errors.append(RowError(column, ErrorCode.INVALID.value, message))

    def flag(self, column: str) -> bool:
        value = (self.text(column) or "false").lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self._bad(column, "Expected true or false (yes/no, 1/0).")
        return False

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            if _ISO_DATE.match(value):
                return date.fromisoformat(value)
        except ValueError:
            pass
        self._bad(column, "A date is written YYYY-MM-DD, e.g. 1990-04-21.")
        return None

    def amount(self, column: str) -> Decimal | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            self._bad(column, "Expected an amount, e.g. 1500.00.")
            return None

    def choice(self, column: str, kind: type[E]) -> E | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            return kind(value.upper().replace(" ", "_").replace("-", "_"))
        except ValueError:
            self._bad(column, f"One of: {', '.join(str(m.value) for m in kind)}.")
            return None


def _command(cells: _Cells) -> CustomerCreate:
    address_given = any(cells.text(c) for c in ADDRESS_COLUMNS.values())
    addresses = (
        (
            AddressDraft(
                line1=cells.text("addressLine1") or "",
                line2=cells.text("addressLine2"),
                city=cells.text("city"),
                region=cells.text("region"),
                postal_code=cells.text("postalCode"),
                country=cells.text("country"),
                label=cells.text("addressLabel"),
            ),
        )
        if address_given
        else ()
    )
    others = (cells.text("otherPhones") or "").split(OTHER_PHONES_SEPARATOR)
    return CustomerCreate(
        phone=cells.text("phone") or "",
        name=cells.text("name"),
        email=cells.text("email"),
        customer_code=cells.text("customerCode"),
        first_name=cells.text("firstName"),
        last_name=cells.text("lastName"),
        birth_date=cells.day("birthDate"),
        gender=cells.choice("gender", Gender),
        pan=cells.text("pan"),
        gstin=cells.text("gstin"),
        state_code=cells.text("state"),
        reg_no=cells.text("regNo"),
        vat_no=cells.text("vatNo"),
        allow_credit_sale=cells.flag("allowCreditSale"),
        credit_limit=cells.amount("creditLimit"),
        preferred_channel=cells.choice("preferredChannel", ContactChannel),
        willing_to_receive=cells.flag("willingToReceive"),
        remarks=cells.text("remarks"),
        loyalty_opt_out=cells.flag("loyaltyOptOut"),
        addresses=addresses,
        phones=tuple(PhoneDraft(number=n.strip()) for n in others if n.strip()),
        email_marketing=cells.flag("emailMarketing"),
        sms_marketing=cells.flag("smsMarketing"),
    )


def _column_of(error: UserError) -> str:
    """The CSV column an API error path points at: ["input", "addresses", "0", "city"] → city."""
    path = [p for p in error.field or () if p != "input"]
    if not path:
        return ""
    if path[0] == "addresses":
        return ADDRESS_COLUMNS.get(path[-1], "addressLine1")
    if path[0] in ("otherPhones", "phones"):
        return "otherPhones"
    return path[0]


def check_row(row: SourceRow, region: str) -> _Accepted | RejectedRow:
    """One row by create's own rules (``check_new``), with every reason it fails."""
    cells = _Cells(row.values)
    cmd = _command(cells)
    status = cells.choice("status", CustomerStatus) or CustomerStatus.ACTIVE
    if status is CustomerStatus.MERGED:
        cells.errors.append(
            RowError("status", ErrorCode.INVALID.value, "A status is ACTIVE or INACTIVE.")
        )
    errors = list(cells.errors)
    if row.problem is not None:
        errors.append(RowError("", ErrorCode.INVALID.value, row.problem))
    try:
        fields = check_new(cmd, region)
    except Rejected as rejected:
        errors.extend(RowError(_column_of(e), e.code.value, e.message) for e in rejected.errors)
        fields = {}
    if errors:
        return RejectedRow(row, errors)
    consents = tuple(
        channel
        for channel, wanted in (
            (MarketingChannel.EMAIL, cmd.email_marketing),
            (MarketingChannel.SMS, cmd.sms_marketing),
        )
        if wanted
    )
    return _Accepted(row, fields, cells.text("homeStoreCode"), status, consents)


def _numbers(accepted: _Accepted) -> list[tuple[str, str]]:
    """(column, number) for the main phone and each extra one: all share one namespace."""
    return [("phone", accepted.fields["phone"])] + [
        ("otherPhones", p.phone) for p in accepted.fields["phones"]
    ]


class _FirstHolders:
    """Who in the file has each number and code so far: the first accepted row keeps it,
    later rows are rejected. Fed in file order, chunk by chunk."""

    def __init__(self) -> None:
        self.phone_on: dict[str, int] = {}
        self.code_on: dict[str, int] = {}

    def keep_first(self, accepted: list[_Accepted]) -> tuple[list[_Accepted], list[RejectedRow]]:
        phone_on, code_on = self.phone_on, self.code_on
        kept: list[_Accepted] = []
        rejects: list[RejectedRow] = []
        for item in accepted:
            errors = [
                RowError(column, ErrorCode.DUPLICATE.value, f"Row {phone_on[n]} has {n} too.")
                for column, n in _numbers(item)
                if n in phone_on
            ]
            code = item.fields["customer_code"]
            if code is not None and code in code_on:
                errors.append(
                    RowError(
                        "customerCode",
                        ErrorCode.DUPLICATE.value,
                        f"Row {code_on[code]} has customer code {code} too.",
                    )
                )
            if errors:
                rejects.append(RejectedRow(item.row, errors))
                continue
            for _, n in _numbers(item):
                phone_on[n] = item.row.line
            if code is not None:
                code_on[code] = item.row.line
            kept.append(item)
        return kept, rejects


def _check_rows(
    rows: list[SourceRow], region: str, holders: _FirstHolders
) -> tuple[list[_Accepted], list[RejectedRow]]:
    """Rows by create's rules, then against the file's earlier rows."""
    checked: list[_Accepted] = []
    rejects: list[RejectedRow] = []
    for row in rows:
        outcome = check_row(row, region)
        if isinstance(outcome, RejectedRow):
            rejects.append(outcome)
        else:
            checked.append(outcome)
    kept, duplicates = holders.keep_first(checked)
    return kept, rejects + duplicates


async def _refresh_statistics(uow: UnitOfWork) -> None:
    await uow.customers.refresh_statistics()


# -- the service ----------------------------------------------------------------------


class CustomerImportService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor

    async def run(
        self,
        source: CsvFile,
        *,
        all_or_nothing: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportOutcome:
        # Millions of short-lived acyclic objects (cells, fields, rows): the cyclic
        # collector would rescan the growing heap ~50 times per 1,000 rows (2.3 s of an
        # import of 20k). Reference counting frees them all the same.
        paused = gc.isenabled()
        gc.disable()
        try:
            return await self._run(source, all_or_nothing, dry_run, progress)
        finally:
            if paused:
                gc.enable()

    async def _run(
        self, source: CsvFile, all_or_nothing: bool, dry_run: bool, progress: Progress | None
    ) -> ImportOutcome:
        report = progress or (lambda _phase, _done, _total: None)
        async with self.tx.db.read() as session:
            region = (await BusinessSettingsRepository(session).get()).default_phone_region
        total = len(source.rows)
        if dry_run or all_or_nothing:
            return await self._all_at_once(source.rows, region, report, dry_run=dry_run)

        # Batch by batch: check 1,000 rows, then write them in a transaction of their own.
        # A till creating a customer meanwhile waits for one batch, not for the file
        # (SQLite's one writer; PostgreSQL's lock on all numbers), and gets in while the
        # next batch is checked, when no lock is held.
        holders = _FirstHolders()
        accepted: list[_Accepted] = []
        rejects: list[RejectedRow] = []
        done = 0
        analyzed_at = ROWS_PER_TRANSACTION // 2
        for chunk in _batches(source.rows, ROWS_PER_TRANSACTION):
            checked, rejected = _check_rows(chunk, region, holders)
            rejects += rejected
            if checked:

                async def work(
                    uow: UnitOfWork, batch: list[_Accepted] = checked
                ) -> tuple[list[_Accepted], list[RejectedRow]]:
                    # Checked inside the transaction that writes: exact at commit, and a
                    # unique-constraint race retried by Transactions.run answers PHONE_TAKEN.
                    await uow.customers.lock_all_phones()
                    kept, taken = await self._check_database(uow.customers, uow.stores, batch)
                    await self._insert(uow, kept)
                    return kept, taken

                result = await self.tx.run(self.actor, work)
                assert result.value is not None  # work raises no Rejected
                kept, taken = result.value
                accepted += kept
                rejects += taken
                if len(accepted) >= analyzed_at * 2:
                    # Each time the import has doubled what it added (see refresh_statistics).
                    analyzed_at = len(accepted)
                    await self.tx.run(self.actor, _refresh_statistics)
                # A writer of this process queued meanwhile goes first (asyncio's queue
                # would otherwise hand the connection straight back to this loop).
                await asyncio.sleep(0)
            done += len(chunk)
            report("importing", done, total)
        return self._outcome(total, accepted, len(accepted), rejects)

    async def _all_at_once(
        self, rows: list[SourceRow], region: str, report: Progress, *, dry_run: bool
    ) -> ImportOutcome:
        """Every row checked first; then none written (a dry run), or every row or none in
        one transaction (all-or-nothing)."""
        holders = _FirstHolders()
        checked: list[_Accepted] = []
        rejects: list[RejectedRow] = []
        total, done = len(rows), 0
        for chunk in _batches(rows):
            kept, rejected = _check_rows(chunk, region, holders)
            checked += kept
            rejects += rejected
            done += len(chunk)
            report("checking", done, total)
        if dry_run:
            async with self.tx.db.read() as session:
                valid, taken = await self._check_database(
                    CustomerRepository(session), StoreRepository(session), checked
                )
            return self._outcome(total, valid, 0, rejects + taken)

        async def work(uow: UnitOfWork) -> tuple[list[_Accepted], list[RejectedRow], int]:
            # Tills creating customers meanwhile wait for the whole file: the price of
            # all-or-nothing (on SQLite all writers do).
            await uow.customers.lock_all_phones()
            accepted, taken = await self._check_database(uow.customers, uow.stores, checked)
            if rejects or taken:
                return accepted, taken, 0
            written = 0
            for batch in _batches(accepted):
                await self._insert(uow, batch)
                written += len(batch)
                report("importing", written, len(accepted))
            return accepted, taken, len(accepted)

        result = await self.tx.run(self.actor, work)
        assert result.value is not None  # work raises no Rejected
        accepted, taken, imported = result.value
        return self._outcome(total, accepted, imported, rejects + taken)

    @staticmethod
    def _outcome(
        total: int, accepted: list[_Accepted], imported: int, rejects: list[RejectedRow]
    ) -> ImportOutcome:
        return ImportOutcome(
            rows=total,
            accepted=len(accepted),
            imported=imported,
            rejects=sorted(rejects, key=lambda r: r.row.line),
        )

    async def _check_database(
        self,
        customers: CustomerRepository,
        stores: StoreRepository,
        checked: list[_Accepted],
    ) -> tuple[list[_Accepted], list[RejectedRow]]:
        """Numbers and codes already held by a customer, and home stores that do not exist."""
        owned: set[str] = set()
        numbers = [n for item in checked for _, n in _numbers(item)]
        for batch in _batches(numbers):
            owned.update(await customers.owners_of_phones(batch))
        codes = [c for item in checked if (c := item.fields["customer_code"]) is not None]
        taken_codes: set[str] = set()
        for batch in _batches(codes):
            taken_codes.update(await customers.owners_of_codes(batch))
        known = {s.code: s.id for s in await stores.list_all()}
        head_office = (await stores.head_office()).id
        folded = {code.casefold(): store_id for code, store_id in known.items()}

        accepted: list[_Accepted] = []
        rejects: list[RejectedRow] = []
        for item in checked:
            errors = [
                RowError(
                    column, ErrorCode.PHONE_TAKEN.value, "Another customer has this phone number."
                )
                for column, n in _numbers(item)
                if n in owned
            ]
            if item.fields["customer_code"] in taken_codes:
                errors.append(
                    RowError(
                        "customerCode",
                        ErrorCode.CUSTOMER_CODE_TAKEN.value,
                        "Another customer has this customer code.",
                    )
                )
            code = item.store_code
            store_id = head_office if code is None else known.get(code, folded.get(code.casefold()))
            if store_id is None:
                errors.append(
                    RowError("homeStoreCode", ErrorCode.NOT_FOUND.value, f"No store {code}.")
                )
            if errors:
                rejects.append(RejectedRow(item.row, errors))
                continue
            item.home_store_id = store_id
            accepted.append(item)
        return accepted, rejects

    async def _insert(self, uow: UnitOfWork, batch: list[_Accepted]) -> None:
        """One batch of checked customers, with everything create would write for them."""
        if not batch:
            return
        now = uow.now
        rows: list[dict[str, Any]] = []
        audits: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
        consents: list[tuple[uuid.UUID, MarketingChannel]] = []
        ids = [uuid.uuid4() for _ in batch]
        for customer_id, item in zip(ids, batch, strict=True):
            fields = item.fields
            row = customer_row(fields, now)
            del row["updated_at"]  # one value for the batch, bound once
            row.update(id=customer_id, status=item.status.value, home_store_id=item.home_store_id)
            rows.append(row)
            after = imported_snapshot(fields, item.status, item.home_store_id)
            for channel in item.consents:
                after[f"consent{channel.value.title()}"] = "SUBSCRIBED"
                consents.append((customer_id, channel))
            audits.append((customer_id, None, after))
        same = {"version": 1, "created_at": now, "updated_at": now, "merged_into_id": None}
        await uow.customers.insert_many(rows, same)
        await uow.customers.insert_profiles_many(
            [(c, i.fields["addresses"]) for c, i in zip(ids, batch, strict=True)],
            [(c, i.fields["phones"]) for c, i in zip(ids, batch, strict=True)],
        )
        await uow.consents.subscribe_new(
            consents, at=now, source=ConsentSource.IMPORT, actor_label=uow.actor_label
        )
        await uow.audit_many("customer", "import", audits)
        # Last: the feed's counter stays locked from here to commit.
        await uow.publish_new_customers(
            {c: i.home_store_id for c, i in zip(ids, batch, strict=True) if i.home_store_id}
        )


# -- the rejects report ---------------------------------------------------------------


def default_report_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}.rejects.csv")


def write_report(source: CsvFile, rejects: list[RejectedRow], path: Path) -> None:
    """The rejected rows as they were, with their line and every reason, ready to fix."""
    keep = [i for i, c in enumerate(source.columns) if c is not None]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([REPORT_ROW, *(source.header[i] for i in keep), *REPORT_ERRORS])
        for reject in rejects:
            cells = reject.row.cells
            writer.writerow(
                [
                    reject.row.line,
                    *(cells[i] if i < len(cells) else "" for i in keep),
                    " | ".join(e.column for e in reject.errors),
                    " | ".join(e.code for e in reject.errors),
                    " | ".join(e.message for e in reject.errors),
                ]
            )
