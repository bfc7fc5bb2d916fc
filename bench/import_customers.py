"""Importing 100k customers from CSV: ``poscrm import-customers``' service against raw inserts.

Usage: ``.venv/bin/python bench/import_customers.py [--customers N]`` (default 100,000);
with ``POSCRM_DATABASE_URL=postgresql+asyncpg://…`` on PostgreSQL (see ``_common.py``).

Generates a CSV like one exported from another shop system (phones in several formats,
emails, codes, birth dates, some extra phones, addresses and marketing opt-ins), then
times the import as the CLI runs it: read the file, check every row with create's rules,
check uniqueness against the database, write everything in one transaction (customers,
name words, phones, addresses, consents and their history, audit entries, feed entries).

Baselines, in the same run, on the bare driver (sqlite3 / asyncpg) into a second empty
database: executemany of the very same customer rows into ``customers`` alone, and of
every row the import wrote into every table it wrote (no checks, no Python objects).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sqlite3
import time
from pathlib import Path

from _common import raw_connect, scratch_database, temp_dir
from sqlalchemy.engine import make_url

from app.db.engine import Database
from app.services.auth import AuthService
from app.services.customer_import import IMPORT_COLUMNS, CustomerImportService, read_csv
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
    marks: dict[str, float] = {}

    def progress(phase: str, done: int, total: int) -> None:
        if done == total:
            marks[phase] = time.perf_counter()

    try:
        tx = Transactions(db, None)
        auth = AuthService(tx, settings, throttle=None, actor=None)
        for code in STORES:
            await auth.create_store(code, code)
        started = time.perf_counter()
        parsed = read_csv(source)
        marks["read"] = time.perf_counter()
        outcome = await CustomerImportService(tx, settings, None).run(parsed, progress=progress)
        marks["committed"] = time.perf_counter()
    finally:
        await db.dispose()
    if outcome.rejects:
        raise SystemExit(
            f"{len(outcome.rejects)} generated rows were rejected: {outcome.rejects[0]}"
        )
    return {
        "read": marks["read"] - started,
        "check": marks["checking"] - marks["read"],
        "write": marks["committed"] - marks["checking"],
        "total": marks["committed"] - started,
        "imported": outcome.imported,
    }


async def copy_raw(source_url: str, target_url: str, tables: tuple[str, ...]) -> float:
    """Rows of ``tables`` from the imported database into an empty one: executemany, timed."""
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
                if rows:
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
    async with scratch_database(tmp, "import") as database_url:
        figures = await import_file(database_url, tmp, source)
        async with scratch_database(tmp, "raw1") as raw_customers:
            customers_only = await copy_raw(database_url, raw_customers, TABLES[:1])
        async with scratch_database(tmp, "raw2") as raw_all:
            every_table = await copy_raw(database_url, raw_all, TABLES)
    backend = make_url(database_url).get_backend_name()
    size = source.stat().st_size / 2**20
    print(f"customers: {customers}  backend: {backend}  file: {size:.1f} MiB")
    total = figures["total"]
    print(
        f"import (CLI service)        {total:7.2f} s  {customers / total:9,.0f} rows/s"
        f"   (read {figures['read']:.2f} s, check {figures['check']:.2f} s,"
        f" write+commit {figures['write']:.2f} s)"
    )
    for label, seconds in (
        ("raw executemany, customers", customers_only),
        ("raw executemany, all tables", every_table),
    ):
        print(
            f"{label:27s} {seconds:7.2f} s  {customers / seconds:9,.0f} rows/s"
            f"   import is {total / seconds:.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    # asyncio, as the CLI runs it.
    asyncio.run(run(args.customers))


if __name__ == "__main__":
    main()
