"""A year of past sales for the demo shop, so that reports and segments have something to show.

Written straight into the tables (a year through the till would take minutes): completed
sales with their lines and group discounts, priced as the till prices (the group's
percent on every line, rounded per line), spread over the past year with weekly and
yearly seasonality. No points were earned on them (the loyalty programme "started
today") and stock is not moved (it was counted today). Each customer's running stats
take the history in, and each sale carries the segment the till would have shown:
NEW for a first purchase, REPEAT after.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from app.db.base import table_of
from app.db.models import (
    CustomerGroup,
    CustomerGroupMember,
    Product,
    Sale,
    SaleDiscount,
    SaleLine,
    StaffUser,
)
from app.db.repositories.sales import SaleRepository
from app.domain.money import ZERO, cents, to_cents
from app.services.unit_of_work import Transactions, UnitOfWork

HUNDRED = Decimal(100)


def _sales_on(day: date, rng: random.Random, base: float) -> int:
    weekday = (0.7, 0.8, 0.9, 1.0, 1.3, 1.6, 0.6)[day.weekday()]
    # Busiest before Christmas, quietest in late summer.
    season = 1 + 0.35 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 355) / 365)
    return max(0, round(rng.gauss(base * weekday * season, 1)))


async def add_sales_history(
    tx: Transactions,
    rng: random.Random,
    stores: list[uuid.UUID],
    customers: list[uuid.UUID],
    *,
    days: int = 365,
    per_store_day: float = 3.0,
) -> int:
    """Past sales of the last ``days`` days at ``stores``; the number written."""

    async def work(uow: UnitOfWork) -> int:
        session = uow.session
        products = (
            await session.execute(select(Product.id, Product.sku, Product.name, Product.price))
        ).all()
        cashiers: dict[uuid.UUID, list[uuid.UUID]] = {s: [] for s in stores}
        for staff_id, store_id in (
            await session.execute(select(StaffUser.id, StaffUser.store_id))
        ).all():
            if store_id in cashiers:
                cashiers[store_id].append(staff_id)
        percents: dict[uuid.UUID, tuple[Decimal, str]] = {}
        for customer_id, percent, name in (
            await session.execute(
                select(
                    CustomerGroupMember.customer_id,
                    CustomerGroup.discount_percent,
                    CustomerGroup.name,
                ).join(CustomerGroup, CustomerGroup.id == CustomerGroupMember.group_id)
            )
        ).all():
            if percent and percent > percents.get(customer_id, (ZERO, ""))[0]:
                percents[customer_id] = (percent, name)
        sales: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        discounts: list[dict[str, Any]] = []
        bought: dict[uuid.UUID, list[Any]] = {}
        units: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
        today = uow.now.date()
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            for store_id in stores:
                for _ in range(_sales_on(day, rng, per_store_day)):
                    sale_id = uuid.uuid4()
                    at = datetime.combine(day, time(9), UTC) + timedelta(
                        minutes=rng.randrange(0, 11 * 60)
                    )
                    customer = rng.choice(customers) if rng.random() < 0.7 else None
                    percent, group = percents.get(customer, (ZERO, "")) if customer else (ZERO, "")
                    subtotal = discount_total = ZERO
                    for position, (product_id, sku, name, price) in enumerate(
                        rng.sample(products, rng.randint(1, 3)), start=1
                    ):
                        quantity = rng.randint(1, 2)
                        if customer is not None:
                            kept = units.setdefault(customer, {})
                            kept[product_id] = kept.get(product_id, 0) + quantity
                        amount = price * quantity
                        discount = to_cents(amount * percent / HUNDRED)
                        lines.append(
                            {
                                "id": uuid.uuid4(),
                                "sale_id": sale_id,
                                "position": position,
                                "product_id": product_id,
                                "sku": sku,
                                "name": name,
                                "quantity": quantity,
                                "unit_price": price,
                                "amount": amount,
                                "discount": discount,
                                "total": amount - discount,
                            }
                        )
                        subtotal += amount
                        discount_total += discount
                    total = subtotal - discount_total
                    if discount_total:
                        discounts.append(
                            {
                                "sale_id": sale_id,
                                "source": "GROUP",
                                "code": group,
                                "percent": percent,
                                "amount": discount_total,
                                "applied": True,
                            }
                        )
                    segment = None
                    if customer is not None:
                        seen = bought.setdefault(customer, [0, 0, at, at])
                        seen[0] += 1
                        seen[1] += cents(total)
                        seen[3] = at
                        segment = "NEW" if seen[0] == 1 else "REPEAT"
                    staff = cashiers[store_id]
                    sales.append(
                        {
                            "id": sale_id,
                            "store_id": store_id,
                            "cashier_id": rng.choice(staff) if staff else None,
                            "customer_id": customer,
                            "status": "COMPLETED",
                            "subtotal": subtotal,
                            "discount_total": discount_total,
                            "total": total,
                            "paid": total,
                            "payment": rng.choice(("CASH", "CARD", "CARD")),
                            "customer_segment": segment,
                            "created_at": at,
                            "updated_at": at,
                            "completed_at": at,
                        }
                    )
        for model, rows in ((Sale, sales), (SaleLine, lines), (SaleDiscount, discounts)):
            for start in range(0, len(rows), 2000):
                await session.execute(insert(table_of(model)), rows[start : start + 2000])
        repository = SaleRepository(session)
        for customer_id, (visits, spent, first, last) in bought.items():
            await repository.add_history(customer_id, visits, spent, first, last)
            await repository.add_units(customer_id, units[customer_id])
        return len(sales)

    result = await tx.run(None, work)
    assert result.value is not None, result.errors
    return result.value
