"""The fixed CLI names, run as a user would: a fresh data folder, real subprocesses."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.embedded_redis import EmbeddedRedis
from app.schema.export import sdl

ROOT = Path(__file__).resolve().parent.parent


def poscrm(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSCRM_")}
    env.update(POSCRM_DATA_DIR=str(data_dir), POSCRM_PASSWORD_MEMORY_KIB="1024")
    return subprocess.run(  # noqa: S603  (our own CLI)
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    data = tmp_path / "d"
    assert poscrm(data, "migrate").returncode == 0
    return data


def test_create_admin_refuses_to_overwrite(fresh: Path) -> None:
    first = poscrm(fresh, "create-admin", "--username", "Boss", "--password", "long-enough")
    assert first.returncode == 0, first.stderr
    again = poscrm(fresh, "create-admin", "--username", "boss", "--password", "other-password")
    assert again.returncode == 1
    assert "DUPLICATE" in again.stderr


def test_create_admin_rejects_a_short_password(fresh: Path) -> None:
    result = poscrm(fresh, "create-admin", "--username", "boss", "--password", "short")
    assert result.returncode == 1
    assert "INVALID" in result.stderr


def test_seed_demo_fills_once(fresh: Path) -> None:
    first = poscrm(fresh, "seed-demo", "--customers", "40")
    assert first.returncode == 0, first.stderr
    assert "40 customers" in first.stdout
    # Each pattern the services can make, planted once or more, and each found.
    assert "discount audit: 8 abuse cases planted, 8 findings" in first.stdout
    # Membership tiers (seed 003) over the year's history: customers hold them already.
    [(tiered,)] = (
        sqlite3.connect(fresh / "poscrm.db")
        .execute("SELECT COUNT(*) FROM customer_loyalty_tiers")
        .fetchall()
    )
    assert tiered > 0
    assert f"{tiered} customers tiered" in first.stdout
    # A year of history, already aggregated and segmented for the analyst's tour.
    db = sqlite3.connect(fresh / "poscrm.db")
    [(days, months)] = db.execute(
        "SELECT COUNT(DISTINCT day), COUNT(DISTINCT substr(day, 1, 7)) FROM sales_daily_mix"
    ).fetchall()
    assert days > 300
    assert months >= 12
    [(segmented,)] = db.execute("SELECT COUNT(*) FROM customer_segments").fetchall()
    assert segmented > 20
    # Top products: the running units are what the history says (issue 12).
    history = db.execute(
        "SELECT s.customer_id, l.product_id, SUM(l.quantity - l.returned_quantity)"
        " FROM sale_lines l JOIN sales s ON s.id = l.sale_id"
        " WHERE s.status = 'COMPLETED' AND s.customer_id IS NOT NULL"
        " GROUP BY s.customer_id, l.product_id"
    ).fetchall()
    kept = db.execute("SELECT customer_id, product_id, units FROM customer_product_units")
    assert len(history) > 40
    assert sorted(kept.fetchall()) == sorted(history)
    db.close()
    again = poscrm(fresh, "seed-demo")
    assert again.returncode == 0
    assert "already there" in again.stdout


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = poscrm(tmp_path / "d", "export-schema", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == sdl()


def test_embedded_redis_is_shared_and_stopped_by_its_owner(tmp_path: Path) -> None:
    import redis

    owner = EmbeddedRedis(tmp_path / "r")
    url = owner.start()
    try:
        # A second process on the same data folder finds the running server.
        guest = EmbeddedRedis(tmp_path / "r")
        assert guest.start() == url
        guest.stop()  # not its server: it stays up
        client = redis.Redis.from_url(url)
        assert client.ping()
        client.close()
    finally:
        owner.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url).ping()


def test_import_reports_rejects_and_export_round_trips(fresh: Path, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(
        "\ufeffName,PHONE,email,customerCode,emailMarketing,otherPhones,addressLine1,city\n"
        "Ada Lovelace,(212) 555-0100,ada@example.com,C1,yes,212 555 0101,1 Main St,London\n"
        "No Email,2125550102,,,yes,,,\n"
        "Grace Hopper,+1 212 555 0103,,C2,,,,\n"
        "Again,212-555-0100,,,,,,\n",
        encoding="utf-8",
    )
    result = poscrm(fresh, "import-customers", str(source))
    assert result.returncode == 0, result.stderr
    assert "imported 2 of 4 rows, rejected 2" in result.stdout
    assert "importing" in result.stderr  # the progress bar
    report = tmp_path / "customers.rejects.csv"
    assert str(report) in result.stdout
    lines = report.read_text().splitlines()
    assert lines[0].endswith(",error_field,error_code,error_message")
    assert lines[0].startswith("row,Name,PHONE,")
    assert lines[1].startswith("3,No Email,")
    assert "CONSENT_CHANNEL_MISSING" in lines[1]
    assert lines[2].startswith("5,Again,")
    assert "DUPLICATE" in lines[2]

    exported = tmp_path / "export.csv"
    result = poscrm(fresh, "export-customers", "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert "exported 2 customers" in result.stderr

    other = tmp_path / "other"
    assert poscrm(other, "migrate").returncode == 0
    result = poscrm(other, "import-customers", str(exported))
    assert result.returncode == 0, result.stderr
    assert "imported 2 of 2 rows, rejected 0" in result.stdout
    again = poscrm(other, "export-customers")  # to stdout
    assert again.returncode == 0, again.stderr
    assert sorted(again.stdout.splitlines()) == sorted(exported.read_text().splitlines())


def test_import_refuses_unknown_columns_and_can_check_only(fresh: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name,phone,loyalty\nAda,2125550100,gold\n")
    refused = poscrm(fresh, "import-customers", str(source))
    assert refused.returncode == 2
    assert "Unknown column(s): loyalty" in refused.stderr

    source.write_text("name,phone\nAda,2125550100\nBob,12\n")
    strict = poscrm(fresh, "import-customers", str(source), "--all-or-nothing")
    assert strict.returncode == 1
    assert "imported 0 of 2 rows, rejected 1" in strict.stdout
    checked = poscrm(
        fresh, "import-customers", str(source), "--dry-run", "--report", str(tmp_path / "r.csv")
    )
    assert checked.returncode == 0, checked.stderr
    assert "would import 1 of 2 rows, rejected 1" in checked.stdout
    assert "PHONE_INVALID" in (tmp_path / "r.csv").read_text()
    empty = poscrm(fresh, "export-customers")
    assert empty.stdout.count("\n") == 1  # the header: nothing was imported


def test_import_products_upserts_reports_rejects_and_can_check_only(
    fresh: Path, tmp_path: Path
) -> None:
    assert poscrm(fresh, "import-products", str(tmp_path / "none.csv")).returncode == 2
    source = tmp_path / "prices.csv"
    source.write_text("sku,name,price,stock\nTEA-1,Tea,4.50,12\nBAD,,x,\nCAKE,Cake,2.00,\n")
    checked = poscrm(fresh, "import-products", str(source), "--dry-run")
    assert checked.returncode == 0, checked.stderr
    assert "would create 2, updated 0, unchanged 0 of 3 rows, rejected 1" in checked.stdout

    result = poscrm(fresh, "import-products", str(source))
    assert result.returncode == 0, result.stderr
    assert "created 2, updated 0, unchanged 0 of 3 rows, rejected 1" in result.stdout
    assert "stock set for 1 in HO" in result.stdout
    report = tmp_path / "prices.rejects.csv"
    assert str(report) in result.stdout
    assert report.read_text().splitlines()[1].startswith("3,BAD,,x,,name | price,")

    source.write_text("SKU,Name,Price\ntea-1,Tea,4.75\ncake,Cake,2.00\n")
    again = poscrm(fresh, "import-products", str(source), "--store", "HO")
    assert again.returncode == 0, again.stderr
    assert "created 0, updated 1, unchanged 1 of 2 rows, rejected 0" in again.stdout
    unknown = poscrm(fresh, "import-products", str(source), "--store", "NOPE")
    assert unknown.returncode == 2
    assert "No store NOPE" in unknown.stderr


def test_run_job_runs_a_slot_once_and_names_the_jobs(fresh: Path) -> None:
    ran = poscrm(fresh, "run-job", "expire_loyalty_points", "--for", "2026-11-30")
    assert ran.returncode == 0, ran.stderr
    assert '"job": "expire_loyalty_points"' in ran.stdout
    again = poscrm(fresh, "run-job", "expire_loyalty_points", "--for", "2026-11-30")
    assert again.returncode == 0, again.stderr
    assert "already done" in again.stdout
    unknown = poscrm(fresh, "run-job", "no_such_job")
    assert unknown.returncode == 2
    assert "expire_customer_discounts" in unknown.stderr
    bad_day = poscrm(fresh, "run-job", "expire_loyalty_points", "--for", "yesterday")
    assert bad_day.returncode == 2


def test_run_job_audits_discount_usage_up_to_now(fresh: Path) -> None:
    ran = poscrm(fresh, "run-job", "audit_discount_usage")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert (result["job"], result["rows"], result["sales"]) == ("audit_discount_usage", 0, 0)
    # The watermark moved: the next slot scans from where this one stopped.
    again = poscrm(fresh, "run-job", "audit_discount_usage", "--for", "2026-11-30")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["from"] == result["through"]
