"""Products (issue 4): what a till sells, its price, and the stock on hand in each store.

A SKU is the product's identity on every till and in every price list: ``sku_key``
makes "ab-1" and "AB-1" one SKU, and a SKU never changes (sale lines and re-imported
price lists find the product by it). Stock is counted per store; a sale takes from it
and a return puts back (``ProductRepository.adjust_stock``, from the sale service), a
stock take sets it (``set_stock``) and a delivery adds to it (``adjust_stock``). Every
change of a product or of its stock is in the audit trail with who did it.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.db.repositories.products import ProductRepository
from app.db.repositories.stores import StoreRepository
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.products import ProductFilter, ProductRecord, StockRecord, sku_key
from app.domain.records import Actor, Page, StoreRecord
from app.domain.values import UNSET, Unset
from app.services.checks import identifier, required_text, two_decimals
from app.services.store_scope import scoped_store
from app.services.unit_of_work import Result, Transactions, UnitOfWork

SKU_MAX = 64
SKU_PATTERN = re.compile(rf"[A-Za-z0-9_./-]{{1,{SKU_MAX}}}")
NAME_MAX = 200
CATEGORY_MAX = 100
PRICE_MAX = Decimal("99999999.99")
# Far above any shelf, far below the 32-bit column (and GraphQL's Int): a typo is caught.
STOCK_MAX = 1_000_000_000
REASON_MAX = 200
# A year: a lead time beyond it is a typo, and forecasts would have to reach that far.
LEAD_TIME_MAX = 365


@dataclass(frozen=True, slots=True)
class ProductChange:
    """A partial update; the SKU is not here: it is the product's identity."""

    name: str | Unset = UNSET
    price: Decimal | Unset = UNSET
    category: str | Unset | None = UNSET
    active: bool | Unset = UNSET
    lead_time_days: int | Unset = UNSET
    min_stock: int | Unset | None = UNSET


def _sku(raw: str) -> str:
    rule = f"1 to {SKU_MAX} letters, digits, '-', '_', '.' or '/'"
    return identifier(raw, SKU_PATTERN, what="A SKU", rule=rule, field="sku")


def _name(raw: str) -> str:
    return required_text(raw, max_length=NAME_MAX, what="A name", field="name")


def _price(value: Decimal) -> Decimal:
    return two_decimals(value, upper=PRICE_MAX, field="price")


def _category(raw: str | None) -> str | None:
    text = " ".join((raw or "").split())
    if len(text) > CATEGORY_MAX:
        raise reject(
            ErrorCode.INVALID,
            f"A category has at most {CATEGORY_MAX} characters.",
            "input",
            "category",
        )
    return text or None


def _lead_time(value: int) -> int:
    if not 0 <= value <= LEAD_TIME_MAX:
        raise reject(
            ErrorCode.INVALID, f"Must be from 0 to {LEAD_TIME_MAX} days.", "input", "leadTimeDays"
        )
    return value


def _min_stock(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= STOCK_MAX:
        raise reject(ErrorCode.INVALID, f"Must be from 0 to {STOCK_MAX:,}.", "input", "minStock")
    return value


def check_planning(lead_time_days: int, min_stock: int | None) -> dict[str, Any]:
    """The reordering columns of a product, or ``Rejected`` with every reason."""
    lead, minimum = _all_of(lambda: _lead_time(lead_time_days), lambda: _min_stock(min_stock))
    return {"lead_time_days": lead, "min_stock": minimum}


def _all_of(*checks: Callable[[], Any]) -> list[Any]:
    """Every check's value, or one ``Rejected`` carrying every check's errors."""
    values: list[Any] = []
    errors: list[UserError] = []
    for check in checks:
        try:
            values.append(check())
        except Rejected as rejected:
            errors.extend(rejected.errors)
    if errors:
        raise Rejected(*errors)
    return values


def check_new(sku: str, name: str, price: Decimal, category: str | None) -> dict[str, Any]:
    """The columns of a new product, or ``Rejected`` with every reason (the import reuses it)."""
    clean_sku, clean_name, exact, clean_category = _all_of(
        lambda: _sku(sku), lambda: _name(name), lambda: _price(price), lambda: _category(category)
    )
    return {
        "sku": clean_sku,
        "sku_key": sku_key(clean_sku),
        "name": clean_name,
        "price": exact,
        "category": clean_category,
    }


def check_change(change: ProductChange) -> dict[str, Any]:
    """The columns a change sets, or ``Rejected`` with every reason."""
    name, price, category, active = change.name, change.price, change.category, change.active
    checks: dict[str, Callable[[], Any]] = {}
    if not isinstance(name, Unset):
        checks["name"] = lambda: _name(name)
    if not isinstance(price, Unset):
        checks["price"] = lambda: _price(price)
    if not isinstance(category, Unset):
        checks["category"] = lambda: _category(category)
    if not isinstance(active, Unset):
        checks["active"] = lambda: active
    lead, minimum = change.lead_time_days, change.min_stock
    if not isinstance(lead, Unset):
        checks["lead_time_days"] = lambda: _lead_time(lead)
    if not isinstance(minimum, Unset):
        checks["min_stock"] = lambda: _min_stock(minimum)
    return dict(zip(checks, _all_of(*checks.values()), strict=True))


def snapshot(product: ProductRecord) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "price": str(product.price),
        "category": product.category,
        "active": product.active,
        "leadTimeDays": product.lead_time_days,
        "minStock": product.min_stock,
    }


