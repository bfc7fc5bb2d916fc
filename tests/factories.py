"""Test data through the real services and repositories (no hand-written SQL, no mocks)."""

from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from app.db.models import CustomerDiscount, Sale
from app.domain.appointments import AppointmentRecord
from app.domain.permissions import Permission
from app.domain.products import ProductRecord
from app.domain.records import (
    Actor,
    CustomerGroupRecord,
    CustomerRecord,
    CustomerStatus,
    DiscountCodeRecord,
    StoreRecord,
    TokenKind,
)
from app.domain.sales import PaymentMethod, SaleRecord
from app.runtime import Runtime
from app.services.appointments import AppointmentCreate, AppointmentService
from app.services.auth import AuthService, hash_token
from app.services.customers import CustomerCreate, CustomerService
from app.services.discounts import DiscountService
from app.services.groups import GroupService
from app.services.loyalty import LoyaltyService
from app.services.products import ProductService
from app.services.sales import LineDraft, SaleCompletion, SaleCreate, SaleService
from app.services.sms_credits import SmsCreditService, SmsCreditsRecord
from app.services.unit_of_work import UnitOfWork

_numbers = itertools.count(1)


class Factory:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.runtime.settings

    def auth(self, actor: Actor | None = None) -> AuthService:
        return AuthService(self.runtime.tx, self.settings, self.runtime.throttle, actor)

    def customers(self, actor: Actor | None = None) -> CustomerService:
        return CustomerService(self.runtime.tx, self.settings, actor)

    async def sms_credits(self, amount: int, reference: str = "test top-up") -> SmsCreditsRecord:
        """Top up SMS credits (a new database has none, and an SMS needs them)."""
        result = await SmsCreditService(self.runtime.tx, None).add(amount, reference)
        assert result.value is not None, result.errors
        return result.value

    async def store(self, code: str | None = None) -> StoreRecord:
        result = await self.auth().create_store(code or f"S{next(_numbers)}", "Branch")
        assert result.value, result.errors
        return result.value

    async def staff(
        self,
        *permissions: Permission,
        username: str | None = None,
        password: str = "correct-horse",
        store_id: uuid.UUID | None = None,
    ) -> tuple[str, str]:
        """A staff user with a role of exactly these permissions; returns (username, token)."""
        n = next(_numbers)
        auth = self.auth()
        role = await auth.create_role(f"role-{n}", list(permissions))
        assert role.value, role.errors
        username = username or f"user{n}"
        user = await auth.create_staff_user(username, password, role.value.id, store_id)
        assert user.value, user.errors
        token = secrets.token_urlsafe(24)

        async def issue(uow: UnitOfWork) -> None:
            await uow.staff.insert_token(
                token_hash=hash_token(token),
                kind=TokenKind.SESSION,
                expires_at=uow.now + timedelta(hours=1),
                staff_user_id=user.value.id if user.value else None,
            )

        await self.runtime.tx.run(None, issue)
        return username, token

    async def token(self, *permissions: Permission, store_id: uuid.UUID | None = None) -> str:
        return (await self.staff(*permissions, store_id=store_id))[1]

    async def customer(
        self, name: str | None = None, phone: str | None = None, **fields: object
    ) -> CustomerRecord:
        n = next(_numbers)
        result = await self.customers().create(
            CustomerCreate(
                name=name or f"Customer {n}",
                phone=phone or f"+1720555{n % 10000:04d}",
                **fields,  # type: ignore[arg-type]
            )
        )
        assert result.value, result.errors
        return result.value

    async def sale(self, customer_id: uuid.UUID | None, total: str = "10.00") -> uuid.UUID:
        async def work(uow: UnitOfWork) -> uuid.UUID:
            store = await uow.stores.head_office()
            sale = Sale(
                store_id=store.id,
                customer_id=customer_id,
                status="COMPLETED",
                subtotal=Decimal(total),
                discount_total=Decimal("0.00"),
                total=Decimal(total),
            )
            uow.session.add(sale)
            await uow.session.flush()
            return sale.id

        result = await self.runtime.tx.run(None, work)
        assert result.value
        return result.value

    async def till(self, store_id: uuid.UUID, *permissions: Permission) -> str:
        """A till of ``store_id`` whose device token grants exactly ``permissions``."""
        n = next(_numbers)
        role = await self.auth().create_role(f"till-role-{n}", list(permissions))
        assert role.value, role.errors
        till = await self.auth().create_till(store_id, f"Till {n}", role.value.id)
        assert till.value, till.errors
        return till.value.device_token

    def discounts(self, actor: Actor | None = None) -> DiscountService:
        return DiscountService(self.runtime.tx, actor)

    async def discount_code(
        self, code: str | None = None, percent: str = "10", *, active: bool = True
    ) -> DiscountCodeRecord:
        result = await self.discounts().create(
            code or f"CODE{next(_numbers)}", Decimal(percent), None, active
        )
        assert result.value, result.errors
        return result.value

    async def assign_discount(
        self, customer_id: uuid.UUID, code: str, expires_at: datetime | None
    ) -> None:
        """An assignment as stored, even one already expired (as the expiry job finds it)."""
        found = await self.discounts().page(100, None)
        [code_id] = [c.id for _, c in found.items if c.code == code]

        async def work(uow: UnitOfWork) -> None:
            await uow.discounts.assign(
                customer_id,
                code_id,
                expires_at=expires_at,
                assigned_at=uow.now - timedelta(days=30),
                assigned_by="factory",
            )

        await self.runtime.tx.run(None, work)

    # -- loyalty -----------------------------------------------------------------------

    def loyalty(self, actor: Actor | None = None) -> LoyaltyService:
        return LoyaltyService(self.runtime.tx, actor)

    async def loyalty_card(
        self, customer_id: uuid.UUID, number: str | None = None, percent: str = "5"
    ) -> str:
        number = number or f"CARD-{next(_numbers):06d}"
        result = await self.loyalty().issue_card(customer_id, number, Decimal(percent))
        assert result.value, result.errors
        return number.upper()

    async def earn_points(
        self,
        customer_id: uuid.UUID,
        points: int,
        *,
        at: datetime | None = None,
        sale_id: uuid.UUID | None = None,
    ) -> int:
        """Points earned as a sale earns them; ``at`` backdates the entry (expiry tests)."""
        service = self.loyalty()

        async def work(uow: UnitOfWork) -> int:
            if at is not None:
                uow.now = at
            return await service.earn(uow, customer_id, points, sale_id)

        result = await self.runtime.tx.run(None, work)
        assert result.value is not None, result.errors
        return result.value

    async def points_validity_days(self, days: int | None) -> None:
        async def work(uow: UnitOfWork) -> None:
            await uow.business.update({"points_validity_days": days})

        await self.runtime.tx.run(None, work)

    # -- appointments ------------------------------------------------------------------

    def appointments(self, actor: Actor | None = None) -> AppointmentService:
        return AppointmentService(self.runtime.tx, actor)

    async def appointment(
        self,
        customer_id: uuid.UUID,
        starts_at: datetime | None = None,
        *,
        service: str = "Haircut",
        duration_minutes: int = 30,
        staff_id: uuid.UUID | None = None,
        store_id: uuid.UUID | None = None,
    ) -> AppointmentRecord:
        """A booking through AppointmentService; by default tomorrow at this time."""
        result = await self.appointments().create(
            AppointmentCreate(
                customer_id=customer_id,
                service=service,
                starts_at=starts_at or datetime.now(UTC) + timedelta(days=1),
                duration_minutes=duration_minutes,
                staff_id=staff_id,
                store_id=store_id,
            )
        )
        assert result.value, result.errors
        return result.value

    # -- products ----------------------------------------------------------------------

    def products(self, actor: Actor | None = None) -> ProductService:
        return ProductService(self.runtime.tx, actor)

    async def product(
        self,
        sku: str | None = None,
        price: str = "10.00",
        name: str | None = None,
        category: str | None = None,
        stock: dict[uuid.UUID, int] | None = None,
    ) -> ProductRecord:
        """A product through ProductService; ``stock``: on hand per store id (any value)."""
        n = next(_numbers)
        result = await self.products().create(
            sku or f"SKU-{n:05d}", name or f"Product {n}", Decimal(price), category
        )
        assert result.value, result.errors
        product = result.value

        async def count(uow: UnitOfWork) -> None:
            # The repository, not productStockSet: a test may want a count below zero.
            for store_id, on_hand in (stock or {}).items():
                await uow.products.set_stock(product.id, store_id, on_hand, uow.now)

        if stock:
            await self.runtime.tx.run(None, count)
        return product

    # -- sales -------------------------------------------------------------------------

    async def head_office(self) -> StoreRecord:
        async def work(uow: UnitOfWork) -> StoreRecord:
            return await uow.stores.head_office()

        result = await self.runtime.tx.run(None, work)
        assert result.value
        return result.value

    async def group(self, name: str, discount_percent: str | None = None) -> CustomerGroupRecord:
        percent = Decimal(discount_percent) if discount_percent else None
        result = await GroupService(self.runtime.tx, None).create(name, None, percent)
        assert result.value, result.errors
        return result.value

    async def add_to_group(self, group_id: uuid.UUID, *customer_ids: uuid.UUID) -> None:
        result = await GroupService(self.runtime.tx, None).change_members(
            group_id, list(customer_ids), add=True
        )
        assert result.value, result.errors

    async def notification(
        self,
        customer_id: uuid.UUID,
        channel: str = "EMAIL",
        *,
        attempts: tuple[tuple[str, str | None], ...] = (),
        status: str | None = None,
    ) -> uuid.UUID:
        """A notification and its attempts ((outcome, error) each), recorded as delivery does."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            notification_id = await uow.notifications.insert(customer_id, channel, "REGISTRATION")
            for seen, (outcome, error) in enumerate(attempts):
                number = await uow.notifications.begin_attempt(
                    notification_id, seen_attempts=seen, gateway="test", started_at=uow.now
                )
                assert number is not None
                await uow.notifications.finish_attempt(
                    notification_id, number, outcome=outcome, error=error, finished_at=uow.now
                )
                if error is not None:
                    await uow.notifications.note_error(notification_id, error)
            if status is not None:
                last_error = attempts[-1][1] if attempts else None
                sent_at = uow.now if status == "SENT" else None
                await uow.notifications.settle(
                    notification_id, status=status, error=last_error, sent_at=sent_at
                )
            return notification_id

        result = await self.runtime.tx.run(None, work)
        assert result.value, result.errors
        return result.value

    async def set_status(self, customer_id: uuid.UUID, status: str) -> None:
        result = await self.customers().set_status(customer_id, CustomerStatus(status))
        assert result.value, result.errors

    async def expire_discount_now(self, customer_id: uuid.UUID) -> None:
        """Move the customer's code expiry to the past, as time passing would."""

        async def work(uow: UnitOfWork) -> None:
            await uow.session.execute(
                update(CustomerDiscount)
                .where(CustomerDiscount.customer_id == customer_id)
                .values(expires_at=uow.now - timedelta(seconds=1))
            )

        await self.runtime.tx.run(None, work)

    def sales(self, actor: Actor | None = None) -> SaleService:
        return SaleService(self.runtime.tx, actor, self.loyalty())

    async def completed_sale(
        self,
        customer_id: uuid.UUID | None,
        lines: list[tuple[str, int]],
        payment: str = "CASH",
        store_id: uuid.UUID | None = None,
    ) -> SaleRecord:
        """A sale opened and paid through SaleService, as a till would (many, fast)."""
        service = self.sales()
        opened = await service.create(
            SaleCreate(
                lines=tuple(LineDraft(sku, quantity) for sku, quantity in lines),
                store_id=store_id,
                customer_id=customer_id,
            )
        )
        assert opened.value, opened.errors
        done = await service.complete(opened.value.id, SaleCompletion(PaymentMethod(payment)))
        assert done.value, done.errors
        return done.value
