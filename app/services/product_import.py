"""Products from a CSV price list: new SKUs are created, known ones updated (issue 4).

The file: UTF-8, a header row of ``sku``, ``name``, ``price`` (required) and ``category``,
``stock`` (optional), in any case. Re-importing the price list is the normal use, so a SKU
the database knows (in any case) is an update of its name, price and category; a file
without a category column leaves categories as they are, an empty category cell clears
one. ``stock`` is a stock take: the count in one store (default head office) becomes it.

Each row is checked by ``productCreate``'s rules (``products.check_new``) and against the
earlier rows of the file; a rejected row is reported with every reason in the customer
import's rejects report (its row, original cells, columns, codes and messages) and
nothing of it is saved. The accepted rows are applied in ONE transaction and audited
(action ``import``, and ``stock_set`` for counts); ``dry_run`` only checks and counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.db.repositories.products import ProductRepository
from app.db.repositories.stores import StoreRepository
from app.domain.errors import ErrorCode, Rejected
from app.domain.products import ProductRecord, StockRecord
from app.domain.records import Actor, StoreRecord
from app.services.customer_import import (
    BATCH,
    REPORT_ERRORS,
    REPORT_ROW,
    CsvFile,
    ImportRefused,
    Progress,
    RejectedRow,
    RowError,
    SourceRow,
    read_csv,
)
from app.services.products import STOCK_MAX, check_new, snapshot
from app.services.unit_of_work import Transactions, UnitOfWork

COLUMNS = ("sku", "name", "price", "category", "stock")
REQUIRED = ("sku", "name", "price")
# What a price-list row may change on a known product; the SKU is its identity.
UPDATABLE = ("name", "price", "category")
RECORD_FIELDS = ("id", "sku", "name", "category", "price", "active", "created_at")


def _slices(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + BATCH] for start in range(0, len(items), BATCH)]


@dataclass(slots=True)
class _Checked:
    row: SourceRow
    fields: dict[str, Any]  # check_new's columns
    stock: int | None


@dataclass(slots=True)
class _Plan:
    store: StoreRecord
    new: list[tuple[uuid.UUID, _Checked]] = field(default_factory=list)
    changed: list[tuple[ProductRecord, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    # (product, count, count before or None where the store never counted it)
    counts: list[tuple[uuid.UUID, int, int | None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ProductImportOutcome:
    rows: int
    created: int
    updated: int
    unchanged: int
    stock_set: int
    store_code: str
    rejects: list[RejectedRow]

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


def _columns(header: list[str]) -> list[str | None]:
    known = {c.lower(): c for c in COLUMNS}
    # A corrected rejects report can be imported as it is: its own columns are skipped.
    ignored = {c.lower() for c in (REPORT_ROW, *REPORT_ERRORS)}
    columns: list[str | None] = []
    unknown: list[str] = []
    for position, name in enumerate(header, start=1):
        if not name:
            raise ImportRefused(f"Column {position} has no name in the header row.")
        if name.lower() in ignored:
            columns.append(None)
        elif name.lower() in known:
            columns.append(known[name.lower()])
        else:
            unknown.append(name)
    if unknown:
        raise ImportRefused(
            f"Unknown column(s): {', '.join(unknown)}. Known columns: {', '.join(COLUMNS)}."
        )
    named = [c for c in columns if c is not None]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise ImportRefused(f"Column(s) given twice: {', '.join(repeated)}.")
    missing = [c for c in REQUIRED if c not in named]
    if missing:
        raise ImportRefused(f"The file has no {', '.join(missing)} column(s).")
    return columns


def read_products(path: Path) -> CsvFile:
    """The file's rows, or ``ImportRefused`` saying what is wrong with the file as a whole."""
    return read_csv(path, _columns)


def check_row(row: SourceRow) -> _Checked | RejectedRow:
    """One row by productCreate's rules, with every reason it fails."""
    cells = {k: v.strip() for k, v in row.values.items()}
    errors: list[RowError] = []
    if row.problem is not None:
        errors.append(RowError("", ErrorCode.INVALID.value, row.problem))
    for column, value in cells.items():
        if "\x00" in value:
            # PostgreSQL cannot store it: the row is refused, not the whole file.
            errors.append(
                RowError(column, ErrorCode.INVALID.value, "Text may not contain NUL characters.")
            )
            cells[column] = value.replace("\x00", "")
    try:
        price = Decimal(cells.get("price", ""))
    except InvalidOperation:
        errors.append(RowError("price", ErrorCode.INVALID.value, "Not a number, e.g. 4.50."))
        price = Decimal(0)  # stands in so that the other cells are still checked
    stock: int | None = None
    if cells.get("stock"):
        try:
            stock = int(cells["stock"])
        except ValueError:
            stock = -1
        if not 0 <= stock <= STOCK_MAX:
            message = f"A whole number from 0 to {STOCK_MAX:,}."
            errors.append(RowError("stock", ErrorCode.INVALID.value, message))
    try:
        fields = check_new(
            cells.get("sku", ""), cells.get("name", ""), price, cells.get("category")
        )
    except Rejected as rejected:
        errors.extend(
            RowError((e.field or ("",))[-1], e.code.value, e.message) for e in rejected.errors
        )
    if errors:
        # In the file's column order, as a reader of the report scans the row.
        errors.sort(key=lambda e: COLUMNS.index(e.column) if e.column in COLUMNS else -1)
        return RejectedRow(row, errors)
    return _Checked(row, fields, stock)


