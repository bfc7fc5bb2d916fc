"""Managing roles, staff users, tills and one's own sessions (issue 9 §2).

Every change is audited and checked against the caller's own grants (``grants.py``):
nobody grants a permission they lack or places a user at a store they may not act at,
and a store-bound manager manages only the staff of their own store. A change that
takes access away works on the very next request, on every API process: ending
sessions revokes their tokens, and every write to a grant bumps the auth stamp after
it commits (``StaffRepository.grants_changed``), so no process trusts what it cached.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from app.db.repositories.staff import StaffRepository
from app.domain.errors import ErrorCode, UserError, reject
from app.domain.permissions import Permission
from app.domain.records import Actor, RoleRecord, SessionRecord, StaffUserRecord, TillRecord
from app.domain.values import UNSET, Unset
from app.services.auth import MIN_PASSWORD_LENGTH, ROLE_NAME_MAX, passwords_for
from app.services.checks import at_most
from app.services.grants import check_grantable, check_placeable
from app.services.store_scope import require_store
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class StaffUserChange:
    """What ``staffUserUpdate`` may change; UNSET leaves a field as it is."""

    role_id: uuid.UUID | Unset = UNSET
    store_id: uuid.UUID | Unset | None = UNSET
    is_active: bool | Unset = UNSET
    password: str | Unset = UNSET


def _password_problem(password: str, *field: str) -> UserError | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
        return UserError(ErrorCode.INVALID, message, field)
    return None


TOO_MANY_GUESSES = "Too many wrong passwords; try again in a few minutes."


class StaffService:
    def __init__(
        self,
        tx: Transactions,
        settings: Settings,
        actor: Actor | None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.tx = tx
        self.actor = actor
        self.passwords = passwords_for(settings)
        self.throttle = throttle

    # -- roles --------------------------------------------------------------------------

    async def roles(self) -> list[RoleRecord]:
        async with self.tx.db.read() as session:
            return await StaffRepository(session).list_roles()

    async def update_role(
        self, role_id: uuid.UUID, name: str, permissions: Sequence[Permission]
    ) -> Result[RoleRecord]:
        """Rename a role and set its permissions; the holders' next request sees them."""
        name = name.strip()

        async def work(uow: UnitOfWork) -> RoleRecord:
            role = await self._role(uow, role_id, "id")
            if not name:
                raise reject(ErrorCode.REQUIRED, "A role needs a name.", "input", "name")
            at_most(name, ROLE_NAME_MAX, "A role name", "input", "name")
            # Both ways: adding what you lack is escalation, and so is taking from a role
            # what you could never have given it (a manager stripping the admins' role).
            changed = set(permissions) ^ set(role.permissions)
            check_grantable(uow.actor, changed, "input", "permissions")
            other = await uow.staff.get_role_by_name(name)
            if other is not None and other.id != role_id:
                raise reject(ErrorCode.DUPLICATE, "A role with this name exists.", "input", "name")
            updated = await uow.staff.update_role(role_id, name, sorted(set(permissions)))
            await uow.audit(
                "role",
                role_id,
                "update",
                before={"name": role.name, "permissions": sorted(role.permissions)},
                after={"name": updated.name, "permissions": sorted(updated.permissions)},
            )
            return updated

        return await self.tx.run(self.actor, work)

    async def delete_role(self, role_id: uuid.UUID) -> Result[uuid.UUID]:
        """Delete a role no user and no live till uses (``ROLE_IN_USE`` otherwise)."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            role = await self._role(uow, role_id, "id")
            check_grantable(uow.actor, role.permissions, "id")
            if await uow.staff.role_in_use(role_id, uow.now):
                raise reject(
                    ErrorCode.ROLE_IN_USE,
                    "Staff users or tills use this role; give them another first.",
                    "id",
                )
            await uow.staff.delete_role(role_id)
            await uow.audit(
                "role",
                role_id,
                "delete",
                before={"name": role.name, "permissions": sorted(role.permissions)},
            )
            return role_id

        return await self.tx.run(self.actor, work)

    @staticmethod
    async def _role(uow: UnitOfWork, role_id: uuid.UUID, *field: str) -> RoleRecord:
        role = await uow.staff.get_role(role_id)
        if role is None:
            raise reject(ErrorCode.NOT_FOUND, "No such role.", *field)
        return role

    # -- staff users ----------------------------------------------------------------------

    async def update_user(
        self, user_id: uuid.UUID, change: StaffUserChange
    ) -> Result[StaffUserRecord]:
        """Change a user's role, home store, active flag or password (a manager's reset).

        Deactivating a user or setting a password ends all their sessions.
        """
        password_hash = None
        if not isinstance(change.password, Unset):
            # Checked here, before the transaction (the hash is slow, so it is made
            # outside one): a refusal must still come back as data, not as an exception.
            if problem := _password_problem(change.password, "input", "password"):
                return Result(errors=[problem])
            password_hash = await asyncio.to_thread(self.passwords.hash, change.password)

        async def work(uow: UnitOfWork) -> StaffUserRecord:
            user = await uow.staff.get_user(user_id)
            if user is None:
                raise reject(ErrorCode.NOT_FOUND, "No such staff user.", "id")
            current = await self._role(uow, user.role_id, "id")
            # A manager may manage only someone they could have created: at a store they
            # act at, with a role they could have given.
            if user.store_id is not None:
                require_store(uow.actor, user.store_id, "id")
            else:
                check_placeable(uow.actor, None, "id")
            check_grantable(uow.actor, current.permissions, "id")
            if uow.actor and uow.actor.staff_user_id == user_id and change.is_active is False:
                raise reject(ErrorCode.INVALID, "You cannot deactivate yourself.", "input")
            values: dict[str, object] = {}
            if not isinstance(change.role_id, Unset):
                role = await self._role(uow, change.role_id, "input", "roleId")
                check_grantable(uow.actor, role.permissions, "input", "roleId")
                values["role_id"] = role.id
            if not isinstance(change.store_id, Unset):
                check_placeable(uow.actor, change.store_id, "input", "storeId")
                if change.store_id is not None and await uow.stores.get(change.store_id) is None:
                    raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "storeId")
                values["store_id"] = change.store_id
            if not isinstance(change.is_active, Unset):
                values["is_active"] = change.is_active
            if password_hash is not None:
                values["password_hash"] = password_hash
            updated = await uow.staff.update_user(user_id, values) if values else user
            if change.is_active is False or password_hash is not None:
                await uow.staff.revoke_user_tokens(user_id, uow.now)
            await uow.audit(
                "staff_user",
                user_id,
                "update",
                before=_user_fields(user),
                after={**_user_fields(updated), "passwordChanged": password_hash is not None},
            )
            return updated

        return await self.tx.run(self.actor, work)

    async def change_own_password(self, current: str, new: str, client: str) -> Result[bool]:
        """The caller's own password; their other sessions end, this one goes on.

        The current password is guessed no more freely than at login: a session left open
        on a till would otherwise let anyone try passwords until one fits and then lock
        the owner out. Attempts are counted before the hash is checked, under the same
        throttle as login (their own key, by user and address).
        """
        actor = self.actor
        if actor is None or actor.staff_user_id is None:
            # A till's device token has no password to change.
            return Result(errors=[UserError(ErrorCode.FORBIDDEN, "Only staff have passwords.")])
        if problem := _password_problem(new, "newPassword"):
            return Result(errors=[problem])
        user_id = actor.staff_user_id
        throttle, key = self.throttle, f"password-change:{user_id}"
        if throttle is not None and not await throttle.attempt(key, client):
            return Result(errors=[UserError(ErrorCode.TOO_MANY_ATTEMPTS, TOO_MANY_GUESSES)])
        async with self.tx.db.read() as session:
            password_hash = await StaffRepository(session).password_hash_of(user_id)
        valid = password_hash is not None and await asyncio.to_thread(
            self.passwords.verify, password_hash, current
        )
        if not valid:
            if throttle is not None:
                await throttle.record_failure(client)
            return Result(
                errors=[
                    UserError(
                        ErrorCode.INVALID_CREDENTIALS, "Wrong password.", ("currentPassword",)
                    )
                ]
            )
        if throttle is not None:
            await throttle.clear(key, client)
        new_hash = await asyncio.to_thread(self.passwords.hash, new)

        async def work(uow: UnitOfWork) -> bool:
            # Checked again in the transaction: the hash must still be the one verified.
            if await uow.staff.password_hash_of(user_id) != password_hash:
                raise reject(ErrorCode.INVALID_CREDENTIALS, "Wrong password.", "currentPassword")
            await uow.staff.set_password_hash(user_id, new_hash)
            await uow.staff.revoke_user_tokens(user_id, uow.now, keep=actor.token_id)
            await uow.audit("staff_user", user_id, "password_change", after={})
            return True

        return await self.tx.run(actor, work)

    # -- tills and sessions -------------------------------------------------------------------

    async def revoke_till(self, till_id: uuid.UUID) -> Result[TillRecord]:
        """Stop a lost or stolen till: its device tokens never work again."""

        async def work(uow: UnitOfWork) -> TillRecord:
            till = await uow.stores.get_till(till_id)
            if till is None:
                raise reject(ErrorCode.NOT_FOUND, "No such till.", "id")
            require_store(uow.actor, till.store_id, "id")
            revoked = await uow.staff.revoke_till_tokens(till_id, uow.now)
            await uow.audit("till", till_id, "revoke", after={"tokensRevoked": revoked})
            return till

        return await self.tx.run(self.actor, work)

    async def my_sessions(self) -> list[SessionRecord]:
        actor = self.actor
        if actor is None or actor.staff_user_id is None:
            return []
        async with self.tx.db.read() as session:
            return await StaffRepository(session).live_sessions(actor.staff_user_id, utcnow())

    async def end_session(self, session_id: uuid.UUID) -> Result[bool]:
        """End one of the caller's own sessions (another's id answers NOT_FOUND)."""
        actor = self.actor
        user_id = actor.staff_user_id if actor else None

        async def work(uow: UnitOfWork) -> bool:
            if user_id is None or not await uow.staff.revoke_session(user_id, session_id, uow.now):
                raise reject(ErrorCode.NOT_FOUND, "No such session of yours.", "id")
            return True

        return await self.tx.run(actor, work)


def _user_fields(user: StaffUserRecord) -> dict[str, object]:
    return {
        "roleId": str(user.role_id),
        "storeId": str(user.store_id) if user.store_id else None,
        "isActive": user.is_active,
    }
