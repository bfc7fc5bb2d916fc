"""The one place that checks permissions: a field extension declared on each operation.

A mutation without the permission answers its payload with ``FORBIDDEN`` in ``errors``
and runs nothing; a query field answers null with a top-level ``FORBIDDEN`` error.
Anonymous callers get ``UNAUTHENTICATED`` the same way. ``chain_wide=True`` marks the
chain's own set-up (roles, stores, business settings, integrations): it changes what every
store works with, so a caller bound to one store is refused it whatever its role holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from app.domain.errors import ErrorCode, UserError
from app.domain.permissions import Permission
from app.schema.errors import ClientError

CHAIN_SET_UP = (
    "This is the chain's set-up, shared by every store; it needs a chain-wide role (STORE_ALL)."
)


class Requires(FieldExtension):
    def __init__(
        self,
        *permissions: Permission,
        chain_wide: bool = False,
        when_given: tuple[str, str, Permission] | None = None,
    ) -> None:
        """No permissions: any authenticated caller. ``when_given`` (argument, input
        field, permission): that permission too when the input field is given, as
        customerCreate's ``saleId`` also changes a sale (SALE_CREATE)."""
        self.permissions = frozenset(permissions)
        self.chain_wide = chain_wide
        self.when_given = when_given
        self.payload: Any = None

    def apply(self, field: StrawberryField) -> None:
        field_type = field.type
        # Mutation payloads answer refusals as data: they all offer from_errors().
        if hasattr(field_type, "from_errors"):
            self.payload = field_type

    def _needed(self, kwargs: dict[str, Any]) -> frozenset[Permission]:
        if self.when_given is None:
            return self.permissions
        argument, name, permission = self.when_given
        given = getattr(kwargs.get(argument), name, None)
        if given is None or given is strawberry.UNSET:
            return self.permissions
        return self.permissions | {permission}

    def _refusal(self, info: Info, kwargs: dict[str, Any]) -> UserError | None:
        actor = info.context.actor
        if actor is None:
            return UserError(ErrorCode.UNAUTHENTICATED, "Log in first.")
        missing = sorted(p.value for p in self._needed(kwargs) if not actor.can(p))
        if missing:
            return UserError(ErrorCode.FORBIDDEN, f"Your role lacks {', '.join(missing)}.")
        if self.chain_wide and actor.bound_store_id is not None:
            return UserError(ErrorCode.FORBIDDEN, CHAIN_SET_UP)
        return None

    def _refuse(self, error: UserError) -> Any:
        if self.payload is not None:
            return self.payload.from_errors([error])
        raise ClientError(error.message, error.code.value)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        error = self._refusal(info, kwargs)
        return self._refuse(error) if error else next_(source, info, **kwargs)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info,
        **kwargs: Any,
    ) -> Any:
        error = self._refusal(info, kwargs)
        if error:
            return self._refuse(error)
        return await next_(source, info, **kwargs)


class RequiresAny(Requires):
    """Any one of ``permissions`` will do: a till's SALE_CREATE or an analyst's REPORT_VIEW."""

    def _refusal(self, info: Info, kwargs: dict[str, Any]) -> UserError | None:
        actor = info.context.actor
        if actor is None:
            return UserError(ErrorCode.UNAUTHENTICATED, "Log in first.")
        if not any(actor.can(p) for p in self.permissions):
            wanted = " or ".join(sorted(p.value for p in self.permissions))
            return UserError(ErrorCode.FORBIDDEN, f"Your role lacks {wanted}.")
        return None


class RequiresCustomer(Requires):
    """Only a customer signed in to the online store (customerAccountLogin), for their own
    profile; a staff or till token is no customer, and a customer token is no staff."""

    def __init__(self) -> None:
        super().__init__()

    def _refusal(self, info: Info, kwargs: dict[str, Any]) -> UserError | None:
        if info.context.customer_session is None:
            return UserError(ErrorCode.UNAUTHENTICATED, "Sign in to the online store first.")
        return None


class MaskedWithout(FieldExtension):
    """Personal data shown only to roles holding ``permission``; others get ``mask(value)``.

    Declared on each personal field of a type, so the rule sits with the field and a
    new field cannot be added without deciding whether it is personal.
    """

    def __init__(self, permission: Permission, mask: Callable[[Any], Any]) -> None:
        self.permission = permission
        self.mask = mask

    def _visible(self, info: Info) -> bool:
        actor = info.context.actor
        return actor is not None and actor.can(self.permission)

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        value = next_(source, info, **kwargs)
        return value if self._visible(info) else self.mask(value)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info,
        **kwargs: Any,
    ) -> Any:
        value = await next_(source, info, **kwargs)
        return value if self._visible(info) else self.mask(value)