def _on_hand(value: int, *, lower: int, field: str) -> int:
    if not lower <= value <= STOCK_MAX:
        raise reject(ErrorCode.INVALID, f"Must be from {lower} to {STOCK_MAX:,}.", field)
    return value


async def _create(uow: UnitOfWork, fields: dict[str, Any]) -> ProductRecord:
    """Insert checked ``fields`` (``check_new``), audited; SKU_TAKEN if the SKU is held."""
    if await uow.products.by_sku_key(fields["sku_key"]) is not None:
        raise reject(ErrorCode.SKU_TAKEN, "Another product has this SKU.", "input", "sku")
    created = await uow.products.insert(**fields, created_at=uow.now)
    await uow.audit("product", created.id, "create", after=snapshot(created))
    return created


async def _change(uow: UnitOfWork, current: ProductRecord, values: dict[str, Any]) -> ProductRecord:
    """Write checked ``values`` (``check_change``) and audit the fields that differ."""
    if values:
        await uow.products.update(current.id, {**values, "updated_at": uow.now})
    updated = await uow.products.get(current.id)
    assert updated is not None  # the caller holds it in this transaction
    await uow.audit_changes("product", current.id, "update", snapshot(current), snapshot(updated))
    return updated


async def _set_on_hand(
    uow: UnitOfWork, product: ProductRecord, store: StoreRecord, on_hand: int
) -> None:
    """Make the product's count in ``store`` exactly ``on_hand``, audited when it changes."""
    before = (await uow.products.stock_for([product.id], store.id)).get(product.id)
    await uow.products.set_stock(product.id, store.id, on_hand, uow.now)
    if before is None or before.on_hand != on_hand:
        await uow.audit(
            "product",
            product.id,
            "stock_set",
            before={"store": store.code, "onHand": before.on_hand if before else None},
            after={"store": store.code, "onHand": on_hand},
        )


