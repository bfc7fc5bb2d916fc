"""schema.graphql is the API in review: it must be exported whenever the API changes."""

from __future__ import annotations

from pathlib import Path

from app.schema.export import sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text() == sdl(), "schema.graphql is stale: run `make schema`"
