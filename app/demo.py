"""``poscrm seed-demo``: a realistic demo shop (stores, tills, staff, customers, sales)."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from app.db.engine import Database
from app.db.repositories.stores import StoreRepository
from app.demo_audit import plant_discount_abuse, staff_actor
from app.demo_history import add_sales_history
from app.domain.permissions import Permission
from app.domain.sales import PaymentMethod
from app.domain.tiers import TierBasis
from app.services.auth import AuthService
from app.services.groups import GroupService
from app.services.loyalty import LoyaltyService
from app.services.loyalty_tiers import LoyaltyTierService, TierDraft, refresh_tiers
from app.services.products import ProductService
from app.services.sales import LineDraft, SaleCompletion, SaleCreate, SaleService
from app.services.sales_aggregates import rebuild
from app.services.sms_credits import SmsCreditService
from app.services.text import email_key, name_key
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow
from app.settings import Settings

DEMO_PASSWORD = "demo-password"  # noqa: S105  (printed for the demo's users)
FIRST = [
    "Ana",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Pavel",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Yusuf",
    "Zoe",
    "José",
    "Zoë",
]
LAST = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Okafor",
    "Rossi",
    "Müller",
    "Kowalski",
    "Tanaka",
    "Dubois",
    "Silva",
    "Jensen",
    "Haddad",
    "Brown",
    "Novak",
    "Ivanova",
    "Patel",
    "Costa",
    "Larsen",
    "Moreau",
    "Schmidt",
]
CATALOG = [
    ("TEA-GREEN", "Green tea 100 g", "Tea", "6.50"),
    ("TEA-BLACK", "Black tea 100 g", "Tea", "5.90"),
    ("COF-BEAN", "Coffee beans 250 g", "Coffee", "9.80"),
    ("COF-GROUND", "Ground coffee 250 g", "Coffee", "8.90"),
    ("MUG-WHITE", "White mug", "Tableware", "7.00"),
    ("MUG-BLUE", "Blue mug", "Tableware", "7.50"),
    ("POT-GLASS", "Glass teapot", "Tableware", "24.00"),
    ("CHOC-DARK", "Dark chocolate", "Sweets", "3.20"),
    ("CHOC-MILK", "Milk chocolate", "Sweets", "2.90"),
    ("HONEY-500", "Honey 500 g", "Pantry", "11.40"),
]
CASHIER = [
    Permission.CUSTOMER_VIEW,
    Permission.CUSTOMER_ADD,
    Permission.CUSTOMER_MODIFY,
    Permission.SALE_CREATE,
]

DEMO_SMS_CREDITS = 500


async def seed_demo(settings: Settings, *, customers: int = 300) -> int:
    db = Database(settings.effective_database_url)
    tx = Transactions(db, None)
    rng = random.Random(20261123)
    try:
        async with db.read() as session:
            if await StoreRepository(session).get_by_code("DT") is not None:
                print("the demo shop is already there")
                return 0
        auth = AuthService(tx, settings, throttle=None, actor=None)
        stores = [
            (await auth.create_store(code, name)).value
            for code, name in (("DT", "Downtown"), ("HB", "Harbour"))
        ]
        # A store manager runs Downtown only; the administrator (create-admin) runs the chain.
        manager_permissions = [p for p in Permission if p is not Permission.STORE_ALL]
        manager = (await auth.create_role("Manager", manager_permissions)).value
        cashier = (await auth.create_role("Cashier", CASHIER)).value
        assert manager
        assert cashier
        assert all(stores)
        actors = {}
        for username, role, store in (
            ("manager", manager, stores[0]),
            ("cashier.dt", cashier, stores[0]),
            ("cashier.hb", cashier, stores[1]),
        ):
            user = await auth.create_staff_user(
                username, DEMO_PASSWORD, role.id, store.id if store else None
            )
            assert user.value, user.errors
            actors[username] = staff_actor(user.value, role)
        for store in stores:
            assert store is not None
            await auth.create_till(store.id, "Till 1", cashier.id)

        ids: list[uuid.UUID] = []

        async def fill(uow: UnitOfWork) -> None:
            for n in range(customers):
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                store = stores[n % len(stores)]
                assert store is not None
                email = f"{name.split()[0].lower()}.{n}@example.com" if rng.random() < 0.6 else None
                customer = await uow.customers.insert(
                    name=name,
                    name_key=name_key(name),
                    phone=f"+1212555{n:04d}",
                    email=email,
                    email_key=email_key(email) if email else None,
                    customer_code=f"C{n + 1:05d}" if rng.random() < 0.5 else None,
                    home_store_id=store.id,
                    status="INACTIVE" if rng.random() < 0.05 else "ACTIVE",
                    created_at=uow.now - timedelta(days=rng.randint(30, 700)),
                    updated_at=uow.now,
                )
                await uow.audit("customer", customer.id, "create", after={"source": "seed-demo"})
                ids.append(customer.id)

        await tx.run(None, fill)
        # A new database has no SMS credits (migration 0011); the demo buys some, so a
        # customer registered with only a phone shows the SMS path and the balance moving.
        await SmsCreditService(tx, None).add(DEMO_SMS_CREDITS, "demo shop top-up")
        sales = await _sell(tx, rng, [s.id for s in stores if s], ids)
        # Reports read the daily aggregates: fill them now rather than at tonight's run.
        await rebuild(tx)
        print(
            f"demo shop: 2 stores, 3 staff (password {DEMO_PASSWORD!r}), "
            f"{customers} customers, {len(CATALOG)} products, {sales} sales over a year, "
            f"{DEMO_SMS_CREDITS} SMS credits"
        )
        abuse = await plant_discount_abuse(
            tx, settings, manager=actors["manager"], cashier=actors["cashier.dt"],
            stores=[s.id for s in stores if s],
        )  # fmt: skip
        print(
            f"discount audit: {abuse.planted} abuse cases planted, "
            f"{abuse.findings} findings (discountAuditFindings)"
        )
        return 0
    finally:
        await db.dispose()


async def _sell(
    tx: Transactions, rng: random.Random, stores: list[uuid.UUID], customers: list[uuid.UUID]
) -> int:
    """A catalogue, two discount groups, some cards, a year of history, then real sales by
    the till's rules today."""
    products = ProductService(tx, None)
    for sku, name, category, price in CATALOG:
        created = await products.create(sku, name, Decimal(price), category)
        assert created.value, created.errors
        for store_id in stores:
            await products.set_stock(created.value.id, store_id, 200)
    groups = GroupService(tx, None)
    staff = (await groups.create("Staff", "Employees", Decimal("15"))).value
    regulars = (await groups.create("Regulars", None, Decimal("5"))).value
    assert staff
    assert regulars
    await groups.change_members(staff.id, customers[:5], add=True)
    await groups.change_members(regulars.id, customers[5:40], add=True)
    loyalty = LoyaltyService(tx, None)
    for n, customer_id in enumerate(customers[:60]):
        await loyalty.issue_card(customer_id, f"DEMO{n + 1:06d}", Decimal("0"))
    # The past year first: today's sales then see their customers' history (segments).
    count = await add_sales_history(tx, rng, stores, customers)
    # Membership tiers over that year (seed 003): everyone tiered before today's sales,
    # which then get the tier's discount and multiplier and may promote.
    tiers = LoyaltyTierService(tx, None)
    for name, rank, threshold, multiplier, percent in (
        ("Silver", 1, "225", "1.25", None),
        ("Gold", 2, "300", "1.5", "7"),
    ):
        made = await tiers.create(
            TierDraft(name, rank, TierBasis.SPEND, Decimal(threshold), 365, Decimal(multiplier),
                      Decimal(percent) if percent else None)
        )  # fmt: skip
        assert made.value, made.errors
    tiered = await refresh_tiers(tx, utcnow())
    print(f"loyalty tiers Silver and Gold: {(tiered.result or {}).get('rows', 0)} customers tiered")
    sales = SaleService(tx, None, loyalty)
    for n, customer_id in enumerate(customers):
        for _ in range(rng.randint(0, 3)):
            lines = tuple(
                LineDraft(sku, rng.randint(1, 3))
                for sku, *_ in rng.sample(CATALOG, rng.randint(1, 4))
            )
            opened = await sales.create(
                SaleCreate(lines=lines, store_id=stores[n % len(stores)], customer_id=customer_id)
            )
            if opened.value is None:  # an inactive demo customer: left out of sales
                break
            payment = rng.choice([PaymentMethod.CASH, PaymentMethod.CARD])
            done = await sales.complete(opened.value.id, SaleCompletion(payment))
            assert done.value, done.errors
            count += 1
    return count
