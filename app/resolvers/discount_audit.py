from __future__ import annotations

import strawberry

from app.domain.discount_audit import FindingStatus
from app.domain.errors import Rejected
from app.schema.context import Context
from app.schema.discount_audit import (
    DiscountAuditFilter,
    DiscountAuditFinding,
    DiscountAuditFindingConnection,
    DiscountAuditFindingPayload,
)
from app.schema.errors import ClientError
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE

Info = strawberry.Info[Context, None]


async def discount_audit_findings(
    info: Info,
    filter: DiscountAuditFilter | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> DiscountAuditFindingConnection:
    where = (filter or DiscountAuditFilter()).to_filter()
    try:
        page = await info.context.discount_audit.page(where, first, after)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    return DiscountAuditFindingConnection.from_page(
        page, DiscountAuditFinding.from_record, after=after
    )


async def discount_audit_finding_update(
    info: Info, id: strawberry.ID, status: FindingStatus, note: str | None = None
) -> DiscountAuditFindingPayload:
    result = await info.context.discount_audit.triage(parse_id(id), status, note)
    return DiscountAuditFindingPayload.from_result(result)
