"""A synthetic chain for the discount-usage audit: normal trading with planted abuse.

Fixed seed, so every run plants the same cases among the same noise. Rows are written in
bulk as the services write them (sales with their lines and applied discount, and the
customers' audit trail: assignments, expiries, group adds, cards, points adjustments,
reactivations at the till); the rules read nothing else.

Noise holds near misses on purpose: grants by a manager just before a sale, cards the
cashier issued days earlier, points a manager added, single reactivations, customers back
two or three times a day, codes that expired before the customer's next visit (and were
then not applied), ordinary voids and price cuts.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import insert, select

from app.db.engine import Database
from app.db.models import (
    AuditEntry,
    Customer,
    DiscountAuditFinding,
    Product,
    Role,
    Sale,
    SaleDiscount,
    SaleLine,
    StaffUser,
    Store,
)
from app.db.repositories.discount_audit import DiscountAuditRepository
from app.domain.discount_audit import (
    CashierMetric,
    FindingRule,
    FindingSeverity,
    NewFinding,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
CENT = Decimal("0.01")
CODES = {"VIP10": Decimal(10), "FRIENDS15": Decimal(15), "SPRING5": Decimal(5)}
GROUP = ("Neighbours", Decimal(10))
CARD_PERCENT = Decimal(5)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Entitlements:
    """What a customer holds: (code, expires) and whether card or group, with since when."""

    code: tuple[str, datetime | None] | None = None
    card: bool = False
    group: bool = False

    def best(self, at: datetime) -> tuple[str, str, Decimal] | None:
        offers = []
        if self.code is not None and (self.code[1] is None or self.code[1] > at):
            offers.append((CODES[self.code[0]], 3, "CODE", self.code[0]))
        if self.card:
            offers.append((CARD_PERCENT, 2, "LOYALTY_CARD", "CARD"))
        if self.group:
            offers.append((GROUP[1], 1, "GROUP", GROUP[0]))
        if not offers:
            return None
        percent, _, source, code = max(offers)
        return source, code, percent


@dataclass
class Planted:
    """What was planted, by rule: sale ids; outliers as (cashier, metric, window start);
    frequent use as (customer, day)."""

    sales: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    outliers: set[tuple[uuid.UUID, str, str]] = field(default_factory=set)
    frequent: set[tuple[uuid.UUID, str]] = field(default_factory=set)

    def cases(self) -> int:
        return sum(len(s) for s in self.sales.values()) + len(self.outliers) + len(self.frequent)


@dataclass
class World:
    start: datetime
    end: datetime
    planted: Planted
    stores: list[uuid.UUID]
    cashiers: dict[uuid.UUID, list[uuid.UUID]]
    sales: int = 0


class _Builder:
    def __init__(self, seed: int, start: datetime, days: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311  (a reproducible scenario, not a secret)
        self.start = start
        self.days = days
        self.rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.planted = Planted()
        self.product = uuid.uuid4()
        self.phone = 0

    # -- rows ------------------------------------------------------------------------

    def audit(
        self,
        customer: uuid.UUID,
        action: str,
        actor: uuid.UUID | None,
        at: datetime,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.rows[AuditEntry].append(
            {
                "entity_type": "customer",
                "entity_id": str(customer),
                "action": action,
                "actor_id": str(actor) if actor else None,
                "actor_label": "staff" if actor else "system",
                "at": at,
                "before": before,
                "after": after,
            }
        )

    def customer(self, store: uuid.UUID) -> uuid.UUID:
        self.phone += 1
        cid = uuid.uuid4()
        self.rows[Customer].append(
            {
                "id": cid,
                "name": f"Customer {self.phone}",
                "name_key": f"customer {self.phone}",
                "phone": f"+1720{self.phone:07d}",
                "status": "ACTIVE",
                "home_store_id": store,
                "created_at": self.start - timedelta(days=60),
            }
        )
        return cid

    def sale(
        self,
        store: uuid.UUID,
        cashier: uuid.UUID,
        customer: uuid.UUID | None,
        at: datetime,
        offer: tuple[str, str, Decimal] | None,
        *,
        voided: bool = False,
        price_cut: bool = False,
        points: int = 0,
    ) -> uuid.UUID:
        sale_id = uuid.uuid4()
        list_price = Decimal(self.rng.randrange(8, 60))
        quantity = self.rng.randrange(1, 4)
        price = cents(list_price * Decimal("0.7")) if price_cut else list_price
        amount = price * quantity
        percent = offer[2] if offer else Decimal(0)
        discount = cents(amount * percent / 100)
        total = amount - discount
        points_amount = cents(Decimal(points) / 100)
        self.rows[Sale].append(
            {
                "id": sale_id,
                "store_id": store,
                "cashier_id": cashier,
                "cashier_label": "cashier",
                "customer_id": customer,
                "status": "VOIDED" if voided else "COMPLETED",
                "subtotal": amount,
                "discount_total": discount,
                "total": total,
                "payment": "CASH",
                "points_redeemed": points,
                "points_amount": points_amount,
                "paid": total - points_amount,
                "created_at": at - timedelta(minutes=3),
                "completed_at": at,
                "voided_at": at + timedelta(minutes=20) if voided else None,
            }
        )
        self.rows[SaleLine].append(
            {
                "id": uuid.uuid4(),
                "sale_id": sale_id,
                "position": 0,
                "product_id": self.product,
                "sku": "MUG",
                "name": "Mug",
                "quantity": quantity,
                "unit_price": price,
                "amount": amount,
                "discount": discount,
                "total": total,
                "list_price": list_price if price_cut else None,
                "price_override_by": "cashier" if price_cut else None,
                "price_override_staff_id": cashier if price_cut else None,
            }
        )
        if offer is not None:
            self.rows[SaleDiscount].append(
                {
                    "sale_id": sale_id,
                    "source": offer[0],
                    "code": offer[1],
                    "percent": offer[2],
                    "amount": discount,
                    "applied": True,
                }
            )
        return sale_id

    def moment(self, day: int) -> datetime:
        return self.start + timedelta(days=day, hours=9, minutes=self.rng.randrange(0, 600))


async def build_world(
    db: Database,
    seed: int = 11,
    days: int = 14,
    *,
    store_count: int = 3,
    cashier_count: int = 6,
    per_day: tuple[int, int] = (6, 10),
) -> World:
    """``store_count`` stores of ``cashier_count`` cashiers (and a manager) trading ``days``
    days (14: two closed outlier windows of a week), each cashier ringing up ``per_day``
    sales a day, with each pattern planted several times among the first three stores."""
    start = EPOCH + ((datetime(2026, 10, 1, tzinfo=UTC) - EPOCH) // WEEK) * WEEK
    b = _Builder(seed, start, days)
    rng = b.rng
    role = uuid.uuid4()
    b.rows[Role].append({"id": role, "name": f"audit-world-{seed}", "permissions": []})
    b.rows[Product].append(
        {"id": b.product, "sku": "MUG", "sku_key": "MUG", "name": "Mug", "price": Decimal(20)}
    )
    stores: list[uuid.UUID] = []
    cashiers: dict[uuid.UUID, list[uuid.UUID]] = {}
    managers: dict[uuid.UUID, uuid.UUID] = {}
    n = 0
    for s in range(store_count):
        store = uuid.uuid4()
        stores.append(store)
        b.rows[Store].append({"id": store, "code": f"W{seed}-{s}", "name": f"Store {s}"})
        cashiers[store] = []
        for c in range(cashier_count + 1):
            n += 1
            user = uuid.uuid4()
            b.rows[StaffUser].append(
                {
                    "id": user,
                    "username": f"w{seed}-staff{n}",
                    "password_hash": "x",
                    "role_id": role,
                    "store_id": store,
                }
            )
            if c == 0:
                managers[store] = user
            else:
                cashiers[store].append(user)

    # Customers and what the back office gave them, weeks before.
    # Each customer visits about once a week, whatever the volume: a store with busier
    # tills has more customers, not the same ones more often.
    customers_per_store = round(20 * cashier_count * max(1.0, sum(per_day) / 2 / 8))
    held: dict[uuid.UUID, Entitlements] = {}
    pool: dict[uuid.UUID, list[uuid.UUID]] = {s: [] for s in stores}
    for store in stores:
        for _ in range(customers_per_store):
            cid = b.customer(store)
            pool[store].append(cid)
            e = Entitlements()
            granted = start - timedelta(days=rng.randrange(10, 40))
            if rng.random() < 0.3:
                code = rng.choice(sorted(CODES))
                expires = (
                    start + timedelta(days=rng.randrange(2, 12)) if rng.random() < 0.35 else None
                )
                e.code = (code, expires)
                b.audit(
                    cid,
                    "discount_assign",
                    managers[store],
                    granted,
                    None,
                    {"discountCode": code, "expiresAt": expires.isoformat() if expires else None},
                )
                if expires is not None:
                    b.audit(
                        cid,
                        "discount_expire",
                        None,
                        expires + timedelta(minutes=4),
                        {"discountCode": code, "expiresAt": expires.isoformat()},
                    )
            if rng.random() < 0.2:
                e.card = True
                b.audit(
                    cid, "loyalty_card_issue", managers[store], granted, None, {"cardNumber": "x"}
                )
            if rng.random() < 0.15:
                e.group = True
                b.audit(cid, "add_to_group", managers[store], granted, None, {"groupId": "g"})
            held[cid] = e
    discounted_pool = {s: [c for c in pool[s] if held[c].best(start) is not None] for s in stores}

    outlier_discount, outlier_void, outlier_cut = (cashiers[stores[i]][0] for i in range(3))

    # Ordinary trading.
    for day in range(days):
        for store in stores:
            for cashier in cashiers[store]:
                for _ in range(rng.randrange(*per_day)):
                    at = b.moment(day)
                    # The discount outlier serves discounted customers on most sales; the
                    # void outlier on some, and voids most of those (cash pocketed).
                    favoured = {outlier_discount: 0.8, outlier_void: 0.3}.get(cashier, 0.0)
                    if rng.random() < favoured:
                        customer: uuid.UUID | None = rng.choice(discounted_pool[store])
                    elif rng.random() < 0.4:
                        customer = rng.choice(pool[store])
                    else:
                        customer = None
                    offer = held[customer].best(at) if customer else None
                    voided = rng.random() < 0.02
                    if cashier == outlier_void and offer is not None:
                        voided = rng.random() < 0.6
                    cut_rate = 0.45 if cashier == outlier_cut else 0.03
                    b.sale(
                        store,
                        cashier,
                        customer,
                        at,
                        offer,
                        voided=voided,
                        price_cut=rng.random() < cut_rate,
                    )
    for week in range(days // 7):
        window = (start + week * WEEK).date().isoformat()
        b.planted.outliers |= {
            (outlier_discount, CashierMetric.DISCOUNT_RATE.value, window),
            (outlier_void, CashierMetric.VOID_AFTER_DISCOUNT_RATE.value, window),
            (outlier_cut, CashierMetric.PRICE_OVERRIDE_RATE.value, window),
        }

    def some_cashier(store: uuid.UUID) -> uuid.UUID:
        # Not the outliers: the per-sale patterns are planted on otherwise ordinary staff.
        return rng.choice(cashiers[store][1:])

    # Near misses: not findings.
    for i in range(8):
        store = stores[i % 3]
        cid, cashier, at = b.customer(store), some_cashier(store), b.moment(rng.randrange(days))
        if i % 2:  # a manager gives the group an hour before a cashier's sale
            b.audit(
                cid,
                "add_to_group",
                managers[store],
                at - timedelta(hours=1),
                None,
                {"groupId": "g"},
            )
            b.sale(store, cashier, cid, at, ("GROUP", GROUP[0], GROUP[1]))
        else:  # the cashier issued the card days ago
            b.audit(
                cid,
                "loyalty_card_issue",
                cashier,
                at - timedelta(days=3),
                None,
                {"cardNumber": "y"},
            )
            b.sale(store, cashier, cid, at, ("LOYALTY_CARD", "CARD", CARD_PERCENT))
        # points added by a manager, or by the cashier long before, then redeemed
        pid, at2 = b.customer(store), b.moment(rng.randrange(4, days))
        actor, gap = (
            (managers[store], timedelta(hours=2)) if i % 2 else (cashier, timedelta(days=5))
        )
        b.audit(
            pid, "points_adjust", actor, at2 - gap, {"balance": 0}, {"balance": 400, "points": 400}
        )
        b.sale(store, cashier, pid, at2, None, points=400)
    for store in stores:  # one reactivation each, by different cashiers
        for cashier in cashiers[store][1:3]:
            cid, at = b.customer(store), b.moment(rng.randrange(days))
            sale = b.sale(store, cashier, cid, at, ("LOYALTY_CARD", "CARD", CARD_PERCENT))
            b.audit(
                cid,
                "set_status",
                cashier,
                at,
                {"status": "INACTIVE"},
                {"status": "ACTIVE", "saleId": str(sale)},
            )
    for i in range(6):  # back two or three times in a day
        store = stores[i % 3]
        cid, day = rng.choice(discounted_pool[store]), rng.randrange(days)
        for _ in range(2 + i % 2):
            at = b.moment(day)
            b.sale(store, some_cashier(store), cid, at, held[cid].best(at))

    # 1. A code the customer did not hold, or held past its expiry.
    for i in range(4):
        store = stores[i % 3]
        at = b.moment(rng.randrange(days))
        if i % 2:
            cid = b.customer(store)
            offer = ("CODE", "VIP10", CODES["VIP10"])
        else:
            cid = b.customer(store)
            expired = at - timedelta(days=2)
            b.audit(
                cid,
                "discount_assign",
                managers[store],
                expired - timedelta(days=20),
                None,
                {"discountCode": "FRIENDS15", "expiresAt": expired.isoformat()},
            )
            b.audit(cid, "discount_expire", None, expired, {"discountCode": "FRIENDS15"})
            offer = ("CODE", "FRIENDS15", CODES["FRIENDS15"])
        b.planted.sales["INVALID_CODE"].add(b.sale(store, some_cashier(store), cid, at, offer))

    # 2. The cashier gives the group, card or code, then rings up the discounted sale.
    grants = [
        ("add_to_group", ("GROUP", GROUP[0], GROUP[1]), {"groupId": "g"}),
        ("loyalty_card_issue", ("LOYALTY_CARD", "CARD", CARD_PERCENT), {"cardNumber": "z"}),
        (
            "discount_assign",
            ("CODE", "FRIENDS15", CODES["FRIENDS15"]),
            {"discountCode": "FRIENDS15", "expiresAt": None},
        ),
    ]
    for i in range(6):
        store = stores[i % 3]
        action, offer, after = grants[i % 3]
        cid, cashier, at = b.customer(store), some_cashier(store), b.moment(rng.randrange(days))
        b.audit(cid, action, cashier, at - timedelta(minutes=rng.randrange(5, 100)), None, after)
        b.planted.sales["SELF_GRANTED_DISCOUNT"].add(b.sale(store, cashier, cid, at, offer))

    # 4. One customer's card used on five visits in a day, at two stores.
    for i in range(4):
        cid, day = b.customer(stores[i % 3]), rng.randrange(days)
        b.audit(
            cid, "loyalty_card_issue", managers[stores[0]], start - timedelta(days=30), None, {}
        )
        for v in range(5):
            store = stores[(i + v) % 2]
            b.sale(
                store,
                some_cashier(store),
                cid,
                b.moment(day),
                ("LOYALTY_CARD", "CARD", CARD_PERCENT),
            )
        b.planted.frequent.add((cid, (start + timedelta(days=day)).date().isoformat()))

    # 5. Points added by hand, redeemed on the same cashier's sale within hours.
    for i in range(4):
        store = stores[i % 3]
        cid, cashier, at = b.customer(store), some_cashier(store), b.moment(rng.randrange(2, days))
        b.audit(
            cid,
            "points_adjust",
            cashier,
            at - timedelta(hours=rng.randrange(1, 40)),
            {"balance": 0},
            {"balance": 500, "points": 500, "reason": "goodwill"},
        )
        b.planted.sales["ADJUSTED_POINTS_REDEEMED"].add(
            b.sale(store, cashier, cid, at, None, points=500)
        )

    # 6. Two cashiers reactivate and discount three inactive customers each within days.
    for store in stores[:2]:
        cashier = cashiers[store][-1]
        first = rng.randrange(0, days - 6)
        for k in range(3):
            cid, at = b.customer(store), b.moment(first + 2 * k)
            sale = b.sale(store, cashier, cid, at, ("LOYALTY_CARD", "CARD", CARD_PERCENT))
            b.audit(
                cid,
                "set_status",
                cashier,
                at,
                {"status": "INACTIVE"},
                {"status": "ACTIVE", "saleId": str(sale)},
            )
            b.planted.sales["REPEATED_REACTIVATION"].add(sale)

    async with db.write() as session:
        for model in (
            Role,
            Store,
            StaffUser,
            Product,
            Customer,
            Sale,
            SaleLine,
            SaleDiscount,
            AuditEntry,
        ):
            rows = b.rows[model]
            for i in range(0, len(rows), 500):
                await session.execute(insert(model), rows[i : i + 500])
    return World(
        start=start,
        end=start + timedelta(days=days),
        planted=b.planted,
        stores=stores,
        cashiers=cashiers,
        sales=len(b.rows[Sale]),
    )


async def finding(
    db: Database,
    *,
    store_id: uuid.UUID | None = None,
    sale_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    cashier_id: uuid.UUID | None = None,
    rule: FindingRule = FindingRule.INVALID_CODE,
    severity: FindingSeverity = FindingSeverity.HIGH,
    detected_at: datetime | None = None,
) -> uuid.UUID:
    """One finding as the scan writes it, for tests of reading and triage."""
    subject = f"test:{uuid.uuid4()}"
    async with db.write() as session:
        repo = DiscountAuditRepository(session)
        await repo.insert_findings(
            [
                NewFinding(
                    rule=rule,
                    subject=subject,
                    severity=severity,
                    explanation="planted for a test",
                    sale_id=sale_id,
                    customer_id=customer_id,
                    cashier_id=cashier_id,
                    store_id=store_id,
                    amount=Decimal("1.50"),
                    details={},
                )
            ],
            detected_at or datetime.now(UTC),
        )
        found = await session.scalar(
            select(DiscountAuditFinding.id).where(DiscountAuditFinding.subject == subject)
        )
    assert found is not None
    return found
