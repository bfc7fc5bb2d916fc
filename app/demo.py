"""``poscrm seed-demo``: a realistic demo shop (stores, tills, staff, customers, sales)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from app.db.engine import Database
from app.db.models import Sale
from app.db.repositories.stores import StoreRepository
from app.domain.permissions import Permission
from app.services.auth import AuthService
from app.services.text import email_key, name_key
from app.services.unit_of_work import Transactions, UnitOfWork
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
CASHIER = [
    Permission.CUSTOMER_VIEW,
    Permission.CUSTOMER_ADD,
    Permission.CUSTOMER_MODIFY,
    Permission.SALE_CREATE,
]


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
        manager = (await auth.create_role("Manager", list(Permission))).value
        cashier = (await auth.create_role("Cashier", CASHIER)).value
        assert manager
        assert cashier
        assert all(stores)
        for username, role, store in (
            ("manager", manager, stores[0]),
            ("cashier.dt", cashier, stores[0]),
            ("cashier.hb", cashier, stores[1]),
        ):
            await auth.create_staff_user(
                username, DEMO_PASSWORD, role.id, store.id if store else None
            )
        for store in stores:
            assert store is not None
            await auth.create_till(store.id, "Till 1", cashier.id)

        async def fill(uow: UnitOfWork) -> int:
            sales = 0
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
                for _ in range(rng.randint(0, 6)):
                    subtotal = Decimal(rng.randint(300, 25000)) / 100
                    uow.session.add(
                        Sale(
                            store_id=store.id,
                            customer_id=customer.id,
                            status="COMPLETED",
                            subtotal=subtotal,
                            discount_total=Decimal("0.00"),
                            total=subtotal,
                            created_at=uow.now - timedelta(days=rng.randint(0, 365)),
                        )
                    )
                    sales += 1
            return sales

        result = await tx.run(None, fill)
        print(
            f"demo shop: 2 stores, 3 staff (password {DEMO_PASSWORD!r}), "
            f"{customers} customers, {result.value} sales"
        )
        return 0
    finally:
        await db.dispose()
