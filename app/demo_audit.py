"""``poscrm seed-demo``'s planted discount abuse (issue 11 §7), so the audit has something
to show in the analyst's tour.

Everything goes through the services, as staff at the tills would do it; then one scan
judges it. Two patterns cannot be made this way and are left to the quality test's
generator (tests/discount_audit_world.py): a code the customer did not hold (the till
refuses it) and a cashier outlier (it needs weeks of volume per cashier).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from app.domain.records import Actor, CustomerStatus, RoleRecord, StaffUserRecord, TokenKind
from app.domain.sales import PaymentMethod
from app.services.customers import CustomerCreate, CustomerService
from app.services.discount_audit import scan
from app.services.discount_audit_rules import AuditThresholds
from app.services.groups import GroupService
from app.services.loyalty import LoyaltyService
from app.services.sales import LineDraft, SaleCompletion, SaleCreate, SaleService
from app.services.unit_of_work import Transactions, UnitOfWork, utcnow
from app.settings import Settings

SKU = "MUG-WHITE"


@dataclass(frozen=True, slots=True)
class PlantedAbuse:
    planted: int
    findings: int


def staff_actor(user: StaffUserRecord, role: RoleRecord) -> Actor:
    """The staff user as their session would act (no token: the demo is not a login)."""
    return Actor(
        token_id=uuid.uuid4(),
        kind=TokenKind.SESSION,
        permissions=frozenset(role.permissions),
        store_id=user.store_id,
        staff_user_id=user.id,
        label=user.username,
    )


async def _ring_up(
    sales: SaleService,
    store_id: uuid.UUID,
    customer_id: uuid.UUID,
    *,
    redeem: int = 0,
    reactivate: bool = False,
) -> None:
    opened = await sales.create(SaleCreate(lines=(LineDraft(SKU, 2),), store_id=store_id))
    assert opened.value, opened.errors
    assigned = await sales.assign_customer(opened.value.id, customer_id, reactivate)
    assert assigned.value, assigned.errors
    done = await sales.complete(opened.value.id, SaleCompletion(PaymentMethod.CASH, redeem))
    assert done.value, done.errors


async def plant_discount_abuse(
    tx: Transactions,
    settings: Settings,
    *,
    manager: Actor,
    cashier: Actor,
    stores: Sequence[uuid.UUID],
) -> PlantedAbuse:
    """Plant each pattern the services allow, at the first store, then scan."""
    store = stores[0]
    system_groups = GroupService(tx, None)
    family = await system_groups.create("Friends & family", "Staff's relatives", Decimal(15))
    assert family.value, family.errors
    group = family.value.id
    customers = CustomerService(tx, settings, manager)
    people = []
    for n, name in enumerate(("Ada Friend", "Bo Friend", "Cy Points", "Di Points", "Ed Dormant",
                              "Flo Dormant", "Gus Dormant", "Hal Everywhere")):  # fmt: skip
        created = await customers.create(CustomerCreate(phone=f"+12125560{n:03d}", name=name))
        assert created.value, created.errors
        people.append(created.value.id)
    friends, pointed, dormant, frequent = people[:2], people[2:4], people[4:7], people[7]

    loyalty = LoyaltyService(tx, manager)
    by_manager = SaleService(tx, manager, loyalty)
    # The manager puts two friends in the 15% group, then rings up their sales.
    for friend in friends:
        added = await GroupService(tx, manager).change_members(group, [friend], add=True)
        assert added.value, added.errors
        await _ring_up(by_manager, store, friend)
    # The manager adds points by hand and spends them on their own sales.
    for n, friend in enumerate(pointed):
        await LoyaltyService(tx, None).issue_card(friend, f"DEMOAUDIT{n}", Decimal(0))
        adjusted = await loyalty.adjust(friend, 300, "goodwill")
        assert adjusted.value, adjusted.errors
        await _ring_up(by_manager, store, friend, redeem=200)
    # Three dormant customers of the group, revived at the till by one cashier.
    await system_groups.change_members(group, [*dormant, frequent], add=True)
    by_cashier = SaleService(tx, cashier, LoyaltyService(tx, cashier))
    for customer_id in dormant:
        await CustomerService(tx, settings, None).set_status(customer_id, CustomerStatus.INACTIVE)
        await _ring_up(by_cashier, store, customer_id, reactivate=True)
    # One customer's discount on four visits in a day, at both stores.
    everywhere = SaleService(tx, None, LoyaltyService(tx, None))
    for visit in range(4):
        await _ring_up(everywhere, stores[visit % len(stores)], frequent)

    async def judge(uow: UnitOfWork) -> int:
        # Up to now: the demo knows nothing is still in flight, so no settle margin.
        first = timedelta(days=settings.audit_first_scan_days)
        report = await scan(uow, utcnow(), AuditThresholds.from_settings(settings), first)
        return report.findings

    found = await tx.run(None, judge)
    assert found.value is not None, found.errors
    return PlantedAbuse(
        planted=len(friends) + len(pointed) + len(dormant) + 1, findings=found.value
    )
