"""``UserError`` in GraphQL, and the top-level errors we let through the mask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError

from app.domain import errors as domain

ErrorCode = strawberry.enum(domain.ErrorCode, description="Why a mutation refused its input.")


@strawberry.type(
    description="A reason a mutation changed nothing: the input field at fault, a code, a message."
)
class UserError:
    field: list[str] | None
    code: ErrorCode  # type: ignore[valid-type]
    message: str

    @classmethod
    def from_domain(cls, error: domain.UserError) -> UserError:
        return cls(
            field=list(error.field) if error.field else None,
            code=error.code,
            message=error.message,
        )


def user_errors(errors: Sequence[domain.UserError]) -> list[UserError]:
    return [UserError.from_domain(e) for e in errors]


class ClientError(GraphQLError):
    """A top-level error meant for the caller (authentication, bad arguments): never masked."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})

    @classmethod
    def from_rejected(cls, rejected: domain.Rejected) -> ClientError:
        """A query field's refusal: its first reason, as a top-level error."""
        error = rejected.errors[0]
        return cls(error.message, error.code.value)
