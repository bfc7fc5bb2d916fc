from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AuthToken, Role, StaffUser
from app.domain.permissions import Permission
from app.domain.records import Actor, RoleRecord, SessionRecord, StaffUserRecord, TokenKind


def _role(row: Role) -> RoleRecord:
    known = {p.value for p in Permission}
    return RoleRecord(
        id=row.id,
        name=row.name,
        permissions=tuple(Permission(p) for p in row.permissions if p in known),
    )


def _user(row: StaffUser) -> StaffUserRecord:
    return StaffUserRecord(
        id=row.id,
        username=row.username,
        role_id=row.role_id,
        store_id=row.store_id,
        is_active=row.is_active,
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    user: StaffUserRecord
    password_hash: str


class StaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Set by every write that can take a grant away (a token revoked; a user, role or
        # store assignment changed): the unit of work then bumps the auth stamp after
        # commit, and every API process reads its cached grants again (services/stamps.py).
        self.grants_changed = False

    async def get_role(self, role_id: uuid.UUID) -> RoleRecord | None:
        row = await self.session.get(Role, role_id)
        return _role(row) if row else None

    async def get_role_by_name(self, name: str) -> RoleRecord | None:
        row = await self.session.scalar(select(Role).where(Role.name == name))
        return _role(row) if row else None

    async def get_roles(self, role_ids: list[uuid.UUID]) -> list[RoleRecord]:
        rows = await self.session.scalars(select(Role).where(Role.id.in_(role_ids)))
        return [_role(r) for r in rows]

    async def insert_role(self, name: str, permissions: list[Permission]) -> RoleRecord:
        row = Role(name=name, permissions=sorted(p.value for p in permissions))
        self.session.add(row)
        await self.session.flush()
        return _role(row)

    async def get_user(self, user_id: uuid.UUID) -> StaffUserRecord | None:
        row = await self.session.get(StaffUser, user_id)
        return _user(row) if row else None

    async def any_user(self) -> bool:
        return await self.session.scalar(select(StaffUser.id).limit(1)) is not None

    async def get_credentials(self, username: str) -> Credentials | None:
        row = await self.session.scalar(select(StaffUser).where(StaffUser.username == username))
        return Credentials(_user(row), row.password_hash) if row else None

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self.session.execute(
            update(StaffUser).where(StaffUser.id == user_id).values(password_hash=password_hash)
        )

    async def insert_user(
        self,
        username: str,
        password_hash: str,
        role_id: uuid.UUID,
        store_id: uuid.UUID | None,
    ) -> StaffUserRecord:
        row = StaffUser(
            username=username,
            password_hash=password_hash,
            role_id=role_id,
            store_id=store_id,
        )
        self.session.add(row)
        await self.session.flush()
        return _user(row)

    async def insert_token(
        self,
        *,
        token_hash: str,
        kind: TokenKind,
        expires_at: datetime,
        staff_user_id: uuid.UUID | None = None,
        role_id: uuid.UUID | None = None,
        store_id: uuid.UUID | None = None,
        till_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        row = AuthToken(
            token_hash=token_hash,
            kind=kind.value,
            expires_at=expires_at,
            staff_user_id=staff_user_id,
            role_id=role_id,
            store_id=store_id,
            till_id=till_id,
        )
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def grant_for_token(
        self, token_hash: str, now: datetime
    ) -> tuple[Actor, datetime] | None:
        """The live grant behind a token (not revoked, not expired, user active) and when the
        token expires, in one query."""
        role_id = func.coalesce(StaffUser.role_id, AuthToken.role_id)
        found = (
            await self.session.execute(
                select(
                    AuthToken.id,
                    AuthToken.kind,
                    AuthToken.staff_user_id,
                    AuthToken.till_id,
                    AuthToken.expires_at,
                    func.coalesce(AuthToken.store_id, StaffUser.store_id),
                    StaffUser.username,
                    StaffUser.is_active,
                    Role.permissions,
                )
                .outerjoin(StaffUser, StaffUser.id == AuthToken.staff_user_id)
                .outerjoin(Role, Role.id == role_id)
                .where(
                    AuthToken.token_hash == token_hash,
                    AuthToken.revoked_at.is_(None),
                    AuthToken.expires_at > now,
                )
            )
        ).one_or_none()
        if found is None:
            return None
        token_id, kind, user_id, till_id, expires_at, store_id, username, is_active, permissions = (
            found
        )
        if user_id is not None and not is_active:
            return None
        known = {p.value for p in Permission}
        actor = Actor(
            token_id=token_id,
            kind=TokenKind(kind),
            permissions=frozenset(Permission(p) for p in permissions or () if p in known),
            store_id=store_id,
            staff_user_id=user_id,
            till_id=till_id,
            label=username or "device",
        )
        return actor, expires_at

    async def revoke_token(self, token_id: uuid.UUID, now: datetime) -> bool:
        self.grants_changed = True
        result = await self.session.execute(
            update(AuthToken)
            .where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- managing roles, users, tills and sessions (app/services/staff.py) -----------------

    async def list_roles(self) -> list[RoleRecord]:
        return [_role(r) for r in await self.session.scalars(select(Role).order_by(Role.name))]

    async def update_role(
        self, role_id: uuid.UUID, name: str, permissions: list[Permission]
    ) -> RoleRecord:
        self.grants_changed = True
        await self.session.execute(
            update(Role)
            .where(Role.id == role_id)
            .values(name=name, permissions=sorted(p.value for p in permissions))
        )
        role = await self.get_role(role_id)
        assert role is not None
        return role

    async def role_in_use(self, role_id: uuid.UUID, now: datetime) -> bool:
        """A user holds the role, or a till's live device token acts with it."""
        user = await self.session.scalar(
            select(StaffUser.id).where(StaffUser.role_id == role_id).limit(1)
        )
        if user is not None:
            return True
        token = await self.session.scalar(
            select(AuthToken.id)
            .where(
                AuthToken.role_id == role_id,
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
            )
            .limit(1)
        )
        return token is not None

    async def delete_role(self, role_id: uuid.UUID) -> None:
        self.grants_changed = True
        # Dead device tokens still point at the role; they can never act again.
        await self.session.execute(
            update(AuthToken).where(AuthToken.role_id == role_id).values(role_id=None)
        )
        await self.session.execute(delete(Role).where(Role.id == role_id))

    async def update_user(self, user_id: uuid.UUID, values: dict[str, object]) -> StaffUserRecord:
        self.grants_changed = True
        await self.session.execute(update(StaffUser).where(StaffUser.id == user_id).values(values))
        user = await self.get_user(user_id)
        assert user is not None
        return user

    async def password_hash_of(self, user_id: uuid.UUID) -> str | None:
        return await self.session.scalar(
            select(StaffUser.password_hash).where(StaffUser.id == user_id)
        )

    async def revoke_user_tokens(
        self, user_id: uuid.UUID, now: datetime, keep: uuid.UUID | None = None
    ) -> int:
        """End every live session of a user, but ``keep`` (the caller's own)."""
        self.grants_changed = True
        stmt = update(AuthToken).where(
            AuthToken.staff_user_id == user_id, AuthToken.revoked_at.is_(None)
        )
        if keep is not None:
            stmt = stmt.where(AuthToken.id != keep)
        result = await self.session.execute(stmt.values(revoked_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_till_tokens(self, till_id: uuid.UUID, now: datetime) -> int:
        self.grants_changed = True
        result = await self.session.execute(
            update(AuthToken)
            .where(AuthToken.till_id == till_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def live_sessions(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        rows = await self.session.execute(
            select(AuthToken.id, AuthToken.created_at, AuthToken.expires_at)
            .where(
                AuthToken.staff_user_id == user_id,
                AuthToken.kind == TokenKind.SESSION.value,
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
            )
            .order_by(AuthToken.created_at.desc(), AuthToken.id)
        )
        return [SessionRecord(id=i, created_at=c, expires_at=e) for i, c, e in rows]

    async def revoke_session(self, user_id: uuid.UUID, token_id: uuid.UUID, now: datetime) -> bool:
        """End one session, only if it is the user's own."""
        self.grants_changed = True
        result = await self.session.execute(
            update(AuthToken)
            .where(
                AuthToken.id == token_id,
                AuthToken.staff_user_id == user_id,
                AuthToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
