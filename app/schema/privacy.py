"""Privacy requests (issue 13): the export's payload; erasure answers a CustomerPayload."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from app.domain.errors import UserError as DomainUserError
from app.schema.errors import UserError, user_errors
from app.services.unit_of_work import Result


@strawberry.type
class CustomerDataExportPayload:
    document: JSON | None = strawberry.field(
        description="Everything held about the customer (docs/privacy.md), with its "
        "schemaVersion; money as decimal strings."
    )
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[dict[str, Any]]) -> CustomerDataExportPayload:
        return cls(document=cast(JSON, result.value), errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> CustomerDataExportPayload:
        return cls(document=None, errors=user_errors(errors))
