from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.notification import Notification, NotificationConnection, NotificationFilter
from app.schema.pagination import DEFAULT_PAGE_SIZE

Info = strawberry.Info[Context, None]


async def notifications(
    info: Info,
    filter: NotificationFilter | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> NotificationConnection:
    query = (filter or NotificationFilter()).to_query()
    page = await info.context.notifications.page(query, first, after)
    return NotificationConnection.from_page(page, Notification.from_record, after=after)
