"""SQL for online-store accounts and customer sessions (issue 10 §3)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Customer, CustomerToken, OnlineAccount
from app.domain.accounts import (
    AccountCredentials,
    CustomerSession,
    OnlineAccountRecord,
    OnlineAccountState,
)
from app.domain.records import CustomerStatus


def _record(row: OnlineAccount) -> OnlineAccountRecord:
    return OnlineAccountRecord(
        customer_id=row.customer_id,
        state=OnlineAccountState(row.state),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


class OnlineAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, OnlineAccountRecord]:
        rows = await self.session.scalars(
            select(OnlineAccount).where(OnlineAccount.customer_id.in_(customer_ids))
        )
        return {row.customer_id: _record(row) for row in rows}

    async def get(self, customer_id: uuid.UUID) -> OnlineAccountRecord | None:
        return (await self.get_many([customer_id])).get(customer_id)

    async def ensure(self, customer_id: uuid.UUID, now: datetime) -> OnlineAccountRecord:
        """The customer's account, created INVITED when there is none.

        Two racing creations meet at the primary key; the unit of work retries the loser,
        which then finds the winner's row.
        """
        found = await self.get(customer_id)
        if found is not None:
            return found
        row = OnlineAccount(
            customer_id=customer_id, state=OnlineAccountState.INVITED.value, created_at=now
        )
        self.session.add(row)
        await self.session.flush()
        return _record(row)

    async def credentials(self, customer_id: uuid.UUID) -> AccountCredentials | None:
        row = await self.session.get(OnlineAccount, customer_id, populate_existing=True)
        if row is None:
            return None
        return AccountCredentials(
            customer_id=row.customer_id,
            state=OnlineAccountState(row.state),
            password_hash=row.password_hash,
            reset_code_hash=row.reset_code_hash,
            reset_code_expires_at=row.reset_code_expires_at,
            reset_code_failures=row.reset_code_failures,
        )

    async def set_initial_password(
        self, customer_id: uuid.UUID, password_hash: str, now: datetime
    ) -> bool:
        """Only while INVITED: a customer who chose a password keeps it."""
        result = await self.session.execute(
            update(OnlineAccount)
            .where(
                OnlineAccount.customer_id == customer_id,
                OnlineAccount.state == OnlineAccountState.INVITED.value,
            )
            .values(password_hash=password_hash, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_reset_code(
        self, customer_id: uuid.UUID, code_hash: str, expires_at: datetime, now: datetime
    ) -> bool:
        """A new code replaces the last one and its failure count; not on a disabled account."""
        result = await self.session.execute(
            update(OnlineAccount)
            .where(
                OnlineAccount.customer_id == customer_id,
                OnlineAccount.state != OnlineAccountState.DISABLED.value,
            )
            .values(
                reset_code_hash=code_hash,
                reset_code_expires_at=expires_at,
                reset_code_failures=0,
                updated_at=now,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count_code_failure(self, customer_id: uuid.UUID) -> None:
        await self.session.execute(
            update(OnlineAccount)
            .where(OnlineAccount.customer_id == customer_id)
            .values(reset_code_failures=OnlineAccount.reset_code_failures + 1)
        )

    async def set_password(self, customer_id: uuid.UUID, password_hash: str, now: datetime) -> None:
        """A password the customer chose: the account is theirs now, the reset code spent."""
        await self.session.execute(
            update(OnlineAccount)
            .where(OnlineAccount.customer_id == customer_id)
            .values(
                password_hash=password_hash,
                state=OnlineAccountState.ACTIVE.value,
                reset_code_hash=None,
                reset_code_expires_at=None,
                reset_code_failures=0,
                updated_at=now,
            )
        )

    async def signed_in(
        self, customer_id: uuid.UUID, now: datetime, password_hash: str | None = None
    ) -> None:
        values: dict[str, object] = {
            "state": OnlineAccountState.ACTIVE.value,
            "last_login_at": now,
        }
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self.session.execute(
            update(OnlineAccount)
            .where(
                OnlineAccount.customer_id == customer_id,
                OnlineAccount.state != OnlineAccountState.DISABLED.value,
            )
            .values(**values)
        )

    async def disable(self, customer_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(OnlineAccount)
            .where(OnlineAccount.customer_id == customer_id)
            .values(
                state=OnlineAccountState.DISABLED.value,
                password_hash=None,
                reset_code_hash=None,
                reset_code_expires_at=None,
                updated_at=now,
            )
        )
        await self.revoke_tokens(customer_id, now)

    async def fold(self, source: uuid.UUID, target: uuid.UUID, now: datetime) -> str | None:
        """A merge: the survivor keeps its own account; one it lacks is the merged one's.

        The merged customer's sessions end either way: they were opened with its sign-in
        name, which may not be the survivor's. Answers what happened, for the audit.
        """
        accounts = await self.get_many([source, target])
        if source not in accounts:
            return None
        if target in accounts:
            await self.disable(source, now)
            return "survivor's kept"
        await self.revoke_tokens(source, now)
        await self.session.execute(
            update(OnlineAccount)
            .where(OnlineAccount.customer_id == source)
            .values(customer_id=target, updated_at=now)
        )
        return "moved to the survivor"

    # -- sessions ---------------------------------------------------------------------

    async def insert_token(
        self, customer_id: uuid.UUID, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        self.session.add(
            CustomerToken(
                customer_id=customer_id,
                token_hash=token_hash,
                created_at=now,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def revoke_tokens(self, customer_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(CustomerToken)
            .where(CustomerToken.customer_id == customer_id, CustomerToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(CustomerToken)
            .where(CustomerToken.id == token_id, CustomerToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def session_for_token(self, token_hash: str, now: datetime) -> CustomerSession | None:
        """A live session: not revoked or expired, its account active, its customer too."""
        found = (
            await self.session.execute(
                select(CustomerToken.id, CustomerToken.customer_id)
                .join(OnlineAccount, OnlineAccount.customer_id == CustomerToken.customer_id)
                .join(Customer, Customer.id == CustomerToken.customer_id)
                .where(
                    CustomerToken.token_hash == token_hash,
                    CustomerToken.revoked_at.is_(None),
                    CustomerToken.expires_at > now,
                    OnlineAccount.state == OnlineAccountState.ACTIVE.value,
                    Customer.status == CustomerStatus.ACTIVE.value,
                )
            )
        ).one_or_none()
        return CustomerSession(token_id=found[0], customer_id=found[1]) if found else None

    # -- sign-in names ----------------------------------------------------------------

    async def customers_by_login(self, email_key: str | None, phone: str | None) -> list[uuid.UUID]:
        """Active customers whose email (case-folded) or main phone is the login."""
        conditions = []
        if email_key:
            conditions.append(Customer.email_key == email_key)
        if phone:
            conditions.append(Customer.phone == phone)
        if not conditions:
            return []
        found: list[uuid.UUID] = []
        for condition in conditions:
            found.extend(
                await self.session.scalars(
                    select(Customer.id)
                    .where(condition, Customer.status == CustomerStatus.ACTIVE.value)
                    .limit(2)
                )
            )
        return found
