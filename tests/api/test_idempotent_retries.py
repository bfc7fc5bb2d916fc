"""A till that retries after a dropped connection changes things once (issue 9 §7).

After a crash, retried flows added a second mug to 4 of 30 sales: the line commands had
no idempotency key. Every command below takes one now; the retry (sent again after the
first answer was lost, or racing the first call) gets the first result back and changes
nothing more, and a key reused for a different request is refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Select, func, select

from app.db.models import CustomerGroup, DiscountCode, LoyaltyCard, PointsEntry, Sale, SaleLine
from app.domain.permissions import Permission as P
from app.services.sales import LineDraft, SaleCreate


@dataclass(frozen=True)
class Seed:
    customer_id: str
    sale_id: str
    line_id: str
    sku: str


@dataclass(frozen=True)
class Retried:
    """One command, a request for it with a key, another request with the same key, and
    the figure one call moves (by ``delta``)."""

    document: str
    permissions: tuple[P, ...]
    variables: Callable[[Seed, str], dict[str, Any]]
    other: Callable[[Seed, str], dict[str, Any]]
    effect: Callable[[Seed], Select[tuple[int]]]
    delta: int
    key_field: list[str]


def _lines(seed: Seed) -> Select[tuple[int]]:
    return select(func.count()).where(SaleLine.sale_id == uuid.UUID(seed.sale_id))


COMMANDS: dict[str, Retried] = {
    "saleAddLines": Retried(
        "mutation($s: ID!, $l: [SaleLineInput!]!, $k: String) { saleAddLines(saleId: $s, "
        "lines: $l, idempotencyKey: $k) { sale { id } errors { field code } } }",
        (P.SALE_CREATE,),
        lambda s, k: {"s": s.sale_id, "l": [{"sku": s.sku, "quantity": 1}], "k": k},
        lambda s, k: {"s": s.sale_id, "l": [{"sku": s.sku, "quantity": 2}], "k": k},
        _lines,
        1,
        ["idempotencyKey"],
    ),
    "saleUpdateLine": Retried(
        "mutation($s: ID!, $l: ID!, $input: SaleLineUpdateInput!) { saleUpdateLine("
        "saleId: $s, lineId: $l, input: $input) { sale { id } errors { field code } } }",
        (P.SALE_CREATE,),
        lambda s, k: {
            "s": s.sale_id,
            "l": s.line_id,
            "input": {"quantity": 3, "idempotencyKey": k},
        },
        lambda s, k: {
            "s": s.sale_id,
            "l": s.line_id,
            "input": {"quantity": 4, "idempotencyKey": k},
        },
        # Every command on a sale bumps its version once; a replay does not.
        lambda s: select(Sale.version).where(Sale.id == uuid.UUID(s.sale_id)),
        1,
        ["input", "idempotencyKey"],
    ),
    "saleRemoveLine": Retried(
        "mutation($s: ID!, $l: ID!, $k: String) { saleRemoveLine(saleId: $s, lineId: $l, "
        "idempotencyKey: $k) { sale { id } errors { field code } } }",
        (P.SALE_CREATE,),
        lambda s, k: {"s": s.sale_id, "l": s.line_id, "k": k},
        lambda s, k: {"s": s.sale_id, "l": s.sale_id, "k": k},
        _lines,
        -1,
        ["idempotencyKey"],
    ),
    "loyaltyPointsAdjust": Retried(
        "mutation($c: ID!, $input: LoyaltyPointsAdjustInput!) { loyaltyPointsAdjust("
        "customerId: $c, input: $input) { customer { id } errors { field code } } }",
        (P.LOYALTY_ADJUST,),
        lambda s, k: {
            "c": s.customer_id,
            "input": {"points": 10, "reason": "Sorry", "idempotencyKey": k},
        },
        lambda s, k: {
            "c": s.customer_id,
            "input": {"points": 11, "reason": "Sorry", "idempotencyKey": k},
        },
        lambda s: select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.customer_id == uuid.UUID(s.customer_id)
        ),
        10,
        ["input", "idempotencyKey"],
    ),
    "loyaltyCardIssue": Retried(
        "mutation($c: ID!, $input: LoyaltyCardInput!) { loyaltyCardIssue(customerId: $c, "
        "input: $input) { customer { id } errors { field code } } }",
        (P.LOYALTY_ADJUST,),
        lambda s, k: {
            "c": s.customer_id,
            "input": {"cardNumber": "RETRY-1", "discountPercent": "5", "idempotencyKey": k},
        },
        lambda s, k: {
            "c": s.customer_id,
            "input": {"cardNumber": "RETRY-2", "discountPercent": "5", "idempotencyKey": k},
        },
        lambda s: select(func.count()).where(LoyaltyCard.customer_id == uuid.UUID(s.customer_id)),
        1,
        ["input", "idempotencyKey"],
    ),
    "discountCodeCreate": Retried(
        "mutation($input: DiscountCodeInput!) { discountCodeCreate(input: $input) "
        "{ discountCode { id } errors { field code } } }",
        (P.DISCOUNT_MANAGE,),
        lambda s, k: {"input": {"code": "RETRY10", "percent": "10", "idempotencyKey": k}},
        lambda s, k: {"input": {"code": "RETRY10", "percent": "15", "idempotencyKey": k}},
        lambda s: select(func.count()).select_from(DiscountCode),
        1,
        ["input", "idempotencyKey"],
    ),
    "customerGroupCreate": Retried(
        "mutation($input: CustomerGroupInput!) { customerGroupCreate(input: $input) "
        "{ group { id } errors { field code } } }",
        (P.CUSTOMER_GROUP_MANAGE,),
        lambda s, k: {"input": {"name": "Retried", "idempotencyKey": k}},
        lambda s, k: {"input": {"name": "Retried", "note": "other", "idempotencyKey": k}},
        lambda s: select(func.count()).select_from(CustomerGroup),
        1,
        ["input", "idempotencyKey"],
    ),
}


async def _seed(factory: Any) -> Seed:
    product = await factory.product("MUG-1", "4.50")
    customer = await factory.customer()
    opened = await factory.sales().create(SaleCreate(lines=(LineDraft(product.sku, 1),)))
    assert opened.value, opened.errors
    [line] = (await factory.sales().lines_for([opened.value.id]))[opened.value.id]
    return Seed(str(customer.id), str(opened.value.id), str(line.id), product.sku)


async def _figure(db: Any, command: Retried, seed: Seed) -> int:
    async with db.read() as session:
        return int(await session.scalar(command.effect(seed)) or 0)


def _payload(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    return payload


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("racing", [False, True], ids=["resent", "racing"])
async def test_a_retried_key_changes_things_once(gql, factory, db, name: str, racing: bool) -> None:
    command = COMMANDS[name]
    seed = await _seed(factory)
    token = await factory.token(*command.permissions)
    before = await _figure(db, command, seed)
    variables = command.variables(seed, f"till1-{name}")
    if racing:
        # Two copies in flight at once: on PostgreSQL truly concurrent transactions.
        bodies = await asyncio.gather(
            gql(command.document, variables, token=token),
            gql(command.document, variables, token=token),
        )
    else:
        # The first answer was lost on the way back; the till sends the same call again.
        bodies = [await gql(command.document, variables, token=token) for _ in range(2)]
    first, second = (_payload(body, name) for body in bodies)
    assert first["errors"] == [], first
    assert second == first  # the first result, not an error nor a second object
    assert await _figure(db, command, seed) == before + command.delta


@pytest.mark.parametrize("name", sorted(COMMANDS))
async def test_a_key_reused_for_another_request_is_refused(gql, factory, db, name) -> None:
    command = COMMANDS[name]
    seed = await _seed(factory)
    token = await factory.token(*command.permissions)
    key = f"till1-{name}"
    done = _payload(await gql(command.document, command.variables(seed, key), token=token), name)
    assert done["errors"] == []
    after_first = await _figure(db, command, seed)
    reused = _payload(await gql(command.document, command.other(seed, key), token=token), name)
    assert [(e["field"], e["code"]) for e in reused["errors"]] == [
        (command.key_field, "IDEMPOTENCY_KEY_REUSED")
    ]
    assert await _figure(db, command, seed) == after_first


async def test_keys_belong_to_their_caller(gql, factory, db) -> None:
    # Another till's identical key is its own request: it adds its own line.
    command = COMMANDS["saleAddLines"]
    seed = await _seed(factory)
    variables = command.variables(seed, "same-key")
    for _ in range(2):
        token = await factory.token(P.SALE_CREATE)
        body = await gql(command.document, variables, token=token)
        assert _payload(body, "saleAddLines")["errors"] == []
    assert await _figure(db, command, seed) == 3


async def test_without_a_key_a_resent_line_is_added_twice(gql, factory, db) -> None:
    # The control: this is the double mug a key prevents.
    command = COMMANDS["saleAddLines"]
    seed = await _seed(factory)
    token = await factory.token(P.SALE_CREATE)
    variables = {**command.variables(seed, "unused"), "k": None}
    for _ in range(2):
        assert (
            _payload(await gql(command.document, variables, token=token), "saleAddLines")["errors"]
            == []
        )
    assert await _figure(db, command, seed) == 3