def _check_all(source: CsvFile, report: Progress) -> tuple[list[_Checked], list[RejectedRow]]:
    """Every row checked; a SKU on an earlier accepted row rejects the later ones."""
    checked: list[_Checked] = []
    rejects: list[RejectedRow] = []
    first_on: dict[str, int] = {}
    for done, row in enumerate(source.rows, start=1):
        outcome = check_row(row)
        if isinstance(outcome, _Checked):
            key = outcome.fields["sku_key"]
            if key in first_on:
                message = f"Row {first_on[key]} has SKU {outcome.fields['sku']} too."
                outcome = RejectedRow(row, [RowError("sku", ErrorCode.DUPLICATE.value, message)])
            else:
                first_on[key] = row.line
        if isinstance(outcome, RejectedRow):
            rejects.append(outcome)
        else:
            checked.append(outcome)
        if done % BATCH == 0 or done == len(source.rows):
            report("checking", done, len(source.rows))
    return checked, rejects


async def _plan(
    products: ProductRepository, store: StoreRecord, checked: list[_Checked], has_category: bool
) -> _Plan:
    """What applying the rows would do, read from the database."""
    existing: dict[str, ProductRecord] = {}
    for batch in _slices([c.fields["sku_key"] for c in checked]):
        existing.update(await products.by_sku_keys(batch))
    stock: dict[uuid.UUID, StockRecord] = {}
    counted = [
        existing[key].id
        for c in checked
        if c.stock is not None and (key := c.fields["sku_key"]) in existing
    ]
    for batch in _slices(counted):
        stock.update(await products.stock_for(batch, store.id))

    plan = _Plan(store)
    for item in checked:
        current = existing.get(item.fields["sku_key"])
        if current is None:
            product_id = uuid.uuid4()
            plan.new.append((product_id, item))
            before = None
        else:
            product_id = current.id
            wanted = {k: item.fields[k] for k in UPDATABLE if k != "category" or has_category}
            values = {k: v for k, v in wanted.items() if getattr(current, k) != v}
            if values:
                plan.changed.append((current, values))
            else:
                plan.unchanged += 1
            held = stock.get(current.id)
            before = held.on_hand if held else None
        if item.stock is not None and item.stock != before:
            plan.counts.append((product_id, item.stock, before))
    return plan


async def _apply(uow: UnitOfWork, plan: _Plan, report: Progress) -> None:
    # Rows in the order sales lock them (product id), not file order: an import and a
    # till selling two of its products must queue, not deadlock (PostgreSQL).
    plan.new.sort(key=lambda pair: pair[0].hex)
    plan.changed.sort(key=lambda pair: pair[0].id.hex)
    plan.counts.sort(key=lambda count: count[0].hex)
    now, total, done = uow.now, len(plan.new) + len(plan.changed), 0
    for batch in _slices(plan.new):
        rows = [
            {**item.fields, "id": pid, "active": True, "created_at": now} for pid, item in batch
        ]
        await uow.products.insert_many(rows)
        created = [ProductRecord(**{k: r[k] for k in RECORD_FIELDS}, updated_at=None) for r in rows]
        await uow.audit_many("product", "import", [(p.id, None, snapshot(p)) for p in created])
        done += len(batch)
        report("importing", done, total)
    for batch_changed in _slices(plan.changed):
        audits: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]] = []
        for current, values in batch_changed:
            await uow.products.update(current.id, {**values, "updated_at": now})
            before = snapshot(current)
            after = {**before, **values, "price": str(values.get("price", current.price))}
            keys = [k for k in after if after[k] != before[k]]
            audits.append((current.id, {k: before[k] for k in keys}, {k: after[k] for k in keys}))
        await uow.audit_many("product", "import", audits)
        done += len(batch_changed)
        report("importing", done, total)
    code = plan.store.code
    for product_id, on_hand, _ in plan.counts:
        await uow.products.set_stock(product_id, plan.store.id, on_hand, now)
    await uow.audit_many(
        "product",
        "stock_set",
        [
            (pid, {"store": code, "onHand": before}, {"store": code, "onHand": on_hand})
            for pid, on_hand, before in plan.counts
        ],
    )


class ProductImportService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def _store(self, code: str | None) -> StoreRecord:
        async with self.tx.db.read() as session:
            stores = StoreRepository(session)
            if code is None:
                return await stores.head_office()
            found = await stores.get_by_code(code)
        if found is None:
            raise ImportRefused(f"No store {code}: the stock column needs a store that exists.")
        return found

    async def run(
        self,
        source: CsvFile,
        *,
        store_code: str | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ProductImportOutcome:
        """Check every row, then apply the accepted ones in one transaction (unless dry_run)."""
        report = progress or (lambda _phase, _done, _total: None)
        store = await self._store(store_code)
        checked, rejects = _check_all(source, report)
        has_category = "category" in source.columns

        if dry_run:
            async with self.tx.db.read() as session:
                plan = await _plan(ProductRepository(session), store, checked, has_category)
        else:

            async def work(uow: UnitOfWork) -> _Plan:
                # Planned again inside the writing transaction: exact at commit, and a
                # product created meanwhile (a unique-key race, retried) becomes an update.
                found = await _plan(uow.products, store, checked, has_category)
                await _apply(uow, found, report)
                return found

            result = await self.tx.run(self.actor, work)
            assert result.value is not None  # work raises no Rejected
            plan = result.value
        return ProductImportOutcome(
            rows=len(source.rows),
            created=len(plan.new),
            updated=len(plan.changed),
            unchanged=plan.unchanged,
            stock_set=len(plan.counts),
            store_code=store.code,
            rejects=sorted(rejects, key=lambda r: r.row.line),
        )
