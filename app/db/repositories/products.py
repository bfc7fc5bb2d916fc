from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import conflict_insert
from app.db.models import Product, ProductStock
from app.db.repositories.paging import after_key_and_id, encode_cursor
from app.domain.products import ProductFilter, ProductRecord, StockRecord
from app.domain.records import Page


def _product(row: Product) -> ProductRecord:
    return ProductRecord(
        id=row.id,
        sku=row.sku,
        name=row.name,
        category=row.category,
        price=row.price,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        lead_time_days=row.lead_time_days,
        min_stock=row.min_stock,
    )


def _stock(row: ProductStock) -> StockRecord:
    return StockRecord(
        product_id=row.product_id,
        store_id=row.store_id,
        on_hand=row.on_hand,
        updated_at=row.updated_at,
    )


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


# What a SKU can be made of, upper-cased (app/services/products.py checks the SKU).
SKU_KEY_ALPHABET = re.compile(r"[A-Z0-9_./-]+")


def _matches(search: str) -> ColumnElement[bool]:
    key = search.strip().upper()
    by_name = func.lower(Product.name).like(_like_prefix(search.strip().lower()), escape="\\")
    if not SKU_KEY_ALPHABET.fullmatch(key):
        return by_name  # no SKU starts so; and the range's end below needs a next character
    # The SKU prefix is an index range on the unique sku_key; LIKE could not use it.
    upper = key[:-1] + chr(ord(key[-1]) + 1)
    return or_(and_(Product.sku_key >= key, Product.sku_key < upper), by_name)


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        """The dialect's INSERT, which has ON CONFLICT (both SQLite and PostgreSQL do)."""
        return conflict_insert(self.session.get_bind().dialect.name)(ProductStock)

    # -- products ------------------------------------------------------------------

    async def get(self, product_id: uuid.UUID) -> ProductRecord | None:
        row = await self.session.get(Product, product_id, populate_existing=True)
        return _product(row) if row else None

    async def get_many(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, ProductRecord]:
        if not product_ids:
            return {}
        rows = await self.session.scalars(select(Product).where(Product.id.in_(set(product_ids))))
        return {r.id: _product(r) for r in rows}

    async def by_sku_key(self, key: str) -> ProductRecord | None:
        row = await self.session.scalar(select(Product).where(Product.sku_key == key))
        return _product(row) if row else None

    async def by_sku_keys(self, keys: list[str]) -> dict[str, ProductRecord]:
        """Products by ``sku_key`` (``app.domain.products.sku_key``); unknown keys are absent."""
        if not keys:
            return {}
        rows = await self.session.scalars(select(Product).where(Product.sku_key.in_(set(keys))))
        return {r.sku_key: _product(r) for r in rows}

    async def insert(self, **values: Any) -> ProductRecord:
        row = Product(**values)
        self.session.add(row)
        await self.session.flush()
        return _product(row)

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """Rows with their ids; one executemany, not an ORM round trip per row (imports)."""
        if rows:
            await self.session.execute(insert(Product), rows)

    async def update(self, product_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(update(Product).where(Product.id == product_id).values(**values))

    async def page(
        self, first: int, after: str | None, where: ProductFilter
    ) -> Page[ProductRecord]:
        """Products in SKU order, filtered."""
        conditions: list[ColumnElement[bool]] = []
        if where.search and where.search.strip():
            conditions.append(_matches(where.search))
        if where.category is not None:
            conditions.append(Product.category == where.category)
        if where.active is not None:
            conditions.append(Product.active.is_(where.active))
        total = await self.session.scalar(
            select(func.count()).select_from(Product).where(*conditions)
        )
        stmt = select(Product).where(*conditions)
        if after is not None:
            stmt = stmt.where(after_key_and_id(Product.sku_key, Product.id, after))
        rows = list(
            await self.session.scalars(stmt.order_by(Product.sku_key, Product.id).limit(first + 1))
        )
        return Page(
            items=[(encode_cursor(r.sku_key, r.id.hex), _product(r)) for r in rows[:first]],
            has_next=len(rows) > first,
            total=total or 0,
        )

    # -- stock ---------------------------------------------------------------------

    async def stock_for(
        self, product_ids: list[uuid.UUID], store_id: uuid.UUID
    ) -> dict[uuid.UUID, StockRecord]:
        """Each product's stock in one store; a product never counted there is absent."""
        if not product_ids:
            return {}
        rows = await self.session.scalars(
            select(ProductStock).where(
                ProductStock.store_id == store_id, ProductStock.product_id.in_(set(product_ids))
            )
        )
        return {r.product_id: _stock(r) for r in rows}

    async def stock_levels(
        self, product_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[StockRecord]]:
        """Each product's stock in every store that has a row for it, in store-id order."""
        found: dict[uuid.UUID, list[StockRecord]] = defaultdict(list)
        if not product_ids:
            return found
        rows = await self.session.scalars(
            select(ProductStock)
            .where(ProductStock.product_id.in_(set(product_ids)))
            .order_by(ProductStock.product_id, ProductStock.store_id)
        )
        for r in rows:
            found[r.product_id].append(_stock(r))
        return found

    async def set_stock(
        self, product_id: uuid.UUID, store_id: uuid.UUID, on_hand: int, at: datetime
    ) -> None:
        """Make the count ``on_hand``, whatever it was (a stock take)."""
        stmt = self._insert().values(
            product_id=product_id, store_id=store_id, on_hand=on_hand, updated_at=at
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ProductStock.product_id, ProductStock.store_id],
                set_={"on_hand": stmt.excluded.on_hand, "updated_at": stmt.excluded.updated_at},
            )
        )

    async def adjust_stock(
        self, store_id: uuid.UUID, deltas: dict[uuid.UUID, int], at: datetime
    ) -> None:
        """Add each delta to the product's count in the store (negative: sold), atomically.

        One upsert adding to the stored value, never read-modify-write, so two tills
        selling the same product at once both count. Rows go in product-id order so
        that two such statements on PostgreSQL lock rows in the same order and cannot
        deadlock each other. A product with no row yet starts from zero.
        """
        rows = [
            {"product_id": pid, "store_id": store_id, "on_hand": delta, "updated_at": at}
            for pid, delta in sorted(deltas.items(), key=lambda item: item[0].hex)
            if delta
        ]
        if not rows:
            return
        stmt = self._insert().values(rows)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[ProductStock.product_id, ProductStock.store_id],
                set_={
                    "on_hand": ProductStock.on_hand + stmt.excluded.on_hand,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
