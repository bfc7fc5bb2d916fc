"""Staff access: passwords, bearer tokens (stored hashed), roles, staff users and till devices."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.db.repositories.staff import StaffRepository
from app.db.repositories.stores import StoreRepository
from app.domain.errors import ErrorCode, UserError, reject
from app.domain.permissions import Permission
from app.domain.records import (
    Actor,
    RoleRecord,
    StaffUserRecord,
    StoreRecord,
    TillRecord,
    TokenKind,
)
from app.services.checks import at_most
from app.services.grants import check_grantable, check_placeable
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Result, Transactions, UnitOfWork, utcnow
from app.settings import Settings

ADMIN_ROLE = "Administrator"
MIN_PASSWORD_LENGTH = 8
# The columns' lengths (roles.name, staff_users.username, tills.name, stores.code/name).
ROLE_NAME_MAX = 100
USERNAME_MAX = 100
TILL_NAME_MAX = 100
STORE_CODE_MAX = 32
STORE_NAME_MAX = 200


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Passwords:
    """argon2id hashing with the configured cost."""

    def __init__(self, time_cost: int, memory_kib: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when the username is unknown, so a miss costs as much as a hit.
        self.dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


_passwords: dict[tuple[int, int], Passwords] = {}


def _hasher(time_cost: int, memory_kib: int) -> Passwords:
    key = (time_cost, memory_kib)
    if key not in _passwords:
        _passwords[key] = Passwords(time_cost, memory_kib)
    return _passwords[key]


def passwords_for(settings: Settings) -> Passwords:
    return _hasher(settings.password_time_cost, settings.password_memory_kib)


# Secrets we make ourselves (an online store's initial password: 58 random bits; a reset
# code: dead after 15 minutes or five wrong guesses) are not guessed the way chosen
# passwords are, so argon2's lightest cost protects them as well: the delivery job makes
# one per registration or reset message, and at the standard cost (~60 ms of CPU) a worker
# would send ~15 such messages a second. A customer's first sign-in with an initial
# password rehashes it at the standard cost (Passwords.needs_rehash).
GENERATED_SECRET_TIME_COST = 1
GENERATED_SECRET_MEMORY_KIB = 8192


def generated_secrets_for(settings: Settings) -> Passwords:
    return _hasher(
        min(settings.password_time_cost, GENERATED_SECRET_TIME_COST),
        min(settings.password_memory_kib, GENERATED_SECRET_MEMORY_KIB),
    )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    actor: Actor


@dataclass(frozen=True, slots=True)
class TillWithToken:
    till: TillRecord
    device_token: str


class AuthService:
    def __init__(
        self,
        tx: Transactions,
        settings: Settings,
        throttle: LoginThrottle | None,
        actor: Actor | None,
    ) -> None:
        self.tx = tx
        self.settings = settings
        self.throttle = throttle
        self.actor = actor
        self.passwords = passwords_for(settings)

    async def login(self, username: str, password: str, client: str) -> Result[str]:
        """A session token for valid credentials; repeated failures lock the account for a while."""
        username = username.strip().casefold()
        throttle = self.throttle
        if throttle is None:
            raise RuntimeError("login needs a throttle")
        # Counted before the hash is checked: a burst checks at most max_failures hashes.
        if not await throttle.attempt(username, client):
            return Result(
                errors=[
                    UserError(
                        ErrorCode.TOO_MANY_ATTEMPTS,
                        "Too many failed logins; try again in a few minutes.",
                    )
                ]
            )
        async with self.tx.db.read() as session:
            credentials = await StaffRepository(session).get_credentials(username)
        password_hash = credentials.password_hash if credentials else self.passwords.dummy_hash
        # argon2 takes tens of milliseconds of CPU: keep it off the event loop.
        valid = await asyncio.to_thread(self.passwords.verify, password_hash, password)
        if credentials is None or not valid or not credentials.user.is_active:
            await throttle.record_failure(client)
            return Result(
                errors=[UserError(ErrorCode.INVALID_CREDENTIALS, "Wrong username or password.")]
            )
        await throttle.clear(username, client)
        user = credentials.user
        token = secrets.token_urlsafe(32)

        async def work(uow: UnitOfWork) -> str:
            if self.passwords.needs_rehash(password_hash):
                await uow.staff.set_password_hash(user.id, self.passwords.hash(password))
            await uow.staff.insert_token(
                token_hash=hash_token(token),
                kind=TokenKind.SESSION,
                expires_at=uow.now + timedelta(hours=self.settings.token_ttl_hours),
                staff_user_id=user.id,
            )
            return token

        return await self.tx.run(None, work)

    async def logout(self) -> Result[bool]:
        actor = self.actor
        if actor is None:
            return Result(errors=[UserError(ErrorCode.UNAUTHENTICATED, "Not logged in.")])

        async def work(uow: UnitOfWork) -> bool:
            return await uow.staff.revoke_token(actor.token_id, uow.now)

        return await self.tx.run(actor, work)

    async def create_role(self, name: str, permissions: Sequence[Permission]) -> Result[RoleRecord]:
        name = name.strip()

        async def work(uow: UnitOfWork) -> RoleRecord:
            if not name:
                raise reject(ErrorCode.REQUIRED, "A role needs a name.", "input", "name")
            at_most(name, ROLE_NAME_MAX, "A role name", "input", "name")
            check_grantable(uow.actor, permissions, "input", "permissions")
            if await uow.staff.get_role_by_name(name):
                raise reject(
                    ErrorCode.DUPLICATE,
                    "A role with this name exists.",
                    "input",
                    "name",
                )
            role = await uow.staff.insert_role(name, sorted(set(permissions)))
            await uow.audit(
                "role",
                role.id,
                "create",
                after={"name": name, "permissions": sorted(role.permissions)},
            )
            return role

        return await self.tx.run(self.actor, work)

    async def create_staff_user(
        self,
        username: str,
        password: str,
        role_id: uuid.UUID | None,
        store_id: uuid.UUID | None,
    ) -> Result[StaffUserRecord]:
        username = username.strip().casefold()

        async def work(uow: UnitOfWork) -> StaffUserRecord:
            if not username:
                raise reject(ErrorCode.REQUIRED, "A username is required.", "input", "username")
            at_most(username, USERNAME_MAX, "A username", "input", "username")
            if len(password) < MIN_PASSWORD_LENGTH:
                raise reject(
                    ErrorCode.INVALID,
                    f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
                    "input",
                    "password",
                )
            role = await uow.staff.get_role(role_id) if role_id else None
            if role is None:
                raise reject(ErrorCode.NOT_FOUND, "No such role.", "input", "roleId")
            check_grantable(uow.actor, role.permissions, "input", "roleId")
            check_placeable(uow.actor, store_id, "input", "storeId")
            if store_id is not None and await uow.stores.get(store_id) is None:
                raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "storeId")
            if await uow.staff.get_credentials(username):
                raise reject(ErrorCode.DUPLICATE, "This username is taken.", "input", "username")
            password_hash = await asyncio.to_thread(self.passwords.hash, password)
            user = await uow.staff.insert_user(username, password_hash, role.id, store_id)
            await uow.audit(
                "staff_user",
                user.id,
                "create",
                after={
                    "username": username,
                    "roleId": str(role_id),
                    "storeId": str(store_id),
                },
            )
            return user

        return await self.tx.run(self.actor, work)

    async def create_till(
        self, store_id: uuid.UUID | None, name: str, role_id: uuid.UUID | None
    ) -> Result[TillWithToken]:
        """A till of a store with its device token; the token acts with the given role."""
        name = name.strip()
        token = secrets.token_urlsafe(32)

        async def work(uow: UnitOfWork) -> TillWithToken:
            if not name:
                raise reject(ErrorCode.REQUIRED, "A till needs a name.", "input", "name")
            at_most(name, TILL_NAME_MAX, "A till name", "input", "name")
            store = await uow.stores.get(store_id) if store_id else await self._default_store(uow)
            if store is None:
                raise reject(ErrorCode.NOT_FOUND, "No such store.", "input", "storeId")
            role = await uow.staff.get_role(role_id) if role_id else None
            if role is None:
                raise reject(ErrorCode.NOT_FOUND, "No such role.", "input", "roleId")
            check_grantable(uow.actor, role.permissions, "input", "roleId")
            # A till is always bound to its store, so only the store is checked.
            check_placeable(uow.actor, store.id, "input", "storeId")
            if await uow.stores.get_till_by_name(store.id, name):
                raise reject(
                    ErrorCode.DUPLICATE,
                    "This store has a till of that name.",
                    "input",
                    "name",
                )
            till = await uow.stores.insert_till(store.id, name)
            await uow.staff.insert_token(
                token_hash=hash_token(token),
                kind=TokenKind.DEVICE,
                expires_at=uow.now + timedelta(days=self.settings.device_token_ttl_days),
                role_id=role_id,
                store_id=store.id,
                till_id=till.id,
            )
            await uow.audit(
                "till",
                till.id,
                "create",
                after={"storeId": str(store.id), "name": name},
            )
            return TillWithToken(till=till, device_token=token)

        return await self.tx.run(self.actor, work)

    async def _default_store(self, uow: UnitOfWork) -> StoreRecord | None:
        if self.actor and self.actor.store_id:
            return await uow.stores.get(self.actor.store_id)
        return await uow.stores.head_office()

    async def current_user(self) -> StaffUserRecord | None:
        if self.actor is None or self.actor.staff_user_id is None:
            return None
        async with self.tx.db.read() as session:
            return await StaffRepository(session).get_user(self.actor.staff_user_id)

    async def stores(self) -> list[StoreRecord]:
        async with self.tx.db.read() as session:
            return await StoreRepository(session).list_all()

    async def create_store(self, code: str, name: str) -> Result[StoreRecord]:
        code, name = code.strip().upper(), name.strip()

        async def work(uow: UnitOfWork) -> StoreRecord:
            if not code:
                raise reject(ErrorCode.REQUIRED, "A store needs a code.", "input", "code")
            if not name:
                raise reject(ErrorCode.REQUIRED, "A store needs a name.", "input", "name")
            at_most(code, STORE_CODE_MAX, "A store code", "input", "code")
            at_most(name, STORE_NAME_MAX, "A store name", "input", "name")
            if await uow.stores.get_by_code(code):
                raise reject(
                    ErrorCode.DUPLICATE,
                    "A store with this code exists.",
                    "input",
                    "code",
                )
            store = await uow.stores.insert(code, name)
            await uow.audit("store", store.id, "create", after={"code": code, "name": name})
            return store

        return await self.tx.run(self.actor, work)

    async def create_admin(self, username: str, password: str) -> Result[StaffUserRecord]:
        """The first administrator (CLI): an all-permissions role at the head office."""

        async def ensure_role(uow: UnitOfWork) -> RoleRecord:
            role = await uow.staff.get_role_by_name(ADMIN_ROLE)
            return role or await uow.staff.insert_role(ADMIN_ROLE, list(Permission))

        roles = await self.tx.run(None, ensure_role)
        if roles.value is None:
            return Result(errors=roles.errors)
        async with self.tx.db.read() as session:
            head_office = await StoreRepository(session).head_office()
        return await self.create_staff_user(username, password, roles.value.id, head_office.id)


async def resolve_actor(tx: Transactions, token: str) -> Actor | None:
    """The actor behind a bearer token, or None if unknown, expired, revoked or disabled.

    From this process's cache while the auth stamp holds (every change to a grant bumps
    it: ``StaffRepository.grants_changed``), else from the database.
    """
    token_hash = hash_token(token)

    async def load() -> tuple[Actor, datetime] | None:
        async with tx.db.read() as session:
            return await StaffRepository(session).grant_for_token(token_hash, utcnow())

    return await tx.actors.get(token_hash, load)
