"""Property test: generated GraphQL operations never meet a bug (issue 9 §6).

schemathesis (GraphQL mode, through hypothesis-graphql) writes operations for every query
and mutation field of the schema, with arguments of the right shape (positive mode) and of
the wrong one (negative mode). We send each one to the real app in process, through the
same HTTP client as every API test; nothing leaves the process. The property: an answer
is a 4xx or a GraphQL answer, never a 5xx, never an ``INTERNAL`` error, and nothing is
logged at ERROR (the mask logs every unexpected error there).

The callers are an administrator of the head office, a till of a branch with every
permission (store scope on) and an anonymous caller. IDs and strings are drawn partly from
a small shop made for the run (a customer with a card and a discount, a product, an open
and a completed sale, an appointment, ...), so that mutations reach their rules and not
only "not found"; Decimals, times and strings mix in the edge cases of issue 9 §6. The
operations run one after another on the same shop, which they change as they go.

Fixed seed (``POSCRM_FUZZ_SEED``, default 0) and budget (``POSCRM_FUZZ_EXAMPLES`` per
operation, default 20): the same cases on every run, under a minute per backend. A failure
prints the operation, the caller and the query; another seed or a larger budget explores
further (``make fuzz``).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from app.db.repositories.paging import encode_cursor
from app.domain.permissions import Permission
from app.schema.schema import build_schema
from app.services.sales import LineDraft, SaleCreate
from app.settings import Settings

pytestmark = pytest.mark.fuzz

SEED = int(os.environ.get("POSCRM_FUZZ_SEED", "0"))
EXAMPLES = int(os.environ.get("POSCRM_FUZZ_EXAMPLES", "20"))


@dataclass
class Shop:
    """What the generated values may name: ids and strings of real records, and callers."""

    ids: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    tokens: dict[str, str | None] = field(default_factory=dict)


# Filled by the ``shop`` fixture before the cases are drawn; the strategies below read it
# lazily (an index into it), so a replayed example names the same record.
SHOP = Shop()


def _from_shop(values: list[str]) -> st.SearchStrategy[str]:
    return st.integers(0, 255).map(lambda i: values[i % len(values)] if values else "")


DECIMAL_EDGES = [
    *("sNaN", "NaN", "-NaN", "Infinity", "-Infinity", "inf", "9e999999999", "-9e999999999"),
    *("1e-999999999", "1e60", "1e-60", "-0", "-0.00", "0", "0.001", "1E+2", "99999999.99"),
    *("100000000", "999999999999.99", "1000000000000", "12345678901234567890.12", "-5"),
    *(" 1", "1_000", "", "abc", "0x10", "1,5", "\u0661\u0662"),
]
# Mostly amounts a till would send, so that the rules run; then the edges and anything.
AMOUNTS = st.decimals(min_value=0, max_value=10**6, places=2).map(str)
# Numbers written in the query as they are, not as strings: past the int-string limit,
# past a float's precision, past a float's range.
NUMBER_LITERALS = ["9" * 5000, "-" + "9" * 5000, "0." + "9" * 5000, "0.99999999999999999999"]
NUMBER_LITERALS += ["1e999999999", "12.5", "0", "-0"]
LITERAL_NUMBERS = st.sampled_from(NUMBER_LITERALS).map(
    lambda text: (graphql.FloatValueNode if "." in text or "e" in text else graphql.IntValueNode)(
        value=text
    )
)
DECIMALS = st.one_of(
    AMOUNTS.map(nodes.String),
    AMOUNTS.map(nodes.String),
    st.sampled_from(DECIMAL_EDGES).map(nodes.String),
    st.decimals(allow_nan=True, allow_infinity=True).map(str).map(nodes.String),
    LITERAL_NUMBERS,
)
# Small counts and page sizes most of the time, so that the rules run; then the edges.
INTS = st.one_of(
    st.integers(-2, 120).map(nodes.Int),
    st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
    LITERAL_NUMBERS,
)

TIME_EDGES = [
    *("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "2026-01-01T10:00:00"),
    *("2026-02-30T10:00:00Z", "not a time", "", "2026-01-01T10:00:00+25:00"),
]
DATETIMES = st.one_of(
    st.sampled_from(TIME_EDGES),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(datetime.isoformat),
).map(nodes.String)
DATES = st.one_of(
    st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "1990-05-17", "", "x"]),
    st.dates().map(str),
).map(nodes.String)

# Cursors: ones the server hands out, and crafted ones each page decoder must refuse.
CURSOR_EDGES = [
    encode_cursor(10**30),
    encode_cursor(True),
    encode_cursor(-1),
    encode_cursor("x", "not-a-uuid"),
    encode_cursor("9999-12-31T23:00:00-05:00", str(uuid.uuid4())),
    encode_cursor("a\x00", str(uuid.uuid4())),
    encode_cursor(None, None),
    "!!!",
    "",
]
TEXT_EDGES = ["\x00", "\ud800", "a" * 10_000, " ", "%", "_", "\\", "'; --", "+1", "0"]
STRINGS = st.one_of(
    st.text(max_size=40),
    _from_shop(SHOP.strings),
    st.sampled_from(CURSOR_EDGES + TEXT_EDGES),
).map(nodes.String)
IDS = st.one_of(
    _from_shop(SHOP.ids),
    st.sampled_from(["", "x", str(uuid.UUID(int=0)), str(uuid.uuid4()), "\x00"]),
    st.text(max_size=10),
).map(nodes.String)

for name, strategy in {
    "Decimal": DECIMALS,
    "Int": INTS,
    "DateTime": DATETIMES,
    "Date": DATES,
    "String": STRINGS,
    "ID": IDS,
    "JSON": st.just(nodes.String("{}")),  # output only today
    # A JSON request cannot carry a file: whatever stands in its place is refused (INVALID).
    "Upload": st.sampled_from(["", "x", "/etc/passwd"]).map(nodes.String),
}.items():
    schemathesis.graphql.scalar(name, strategy)

SCHEMA = schemathesis.graphql.from_file(build_schema(Settings()).as_str())
# A logout ends the caller's session (a till's too): last, so the rest run logged in.
OPERATIONS = sorted(
    (result.ok() for result in SCHEMA.get_all_operations()),
    key=lambda operation: operation.label == "Mutation.logout",
)
CALLERS = ["admin", "admin", "till", "anonymous"]


T = TypeVar("T")


def generated(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """``count`` values of ``strategy``: the same ones on every run with the same seed.

    Drawn first and sent afterwards, because Hypothesis runs only plain functions while
    the app runs on the tests' event loop. The price: a failing case is reported as
    drawn, not shrunk; the cases are short enough to read.
    """
    cases: list[T] = []

    @seed(SEED)
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: T) -> None:
        cases.append(case)

    collect()
    return cases


def operation_cases(operation: Any, count: int) -> list[tuple[str, str]]:
    """(caller, query) pairs for one operation of the schema."""
    positive = operation.as_strategy(schemathesis.GenerationMode.POSITIVE)
    # Negative cases (a wrong type, a missing argument) stop at validation: fewer of them.
    negative = operation.as_strategy(schemathesis.GenerationMode.NEGATIVE)
    strategy = st.tuples(st.sampled_from(CALLERS), st.one_of(positive, positive, negative))
    return [(caller, case.body) for caller, case in generated(strategy, count)]


@pytest.fixture
async def shop(factory: Any) -> AsyncIterator[Shop]:
    """A small shop with one of everything, named in ``SHOP`` for the strategies."""
    branch = await factory.store("FZ")
    head_office = await factory.head_office()
    customer = await factory.customer(
        "Fuzz Customer", "+12125550199", email="fuzz@example.com", customer_code="FZ-1"
    )
    other = await factory.customer(
        "Other Customer", "+12125550198", allow_credit_sale=True, credit_limit=Decimal(100)
    )
    product = await factory.product("FZ-SKU", price="12.50", stock={branch.id: 5})
    card = await factory.loyalty_card(customer.id, "FZ-CARD-1")
    code = await factory.discount_code("FZCODE", "15")
    await factory.assign_discount(customer.id, code.code, datetime.now(UTC) + timedelta(days=9))
    group = await factory.group("Fuzz Group", "5")
    await factory.add_to_group(group.id, customer.id)
    completed = await factory.completed_sale(customer.id, [(product.sku, 2)])
    opened = await factory.sales().create(
        SaleCreate(lines=(LineDraft(product.sku, 1),), customer_id=other.id)
    )
    assert opened.value, opened.errors
    appointment = await factory.appointment(customer.id)
    [line] = (await factory.sales().lines_for([completed.id]))[completed.id]
    username, admin = await factory.staff(*Permission, username="fuzzadmin")
    till = await factory.till(branch.id, *Permission)
    SHOP.ids[:] = [
        str(i)
        for i in (
            *(branch.id, head_office.id, customer.id, other.id, product.id, code.id),
            *(group.id, completed.id, line.id, opened.value.id, appointment.id),
        )
    ]
    SHOP.strings[:] = [
        *(product.sku, card, code.code, username, "correct-horse", "FZ-1", "Fuzz"),
        *("+12125550199", "2125550199", "0199", "fuzz@example.com", "FZ"),
    ]
    SHOP.tokens.update(admin=admin, till=till, anonymous=None)
    yield SHOP
    SHOP.ids.clear()
    SHOP.strings.clear()


async def test_generated_operations_meet_no_bug(
    client: Any, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    sent = 0
    for operation in OPERATIONS:
        for caller, query in operation_cases(operation, EXAMPLES):
            sent += 1
            token = shop.tokens[caller]
            headers = {"content-type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            # json.dumps escapes a lone surrogate as a client's encoder would; httpx's refuses.
            content = json.dumps({"query": query}).encode()
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                response = await client.post("/graphql", content=content, headers=headers)
            problem = _problem(response, caplog.records)
            if problem:
                failures.append(f"{operation.label} as {caller}: {problem}\n{query}")
    assert sent == len(OPERATIONS) * EXAMPLES
    assert failures == [], "\n\n".join(failures[:10])


def _problem(response: Any, records: list[logging.LogRecord]) -> str | None:
    """What is wrong with an answer, or None: a 5xx, an INTERNAL error, an ERROR line."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    errors = response.json().get("errors") or []
    internal = [e for e in errors if (e.get("extensions") or {}).get("code") == "INTERNAL"]
    if internal:
        return f"INTERNAL: {internal}"
    logged = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    if logged:
        return f"logged at ERROR: {logged}"
    return None


# Bodies at the HTTP level, below GraphQL: any bytes, any JSON, objects with odd members.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "query": JSON_VALUES | st.sampled_from(["{ __typename }", "{ me { id } }", "{"]),
            "variables": JSON_VALUES,
            "operationName": JSON_VALUES,
            "extensions": JSON_VALUES,
        },
    ).map(lambda v: json.dumps(v).encode()),
)


async def test_any_body_is_answered_without_a_5xx(client: Any) -> None:
    failures = []
    for body in generated(BODIES, EXAMPLES * 5):
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        if response.status_code >= 500 or response.status_code not in {200, 400}:
            failures.append(f"HTTP {response.status_code} for {body!r}: {response.text[:200]}")
    assert failures == [], "\n".join(failures[:10])
