"""The SDL as committed in ``schema.graphql``; a test fails when the file is stale."""

from __future__ import annotations

from strawberry.printer import print_schema

from app.schema.schema import build_schema


def sdl() -> str:
    return print_schema(build_schema()) + "\n"
