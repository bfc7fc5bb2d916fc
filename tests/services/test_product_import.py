"""Product import: a price list creates new SKUs, updates known ones, sets counts, in one go."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain.products import ProductRecord
from app.runtime import Runtime
from app.services.customer_import import ImportRefused, read_csv, write_report
from app.services.product_import import ProductImportOutcome, ProductImportService, read_products
from tests.factories import Factory

ERRORS = ["error_field", "error_code", "error_message"]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def run_import(
    runtime: Runtime, tmp_path: Path, text: str, **options: Any
) -> ProductImportOutcome:
    source = read_products(write_csv(tmp_path / "in.csv", text))
    return await ProductImportService(runtime.tx, None).run(source, **options)


def reasons(outcome: ProductImportOutcome) -> dict[int, set[tuple[str, str]]]:
    return {r.row.line: {(e.column, e.code) for e in r.errors} for r in outcome.rejects}


async def catalogue(raw_sql: Any) -> list[tuple[str, str, str, str | None, bool]]:
    rows = await raw_sql("SELECT sku, name, price, category, active FROM products ORDER BY sku_key")
    return [(s, n, str(Decimal(str(p))), c, bool(a)) for s, n, p, c, a in rows]


async def on_hand(raw_sql: Any) -> dict[tuple[str, str], int]:
    rows = await raw_sql(
        "SELECT p.sku, s.code, ps.on_hand FROM product_stock ps "
        "JOIN products p ON p.id = ps.product_id JOIN stores s ON s.id = ps.store_id"
    )
    return {(sku, code): n for sku, code, n in rows}


async def test_new_rows_are_created_with_their_stock_and_audited(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    outcome = await run_import(
        runtime,
        tmp_path,
        "\ufeffSKU,Name,Price,Category,Stock\n"
        "tea-1, Green tea ,4.5,Drinks,12\n"
        "CAKE-1,Teacake,2.00,,\n",
    )
    assert (outcome.rows, outcome.created, outcome.updated, outcome.unchanged) == (2, 2, 0, 0)
    assert (outcome.stock_set, outcome.store_code, outcome.rejects) == (1, "HO", [])
    assert await catalogue(raw_sql) == [
        ("CAKE-1", "Teacake", "2.00", None, True),
        ("tea-1", "Green tea", "4.50", "Drinks", True),
    ]
    assert await on_hand(raw_sql) == {("tea-1", "HO"): 12}
    audits = await raw_sql(
        "SELECT action, after, actor_label FROM audit_entries WHERE entity_type = 'product'"
    )
    as_json = [(a, json.loads(v) if isinstance(v, str) else v, who) for a, v, who in audits]
    assert sorted((a, v.get("sku"), who) for a, v, who in as_json) == [
        ("import", "CAKE-1", "system"),
        ("import", "tea-1", "system"),
        ("stock_set", None, "system"),
    ]


async def test_known_skus_are_updated_in_any_case(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    """A re-imported price list: new prices for known SKUs; no duplicates."""
    branch = await factory.store("BR1")
    tea = await factory.product(sku="TEA-1", name="Tea", price="4.00", category="Drinks")
    await factory.product(sku="MUG", name="Mug", price="8.00", stock={branch.id: 3})
    await factory.product(sku="SPOON", name="Spoon", price="1.00", category="Cutlery")

    outcome = await run_import(
        runtime,
        tmp_path,
        "sku,name,price,stock\ntea-1,Green tea,4.25,7\nMUG,Mug,8.00,3\nspoon,Spoon,1.00,\n",
        store_code="BR1",
    )
    assert (outcome.created, outcome.updated, outcome.unchanged, outcome.rejects) == (0, 1, 2, [])
    # MUG's count is already 3: nothing to set.
    assert (outcome.stock_set, outcome.store_code) == (1, "BR1")
    # No category column: categories are left as they are; the SKU keeps its case.
    assert await catalogue(raw_sql) == [
        ("MUG", "Mug", "8.00", None, True),
        ("SPOON", "Spoon", "1.00", "Cutlery", True),
        ("TEA-1", "Green tea", "4.25", "Drinks", True),
    ]
    assert await on_hand(raw_sql) == {("MUG", "BR1"): 3, ("TEA-1", "BR1"): 7}
    [(before, after)] = await raw_sql(
        "SELECT before, after FROM audit_entries WHERE action = 'import' AND entity_id = :id",
        id=str(tea.id),
    )
    loaded = [json.loads(v) if isinstance(v, str) else v for v in (before, after)]
    assert loaded == [{"name": "Tea", "price": "4.00"}, {"name": "Green tea", "price": "4.25"}]

    cleared = await run_import(runtime, tmp_path, "sku,name,price,category\nSPOON,Spoon,1.00,\n")
    assert (cleared.updated, cleared.stock_set) == (1, 0)
    assert (await catalogue(raw_sql))[1] == ("SPOON", "Spoon", "1.00", None, True)


async def test_bad_rows_are_reported_and_the_rest_applied(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    outcome = await run_import(
        runtime,
        tmp_path,
        "sku,name,price,category,stock\n"
        "OK-1,Fine,1.00,,\n"
        "BAD SKU,,abc,,-1\n"
        "OK-2,Price,1.005,,\n"
        "ok-1,Again,2.00,,\n"
        "\n"
        "OK-3,Extra,1.00,,,surplus\n"
        ",Nameless,1.00,,1.5\n"
        "OK-4,Long," + "9" * 12 + ",c,\n",
    )
    assert (outcome.rows, outcome.created) == (7, 1)
    assert reasons(outcome) == {
        3: {
            ("sku", "INVALID"),
            ("name", "REQUIRED"),
            ("price", "INVALID"),
            ("stock", "INVALID"),
        },
        4: {("price", "INVALID")},
        5: {("sku", "DUPLICATE")},
        7: {("", "INVALID")},
        8: {("sku", "REQUIRED"), ("stock", "INVALID")},
        9: {("price", "INVALID")},
    }
    assert [r[0] for r in await catalogue(raw_sql)] == ["OK-1"]

    report = tmp_path / "in.rejects.csv"
    source = read_products(tmp_path / "in.csv")
    write_report(source, outcome.rejects, report)
    with report.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "sku", "name", "price", "category", "stock", *ERRORS]
    assert rows[1][:6] == ["3", "BAD SKU", "", "abc", "", "-1"]
    assert rows[3][-3:] == ["sku", "DUPLICATE", "Row 2 has SKU ok-1 too."]
    # The corrected report imports as it is: its own columns are skipped.
    assert read_products(report).columns[0] is None


async def test_a_dry_run_counts_and_changes_nothing(
    runtime: Runtime, factory: Factory, raw_sql: Any, tmp_path: Path
) -> None:
    await factory.product(sku="TEA-1", price="4.00")
    before = await catalogue(raw_sql)
    outcome = await run_import(
        runtime,
        tmp_path,
        "sku,name,price,stock\nTEA-1,Tea,5.00,4\nNEW,New,1.00,\nBAD,,1,\n",
        dry_run=True,
    )
    assert (outcome.created, outcome.updated, outcome.stock_set) == (1, 1, 1)
    assert reasons(outcome) == {4: {("name", "REQUIRED")}}
    assert await catalogue(raw_sql) == before
    assert await on_hand(raw_sql) == {}
    assert await raw_sql("SELECT count(*) FROM audit_entries WHERE action = 'import'") == [(0,)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sku,name,price,colour\n", r"Unknown column\(s\): colour"),
        ("sku,name\n", "no price column"),
        ("sku,name,price,SKU\n", "given twice: sku"),
        ("", "empty"),
    ],
)
def test_a_file_with_bad_columns_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ImportRefused, match=message):
        read_products(write_csv(tmp_path / "in.csv", text))


def test_customer_files_still_read_with_customer_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", "name,phone\nAda,2125550100\n")
    assert read_csv(path).columns == ["name", "phone"]
    with pytest.raises(ImportRefused, match="Unknown column"):
        read_products(path)


async def test_an_unknown_store_refuses_the_import(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    with pytest.raises(ImportRefused, match="No store NOPE"):
        await run_import(runtime, tmp_path, "sku,name,price\nA,A,1\n", store_code="NOPE")
    assert await catalogue(raw_sql) == []


async def test_imported_products_are_found_by_sku(runtime: Runtime, tmp_path: Path) -> None:
    await run_import(runtime, tmp_path, "sku,name,price\nScan-1,Scanned,3.30\n")

    async def look(uow: Any) -> dict[str, ProductRecord]:
        return await uow.products.by_sku_keys(["SCAN-1"])  # type: ignore[no-any-return]

    found = (await runtime.tx.run(None, look)).value
    assert found is not None
    assert (found["SCAN-1"].sku, found["SCAN-1"].price) == ("Scan-1", Decimal("3.30"))


async def test_an_import_and_a_sale_of_its_products_queue_instead_of_deadlocking(
    runtime: Runtime, factory: Factory, tmp_path: Path, monkeypatch: Any
) -> None:
    import asyncio

    from app.db.repositories.products import ProductRepository
    from app.domain.sales import PaymentMethod
    from app.services.sales import LineDraft, SaleCompletion, SaleCreate

    first, second = await factory.product("JAR-A", "1.00"), await factory.product("JAR-B", "1.00")
    low, high = sorted((first, second), key=lambda p: p.id.hex)
    sales = factory.sales()
    opened = await sales.create(SaleCreate(lines=(LineDraft(low.sku, 1), LineDraft(high.sku, 1))))
    assert opened.value
    counted, release = asyncio.Event(), asyncio.Event()
    set_stock = ProductRepository.set_stock

    async def set_stock_then_wait(self: ProductRepository, *args: Any) -> None:
        await set_stock(self, *args)
        if not counted.is_set():
            counted.set()
            await release.wait()  # the import holds its first stock row

    monkeypatch.setattr(ProductRepository, "set_stock", set_stock_then_wait)
    # The file lists the higher id first: counted in file order, the import would hold
    # that row while the sale holds the other, and PostgreSQL would kill one of them.
    text = f"sku,name,price,stock\n{high.sku},Jar,1.00,7\n{low.sku},Jar,1.00,7\n"
    importing = asyncio.create_task(run_import(runtime, tmp_path, text))
    await counted.wait()
    selling = asyncio.create_task(
        sales.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH))
    )
    await asyncio.sleep(0.3)
    release.set()
    outcome = await importing
    assert outcome.rejects == []
    done = await selling
    assert done.ok, done.errors


async def test_a_nul_in_a_cell_rejects_the_row_not_the_file(
    runtime: Runtime, raw_sql: Any, tmp_path: Path
) -> None:
    outcome = await run_import(
        runtime, tmp_path, "sku,name,price\nOK-1,Fine,1.00\nBAD-1,Bro\x00ken,1.00\n"
    )
    assert reasons(outcome) == {3: {("name", "INVALID")}}
    assert [row[0] for row in await catalogue(raw_sql)] == ["OK-1"]
