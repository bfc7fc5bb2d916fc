"""Shared set-up for the analytics tests: sales moved to the day a test needs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import update

from app.db.models import Sale
from app.services.sale_reversals import SaleReversalService
from app.services.unit_of_work import UnitOfWork


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), UTC)


async def move_sale(runtime: Any, sale_id: uuid.UUID, when: datetime, **values: Any) -> None:
    """Put a sale completed now on an earlier day, as if it had been sold then."""

    async def work(uow: UnitOfWork) -> None:
        await uow.session.execute(
            update(Sale)
            .where(Sale.id == sale_id)
            .values(created_at=when, completed_at=when, **values)
        )

    await runtime.tx.run(None, work)


def reversals(factory: Any) -> SaleReversalService:
    return SaleReversalService(factory.runtime.tx, None, factory.loyalty())
