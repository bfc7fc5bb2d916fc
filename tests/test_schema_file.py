"""schema.graphql is the API in review: it must be exported whenever the API changes."""

from __future__ import annotations

import difflib
from pathlib import Path

from app.schema.export import sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"
HINT = "run `make schema` and commit schema.graphql"


def test_schema_file_exists() -> None:
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE.name} is missing: {HINT}"


def test_schema_file_is_current() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.is_file() else ""
    current = sdl()
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            "schema.graphql (committed)",
            "schema.graphql (from the code)",
            n=1,
        )
    )
    assert committed == current, f"schema.graphql is stale: {HINT}\n{diff[:4000]}"


def test_the_exported_schema_has_the_contracts_roots() -> None:
    text = sdl()
    for root in ("type Query {", "type Mutation {", "enum ErrorCode {", "type UserError {"):
        assert root in text
