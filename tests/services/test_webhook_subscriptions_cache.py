"""The webhook subscriptions a transaction publishes to come from the process's stamped
cache (issue 12: a sale reads no endpoint table), except in a transaction that changed them.
"""

from __future__ import annotations

from typing import Any

from app.domain.webhooks import WebhookEventType, new_event
from app.runtime import Runtime
from app.services.unit_of_work import UnitOfWork


async def _emit(uow: UnitOfWork) -> None:
    uow.emit_webhook(new_event(WebhookEventType.SALE_COMPLETED, uow.now, {"saleId": "s"}))


async def _endpoint_reads(runtime: Runtime, count_statements: Any, work: Any) -> int:
    with count_statements() as counter:
        assert (await runtime.tx.run(None, work)).ok
    return sum("FROM webhook_endpoints" in s for s in counter.statements)


async def test_a_transaction_that_changed_subscriptions_neither_uses_nor_fills_the_cache(
    runtime: Runtime, count_statements: Any
) -> None:
    assert await _endpoint_reads(runtime, count_statements, _emit) == 1
    assert await _endpoint_reads(runtime, count_statements, _emit) == 0  # cached

    async def add_and_emit(uow: UnitOfWork) -> None:
        await uow.webhooks.insert_endpoint(
            url="http://127.0.0.1:9/hook", events=["sale.completed"], secret="s", created_at=uow.now
        )
        await _emit(uow)

    # Its own uncommitted endpoint must be seen, and must not be cached: had the commit
    # failed, a cached entry would name an endpoint that does not exist.
    assert await _endpoint_reads(runtime, count_statements, add_and_emit) == 1
    # The commit bumped the stamp: the next transaction reads the table again, once.
    assert await _endpoint_reads(runtime, count_statements, _emit) == 1
    assert await _endpoint_reads(runtime, count_statements, _emit) == 0
