"""The bulk path (COPY / bare executemany) stores exactly what SQLAlchemy's insert stores."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from app.db.base import table_of
from app.db.bulk import insert_rows
from app.db.engine import Database
from app.db.models import AuditEntry, Customer
from app.db.repositories.stores import StoreRepository

AT = datetime(2026, 12, 7, 4, 30, 15, 123456, tzinfo=UTC)


def customer(phone: str, store_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "name": "Ada Lovelace",
        "name_key": "ada lovelace",
        "phone": phone,
        "phone_reversed": phone[:0:-1],
        "email": None,
        "email_key": None,
        "customer_code": None,
        "status": "ACTIVE",
        "version": 1,
        "home_store_id": store_id,
        "first_name": None,
        "last_name": None,
        "birth_date": date(1990, 4, 1),
        "gender": "FEMALE",
        "pan": None,
        "gstin": None,
        "state_code": None,
        "reg_no": None,
        "vat_no": None,
        "allow_credit_sale": True,
        "credit_limit": Decimal("2500.50"),
        "preferred_channel": None,
        "willing_to_receive": False,
        "remarks": None,
        "merged_into_id": None,
        "created_at": AT,
        "updated_at": AT,
    }


def audit(entity_id: str) -> dict[str, Any]:
    return {
        "entity_type": "customer",
        "entity_id": entity_id,
        "action": "import",
        "actor_id": None,
        "actor_label": "system",
        "at": AT,
        "before": None,
        "after": {"phone": "+12125550100", "addresses": [{"line1": "1 Main St"}]},
    }


async def stored(db: Database, table: str, key: str, value: str) -> dict[str, Any]:
    """The row as the database holds it (no type processing), without its own identity."""
    async with db.read() as session:
        row = (
            await session.execute(
                text(f"SELECT * FROM {table} WHERE {key} = :v"),  # noqa: S608
                {"v": value},
            )
        ).one()
    own = {"id", "phone", "phone_reversed", "entity_id"}
    return {k: v for k, v in row._mapping.items() if k not in own}


async def test_rows_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    async with db.write() as session:
        store_id = (await StoreRepository(session).head_office()).id
        by_orm = customer("+12125550100", store_id)
        by_bulk = customer("+12125550101", store_id)
        await session.execute(insert(table_of(Customer)), [by_orm])
        # Half the columns as one value for every row: bound once, stored the same.
        same = {k: by_bulk.pop(k) for k in ("created_at", "updated_at", "credit_limit")}
        await insert_rows(session, table_of(Customer), [by_bulk], same)
        await session.execute(insert(table_of(AuditEntry)), [audit("orm")])
        await insert_rows(session, table_of(AuditEntry), [audit("bulk")])

    orm = await stored(db, "customers", "phone", "+12125550100")
    assert orm["credit_limit"] is not None
    assert orm["home_store_id"] is not None
    assert await stored(db, "customers", "phone", "+12125550101") == orm
    orm_audit = await stored(db, "audit_entries", "entity_id", "orm")
    assert orm_audit["after"] is not None
    assert await stored(db, "audit_entries", "entity_id", "bulk") == orm_audit


async def test_a_unique_violation_is_an_integrity_error(db: Database) -> None:
    async with db.write() as session:
        store_id = (await StoreRepository(session).head_office()).id
        await insert_rows(session, table_of(Customer), [customer("+12125550100", store_id)])
    # Transactions.run retries an IntegrityError once (a race between two tills).
    with pytest.raises(IntegrityError):
        async with db.write() as session:
            await insert_rows(session, table_of(Customer), [customer("+12125550100", store_id)])
