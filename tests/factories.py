"""Test data through the real services and repositories (no hand-written SQL, no mocks)."""

from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

from app.db.models import Sale
from app.domain.permissions import Permission
from app.domain.records import Actor, CustomerRecord, StoreRecord, TokenKind
from app.runtime import Runtime
from app.services.auth import AuthService, hash_token
from app.services.customers import CustomerCreate, CustomerService
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
                phone=phone or f"+1646555{n % 10000:04d}",
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