class ProductService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    @staticmethod
    async def _require(uow: UnitOfWork, product_id: uuid.UUID, *field: str) -> ProductRecord:
        product = await uow.products.get(product_id)
        if product is None:
            raise reject(ErrorCode.NOT_FOUND, "No such product.", *(field or ("id",)))
        return product

    async def _store(self, uow: UnitOfWork, store_id: uuid.UUID | None) -> StoreRecord:
        """The given store, else the caller's (a till's or a staff user's), else head office.

        A caller bound to a store counts only its own stock (store scope).
        """
        chosen = scoped_store(self.actor, store_id, "storeId") or (
            self.actor.store_id if self.actor else None
        )
        if chosen is None:
            return await uow.stores.head_office()
        store = await uow.stores.get(chosen)
        if store is None:
            raise reject(ErrorCode.NOT_FOUND, "No such store.", "storeId")
        return store

    # -- products ------------------------------------------------------------------

    async def create(
        self,
        sku: str,
        name: str,
        price: Decimal,
        category: str | None = None,
        lead_time_days: int = 7,
        min_stock: int | None = None,
    ) -> Result[ProductRecord]:
        """A new product; SKU_TAKEN if its SKU (in any case) is another product's."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            # A concurrent create of the same SKU fails the unique constraint; the run is
            # retried once and this check then answers SKU_TAKEN.
            fields = _all_of(
                lambda: check_new(sku, name, price, category),
                lambda: check_planning(lead_time_days, min_stock),
            )
            return await _create(uow, {**fields[0], **fields[1]})

        return await self.tx.run(self.actor, work)

    async def update(self, product_id: uuid.UUID, change: ProductChange) -> Result[ProductRecord]:
        """Rename, re-price, re-categorise, (de)activate; only changed fields are audited."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            current = await self._require(uow, product_id)
            return await _change(uow, current, check_change(change))

        return await self.tx.run(self.actor, work)

    # -- stock ---------------------------------------------------------------------

    async def set_stock(
        self, product_id: uuid.UUID, store_id: uuid.UUID | None, on_hand: int
    ) -> Result[ProductRecord]:
        """A stock take: the count in the store (default the caller's) becomes ``on_hand``."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            product = await self._require(uow, product_id, "productId")
            store = await self._store(uow, store_id)
            count = _on_hand(on_hand, lower=0, field="onHand")
            await _set_on_hand(uow, product, store, count)
            return product

        return await self.tx.run(self.actor, work)

    async def adjust_stock(
        self, product_id: uuid.UUID, store_id: uuid.UUID | None, delta: int, reason: str
    ) -> Result[ProductRecord]:
        """Add ``delta`` (a delivery; negative: breakage, shrinkage) with the reason audited."""

        async def work(uow: UnitOfWork) -> ProductRecord:
            product = await self._require(uow, product_id, "productId")
            store = await self._store(uow, store_id)
            if delta == 0:
                raise reject(ErrorCode.INVALID, "An adjustment is not zero.", "delta")
            _on_hand(abs(delta), lower=1, field="delta")
            why = required_text(reason, max_length=REASON_MAX, what="A reason", field="reason")
            await uow.products.adjust_stock(store.id, {product.id: delta}, uow.now)
            # Read back inside the transaction: the row is ours until commit, so before
            # and after are exact even with a till selling the product meanwhile.
            after = (await uow.products.stock_for([product.id], store.id))[product.id].on_hand
            if abs(after) > STOCK_MAX:
                raise reject(ErrorCode.INVALID, f"Stock would be {after:,}.", "delta")
            await uow.audit(
                "product",
                product.id,
                "stock_adjust",
                before={"store": store.code, "onHand": after - delta},
                after={"store": store.code, "onHand": after, "reason": why},
            )
            return product

        return await self.tx.run(self.actor, work)

    # -- reads ---------------------------------------------------------------------

    async def get(self, product_id: uuid.UUID) -> ProductRecord | None:
        async with self.tx.db.read() as session:
            return await ProductRepository(session).get(product_id)

    async def page(
        self, first: int, after: str | None, where: ProductFilter | None = None
    ) -> Page[ProductRecord]:
        async with self.tx.db.read() as session:
            return await ProductRepository(session).page(first, after, where or ProductFilter())

    async def on_hand(
        self, keys: list[tuple[uuid.UUID, uuid.UUID | None]]
    ) -> dict[tuple[uuid.UUID, uuid.UUID | None], int]:
        """On hand per (product, store); store None: the caller's store, else head office.

        A product never counted in a store has 0 there.
        """
        async with self.tx.db.read() as session:
            repository = ProductRepository(session)
            default = self.actor.store_id if self.actor else None
            if default is None and any(store_id is None for _, store_id in keys):
                default = (await StoreRepository(session).head_office()).id
            in_store = {key: key[1] or default for key in keys}
            by_store: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
            for (product_id, _), store_id in in_store.items():
                if store_id is not None:
                    by_store[store_id].append(product_id)
            found: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
            # One statement per store asked about; a product list asks about one.
            for store_id, product_ids in by_store.items():
                stock = await repository.stock_for(product_ids, store_id)
                for product_id, record in stock.items():
                    found[(product_id, store_id)] = record.on_hand
        return {
            key: found.get((key[0], store_id), 0) if store_id else 0
            for key, store_id in in_store.items()
        }

    async def stock_levels(
        self, product_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[StockRecord]]:
        """Each product's count in every store that has one."""
        async with self.tx.db.read() as session:
            return await ProductRepository(session).stock_levels(product_ids)
