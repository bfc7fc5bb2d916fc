"""Every ErrorCode has a test that provokes it: a code nobody tests is a rule nobody checks."""

from __future__ import annotations

from pathlib import Path

from app.domain.errors import ErrorCode

TESTS = Path(__file__).resolve().parent


def test_every_error_code_is_asserted_by_some_test() -> None:
    sources = "\n".join(
        p.read_text() for p in TESTS.rglob("test_*.py") if p.name != Path(__file__).name
    )
    untested = [code.value for code in ErrorCode if f'"{code.value}"' not in sources]
    assert untested == [], f"no test provokes: {untested}"
