"""Importing 100k customers from CSV: ``poscrm import-customers``' service against raw inserts.

Usage: ``.venv/bin/python bench/import_customers.py [--customers N]`` (default 100,000);
with ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (see ``_common.py``).

Generates a CSV like one exported from another shop system (phones in several formats,
emails, codes, birth dates, some extra phones, addresses and marketing opt-ins), then
times the import as the CLI runs it: read the file, check every row with create's rules,
check uniqueness against the database, write everything (customers, name words, phones,
addresses, consents and their history, audit entries, feed entries), a transaction per
1,000 rows. Then, apart, the row checks alone (``check_row`` over the file, no database).

Baselines, in the same run, on the bare driver (sqlite3 / asyncpg) into a second empty
database: the very same rows the import wrote, into ``customers`` alone and into every
table it wrote (no checks, no Python objects), by executemany and, on PostgreSQL, by
COPY. The ratio that counts (issue 12: <= 1.5x) is the import over the fastest raw copy
into all tables.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import random
import sqlite3
import time
from pathlib import Path

from _common import raw_connect, scratch_database, temp_dir
from sqlalchemy.engine import make_url

from app.db.engine import Database
from app.services.auth import AuthService
from app.services.customer_import import (
    IMPORT_COLUMNS,
    CustomerImportService,
    check_row,
    read_csv,
)
from app.services.unit_of_work import Transactions
from app.settings import Settings

# In foreign-key order; what an import writes.
TABLES = (
    "customers",
    "customer_name_words",
    "customer_phones",
    "customer_addresses",
    "marketing_consents",
    "marketing_consent_history",
    "audit_entries",
    "store_customers",
)
FIRST = ["Ana", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jamal"]
LAST = ["Garcia", "Smith", "Nguyen", "Okafor", "Rossi", "Müller", "Tanaka", "Dubois", "Patel"]
AREAS = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218]
STORES = ("DT", "HB")


def phone_text(n: int, rng: random.Random) -> str:
    area, line = AREAS[n % len(AREAS)], n // len(AREAS)
    exchange, number = 555 if line < 10_000 else 556 + line // 10_000, line % 10_000
    return rng.choice(
        [
            f"({area}) {exchange}-{number:04d}",
            f"{area}{exchange}{number:04d}",
            f"+1 {area} {exchange} {number:04d}",
        ]
    )


def generate(path: Path, customers: int) -> None:
    rng = random.Random(20261123)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=IMPORT_COLUMNS)
        writer.writeheader()
        for n in range(customers):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{n}@example.com" if rng.random() < 0.6 else ""
            row = {
                "firstName": first,
                "lastName": last,
                "phone": phone_text(n, rng),
                "email": email,
                "customerCode": f"C{n:07d}" if rng.random() < 0.5 else "",
                "birthDate": f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-"
                f"{rng.randint(1, 28):02d}"
                if rng.random() < 0.7
                else "",
                "gender": rng.choice(["female", "male", ""]),
                "homeStoreCode": STORES[n % len(STORES)],
                "emailMarketing": "yes" if email and rng.random() < 0.3 else "",
                "smsMarketing": "yes" if rng.random() < 0.2 else "",
            }
            if rng.random() < 0.1:
                row["otherPhones"] = phone_text(customers + n, rng)
            if rng.random() < 0.3:
                row.update(addressLine1=f"{n} Main Street", city="Springfield", country="US")
            writer.writerow(row)


async def import_file(database_url: str, tmp: Path, source: Path) -> dict[str, float]:
    settings = Settings(data_dir=tmp, database_url=database_url)
    db = Database(database_url)
    try:
        tx = Transactions(db, None)
        auth = AuthService(tx, settings, throttle=None, actor=None)
        for code in STORES:
            await auth.create_store(code, code)
        started = time.perf_counter()
        parsed = read_csv(source)
        read = time.perf_counter()
        outcome = await CustomerImportService(tx, settings, None).run(parsed)
        committed = time.perf_counter()
    finally:
        await db.dispose()
    if outcome.rejects:
        raise SystemExit(
            f"{len(outcome.rejects)} generated rows were rejected: {outcome.rejects[0]}"
        )
    # The row checks alone, as the import runs them (create's rules, no database, the
    # cyclic collector paused).
    gc.disable()
    checking = time.perf_counter()
    for row in parsed.rows:
        check_row(row, "US")
    checked = time.perf_counter()
    gc.enable()
    return {
        "read": read - started,
        "check": checked - checking,
        "total": committed - started,
        "imported": outcome.imported,
    }


async def copy_raw(
    source_url: str, target_url: str, tables: tuple[str, ...], *, copy: bool = False
) -> float:
    """Rows of ``tables`` from the imported database into an empty one: executemany (or,
    on PostgreSQL with ``copy``, COPY), timed."""
    if make_url(source_url).get_backend_name() == "sqlite":
        source = sqlite3.connect(make_url(source_url).database or "")
        target = sqlite3.connect(make_url(target_url).database or "")
        target.execute("PRAGMA journal_mode=WAL")
        target.execute("PRAGMA synchronous=NORMAL")
        target.execute("DELETE FROM stores")
        target.executemany(
            "INSERT INTO stores VALUES (?, ?, ?, ?, ?)", source.execute("SELECT * FROM stores")
        )
        target.commit()
        data = {t: source.execute(f"SELECT * FROM {t}").fetchall() for t in tables}  # noqa: S608
        started = time.perf_counter()
        for table, rows in data.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                target.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        target.commit()
        elapsed = time.perf_counter() - started
        source.close()
        target.close()
        return elapsed
    src, dst = await raw_connect(source_url), await raw_connect(target_url)
    try:
        await dst.execute("DELETE FROM stores")
        stores = await src.fetch("SELECT * FROM stores")
        marks = ", ".join(f"${i + 1}" for i in range(len(stores[0])))
        await dst.executemany(
            f"INSERT INTO stores VALUES ({marks})",  # noqa: S608
            [tuple(r) for r in stores],
        )
        data = {t: [tuple(r) for r in await src.fetch(f"SELECT * FROM {t}")] for t in tables}  # noqa: S608
        started = time.perf_counter()
        async with dst.transaction():
            for table, rows in data.items():
                if not rows:
                    continue
                if copy:
                    await dst.copy_records_to_table(table, records=rows)
                    continue
                marks = ", ".join(f"${i + 1}" for i in range(len(rows[0])))
                await dst.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)  # noqa: S608
        return time.perf_counter() - started
    finally:
        await src.close()
        await dst.close()


async def run(customers: int) -> None:
    tmp = temp_dir()
    source = tmp / "customers.csv"
    generate(source, customers)
    baselines: list[tuple[str, float]] = []
    async with scratch_database(tmp, "import") as database_url:
        figures = await import_file(database_url, tmp, source)
        postgres = make_url(database_url).get_backend_name() != "sqlite"
        raw_copies = [
            ("raw executemany, customers", TABLES[:1], False),
            ("raw executemany, all tables", TABLES, False),
            *((("raw COPY, all tables", TABLES, True),) if postgres else ()),
        ]
        for n, (label, tables, copy) in enumerate(raw_copies):
            async with scratch_database(tmp, f"raw{n}") as raw_url:
                baselines.append((label, await copy_raw(database_url, raw_url, tables, copy=copy)))
    backend = make_url(database_url).get_backend_name()
    size = source.stat().st_size / 2**20
    print(f"customers: {customers}  backend: {backend}  file: {size:.1f} MiB")
    total = figures["total"]
    print(
        f"import (CLI service)         {total:7.2f} s  {customers / total:9,.0f} rows/s"
        f"   (read {figures['read']:.2f} s; the row checks alone {figures['check']:.2f} s)"
    )
    for label, seconds in baselines:
        print(
            f"{label:28s} {seconds:7.2f} s  {customers / seconds:9,.0f} rows/s"
            f"   import is {total / seconds:.2f}x"
        )
    fastest = min(seconds for label, seconds in baselines if "all tables" in label)
    print(f"import / fastest raw copy into all tables: {total / fastest:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    # asyncio, as the CLI runs it.
    asyncio.run(run(args.customers))


if __name__ == "__main__":
    main()
