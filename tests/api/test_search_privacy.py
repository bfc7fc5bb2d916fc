"""Masked numbers cannot be rebuilt by search (issue 9 §7).

A role without CUSTOMER_VIEW_PII sees a phone as its last four digits. It rebuilt a whole
number in 26 prefix searches: type "+1 2", "+1 21", … and watch whether the customer still
comes back. Without CUSTOMER_VIEW_PII a phone search now matches only a whole number (any
format) or the number's last 4+ digits (what the customer says aloud), an email search only
a whole address, and such lookups are counted and limited per caller.
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from app.db.models import Customer, CustomerPhone
from app.db.models.customer import reversed_digits
from app.domain.errors import ErrorCode, Rejected
from app.domain.permissions import Permission as P
from app.domain.records import Actor, TokenKind
from app.services.customer_import import CustomerImportService, read_csv
from app.services.customer_merge import CustomerMergeService
from app.services.customers import CustomerCreate, CustomerUpdate, PhoneDraft
from app.services.lookup_limit import LookupLimit

NUMBER = "+12125550142"
SEARCH = (
    """query($q: String!) { customers(search: $q, first: 5) { edges { node { id phone } } } }"""
)


async def found(gql: Any, token: str, term: str) -> list[str]:
    body = await gql(SEARCH, {"q": term}, token=token)
    assert "errors" not in body, body
    return [e["node"]["id"] for e in body["data"]["customers"]["edges"]]


async def rebuild(gql: Any, token: str, known: str, budget: int) -> tuple[str | None, int]:
    """The attack: extend a known beginning one digit at a time while search confirms it.

    Returns the number it rebuilt (None: it got stuck) and the searches it spent.
    """
    spent = 0
    while len(known) < len(NUMBER) and spent < budget:
        for digit in "0123456789":
            spent += 1
            if await found(gql, token, known + digit):
                known += digit
                break
        else:
            return None, spent
    return (known if len(known) == len(NUMBER) else None), spent


@pytest.fixture
async def target(factory: Any) -> str:
    customer = await factory.customer(
        name="Ada Lovelace",
        phone=NUMBER,
        email="Ada@Example.com",
        phones=(PhoneDraft("+1 646 555 0111"),),
    )
    await factory.customer(name="Someone Else", phone="+12125550143")
    return str(customer.id)


async def test_prefix_searches_no_longer_rebuild_a_masked_number(gql, factory, target) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    # The masked phone shows the end; the country code is a guess anyone can make.
    body = await gql(SEARCH, {"q": "0142"}, token=token)
    assert body["data"]["customers"]["edges"][0]["node"]["phone"].endswith("0142")
    rebuilt, spent = await rebuild(gql, token, "+1", budget=26)
    assert rebuilt is None
    assert spent == 10  # not one digit confirmed
    for length in range(3, len(NUMBER)):  # no beginning at all, however long
        assert await found(gql, token, NUMBER[:length]) == [], NUMBER[:length]


async def test_the_same_attack_works_for_a_role_that_sees_numbers_anyway(
    gql, factory, target
) -> None:
    # The control: with CUSTOMER_VIEW_PII a beginning is a fine search (and no secret).
    token = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    rebuilt, _ = await rebuild(gql, token, "+1", budget=100)
    assert rebuilt == NUMBER


@pytest.mark.parametrize(
    "term",
    [
        "+1 212 555 0142",
        "(212) 555-0142",
        "212.555.0142",
        "2125550142",
        "0142",  # the last four digits, said aloud
        "50142",
        "555 0142",
        "646 555 0111",  # an other phone, whole
        "0111",  # and its end
        "ada@example.com",  # a whole address, any case
        "ADA@EXAMPLE.COM",
    ],
)
async def test_without_pii_whole_numbers_endings_and_addresses_are_found(
    gql, factory, target, term: str
) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    assert target in await found(gql, token, term)


@pytest.mark.parametrize(
    "term", ["+1 212", "212 555", "+1212555014", "012", "ada@", "ada@example", "@example.com"]
)
async def test_without_pii_beginnings_and_parts_find_nobody(gql, factory, target, term) -> None:
    token = await factory.token(P.CUSTOMER_VIEW)
    assert await found(gql, token, term) == []


async def test_a_pii_holder_still_searches_by_beginning_and_by_ending(gql, factory, target) -> None:
    token = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    assert target in await found(gql, token, "212 555")
    assert target in await found(gql, token, "+1 212")
    assert target in await found(gql, token, "0142")


async def test_lookups_without_pii_are_limited_per_caller(
    gql, factory, settings, target, caplog: pytest.LogCaptureFixture
) -> None:
    limit = settings.lookup_limit
    token = await factory.token(P.CUSTOMER_VIEW)
    with caplog.at_level(logging.WARNING, logger="app.services.lookup_limit"):
        for i in range(limit):
            term = "0142" if i % 2 else "ada@example.com"
            assert target in await found(gql, token, term)
        refused = await gql(SEARCH, {"q": "0142"}, token=token)
        again = await gql(SEARCH, {"q": "2125550142"}, token=token)
    for body in (refused, again):
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "TOO_MANY_LOOKUPS"
        assert error["path"] == ["customers"]
        assert str(limit) in error["message"]
    # One line per caller and window, naming no number, address or name.
    warnings = [r.getMessage() for r in caplog.records if "over the limit" in r.getMessage()]
    assert len(warnings) == 1
    # The caller's id is a random UUID, which may hold "ada" or "555" by chance.
    said = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<caller>", warnings[0])
    for secret in ("0142", "ada", "Ada", "Lovelace", "555"):
        assert secret not in said
    # Names are no contact data: not counted, still answered.
    assert target in await found(gql, token, "Lovelace")
    # Another caller has a count of their own; a PII holder is not counted at all.
    other = await factory.token(P.CUSTOMER_VIEW)
    assert target in await found(gql, other, "0142")
    holder = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    for _ in range(limit + 1):
        assert target in await found(gql, holder, "0142")


async def test_the_limit_holds_in_process_while_redis_is_away(settings) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1", socket_timeout=1, socket_connect_timeout=1)
    limit = LookupLimit(dead, prefix=settings.redis_prefix, limit=3, window_seconds=60)
    actor = Actor(uuid.uuid4(), TokenKind.SESSION, frozenset(), None, staff_user_id=uuid.uuid4())
    try:
        for _ in range(3):
            await limit.count(actor)
        with pytest.raises(Rejected) as refused:
            await limit.count(actor)
    finally:
        await dead.aclose()
    assert [e.code for e in refused.value.errors] == [ErrorCode.TOO_MANY_LOOKUPS]


async def test_every_stored_number_keeps_its_reversed_digits(
    runtime, factory, tmp_path: Path, db
) -> None:
    # Each way a number is written: create, update, other phones, import, merge.
    customers = factory.customers()
    first = await factory.customer(phone="+12125550101", phones=(PhoneDraft("+12125550102"),))
    changed = await customers.update(
        first.id,
        CustomerUpdate(
            expected_version=first.version,
            phone="+12125550103",
            phones=(PhoneDraft("+12125550104"),),
        ),
    )
    assert changed.errors == []
    source = await factory.customer(phone="+12125550105")
    merged = await CustomerMergeService(runtime.tx, None).merge(source.id, first.id)
    assert merged.errors == []
    csv = tmp_path / "in.csv"
    csv.write_text("name,phone,otherPhones\nImported,+12125550106,+12125550107\n")
    outcome = await CustomerImportService(runtime.tx, runtime.settings, None).run(read_csv(csv))
    assert not outcome.rejects
    created = await customers.create(CustomerCreate(name="Plain", phone="+12125550108"))
    assert created.errors == []
    async with db.read() as session:
        main = (await session.execute(select(Customer.phone, Customer.phone_reversed))).all()
        other = (
            await session.execute(select(CustomerPhone.phone, CustomerPhone.phone_reversed))
        ).all()
    assert len(main) == 4
    assert len(other) == 3
    for phone, stored in [*main, *other]:
        assert stored == reversed_digits(phone), phone
    assert ("+12125550105", "50105552121") in other  # the merged main number, now the survivor's
    assert [r for p, r in main if not p.startswith("+")] == [None]  # the merged placeholder
