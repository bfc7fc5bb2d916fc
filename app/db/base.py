"""Declarative base with a naming convention, so migrations name constraints the same everywhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's Core table: executemany on it skips the ORM's per-row work (bulk writes)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def conflict_insert(dialect: str) -> Any:
    """The dialect's ``insert``, which takes ``ON CONFLICT`` (PostgreSQL's and SQLite's
    share the API): upserts and insert-unless-there are written once for both."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
