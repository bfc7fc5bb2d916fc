"""Stores, tills, roles and staff users: types, inputs and payloads."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.permissions import Permission as DomainPermission
from app.domain.values import UNSET as DOMAIN_UNSET
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.services.staff import StaffUserChange
from app.services.unit_of_work import Result

Permission = strawberry.enum(DomainPermission, description="FEATURE_OPERATION, granted by roles.")


@strawberry.type
class Store:
    id: strawberry.ID
    code: str
    name: str
    is_head_office: bool

    @classmethod
    def from_record(cls, r: records.StoreRecord) -> Store:
        return cls(
            id=strawberry.ID(str(r.id)),
            code=r.code,
            name=r.name,
            is_head_office=r.is_head_office,
        )


@strawberry.type
class Till:
    id: strawberry.ID
    store_id: strawberry.ID
    name: str

    @classmethod
    def from_record(cls, r: records.TillRecord) -> Till:
        return cls(
            id=strawberry.ID(str(r.id)),
            store_id=strawberry.ID(str(r.store_id)),
            name=r.name,
        )


@strawberry.type
class Role:
    id: strawberry.ID
    name: str
    permissions: list[Permission]  # type: ignore[valid-type]

    @classmethod
    def from_record(cls, r: records.RoleRecord) -> Role:
        return cls(id=strawberry.ID(str(r.id)), name=r.name, permissions=list(r.permissions))


@strawberry.type
class StaffUser:
    id: strawberry.ID
    username: str
    role_id: strawberry.ID
    store_id: strawberry.ID | None
    is_active: bool

    @classmethod
    def from_record(cls, r: records.StaffUserRecord) -> StaffUser:
        return cls(
            id=strawberry.ID(str(r.id)),
            username=r.username,
            role_id=strawberry.ID(str(r.role_id)),
            store_id=strawberry.ID(str(r.store_id)) if r.store_id else None,
            is_active=r.is_active,
        )


@strawberry.type(description="Who is calling: a staff user's session or a till's device token.")
class Viewer:
    kind: str
    label: str
    store_id: strawberry.ID | None
    till_id: strawberry.ID | None
    permissions: list[Permission]  # type: ignore[valid-type]


@strawberry.input
class RoleInput:
    name: str
    permissions: list[Permission]  # type: ignore[valid-type]


@strawberry.input
class StaffUserInput:
    username: str
    password: str
    role_id: strawberry.ID
    store_id: strawberry.ID | None = None


@strawberry.input(description="Only the fields given change.")
class StaffUserUpdateInput:
    role_id: strawberry.ID | None = strawberry.UNSET
    store_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="null: no home store (chain-wide; needs STORE_ALL)."
    )
    is_active: bool | None = strawberry.UNSET
    password: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new password; ends all the user's sessions."
    )

    def null_field(self) -> str | None:
        """The first field sent as null that needs a value (only storeId may be cleared)."""
        fields = (
            ("roleId", self.role_id),
            ("isActive", self.is_active),
            ("password", self.password),
        )
        return next((name for name, value in fields if value is None), None)

    def to_change(self) -> StaffUserChange:
        """Left out is no change (call after ``null_field``, which refuses the nulls)."""

        def given(value: object) -> object:
            return DOMAIN_UNSET if value is strawberry.UNSET else value

        def given_id(value: strawberry.ID | None) -> object:
            return given(value if value is strawberry.UNSET or value is None else parse_id(value))

        return StaffUserChange(
            role_id=given_id(self.role_id),  # type: ignore[arg-type]
            store_id=given_id(self.store_id),  # type: ignore[arg-type]
            is_active=given(self.is_active),  # type: ignore[arg-type]
            password=given(self.password),  # type: ignore[arg-type]
        )


@strawberry.type(description="One of the caller's live login sessions.")
class StaffSession:
    id: strawberry.ID
    created_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def from_record(cls, r: records.SessionRecord, current_id: object) -> StaffSession:
        return cls(
            id=strawberry.ID(str(r.id)),
            created_at=r.created_at,
            expires_at=r.expires_at,
            current=r.id == current_id,
        )


@strawberry.input
class StoreInput:
    code: str
    name: str


@strawberry.input
class TillInput:
    name: str
    role_id: strawberry.ID = strawberry.field(
        description="The role whose permissions the till's device token has."
    )
    store_id: strawberry.ID | None = None


@strawberry.type
class LoginPayload:
    token: str | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[str]) -> LoginPayload:
        return cls(token=result.value, errors=user_errors(result.errors))


@strawberry.type
class LogoutPayload:
    revoked: bool
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> LogoutPayload:
        return cls(revoked=False, errors=user_errors(errors))


@strawberry.type
class RolePayload:
    role: Role | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> RolePayload:
        return cls(role=None, errors=user_errors(errors))


@strawberry.type
class StaffUserPayload:
    staff_user: StaffUser | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> StaffUserPayload:
        return cls(staff_user=None, errors=user_errors(errors))


@strawberry.type
class RoleDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> RoleDeletePayload:
        return cls(deleted_id=None, errors=user_errors(errors))


@strawberry.type
class DonePayload:
    """A command with nothing to return but whether it was done."""

    done: bool
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> DonePayload:
        return cls(done=False, errors=user_errors(errors))


@strawberry.type
class StorePayload:
    store: Store | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> StorePayload:
        return cls(store=None, errors=user_errors(errors))


@strawberry.type
class TillPayload:
    till: Till | None
    device_token: str | None = strawberry.field(description="Shown once; only its hash is stored.")
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> TillPayload:
        return cls(till=None, device_token=None, errors=user_errors(errors))
