from __future__ import annotations

import strawberry

from app.schema.context import Context
from app.schema.errors import user_errors
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.schema.webhook import (
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookEndpoint,
    WebhookEndpointDeletePayload,
    WebhookEndpointInput,
    WebhookEndpointPayload,
    WebhookEndpointUpdateInput,
)

Info = strawberry.Info[Context, None]


async def webhook_endpoints(info: Info) -> list[WebhookEndpoint]:
    return [WebhookEndpoint.from_record(r) for r in await info.context.webhooks.list()]


async def webhook_deliveries(
    info: Info, endpoint_id: strawberry.ID, first: int = DEFAULT_PAGE_SIZE, after: str | None = None
) -> WebhookDeliveryConnection:
    page = await info.context.webhooks.deliveries(parse_id(endpoint_id), first, after)
    return WebhookDeliveryConnection.from_page(page, WebhookDelivery.from_record, after=after)


async def webhook_endpoint_create(
    info: Info, input: WebhookEndpointInput
) -> WebhookEndpointPayload:
    result = await info.context.webhooks.create(input.url, input.events)
    return WebhookEndpointPayload.from_result(result)


async def webhook_endpoint_update(
    info: Info, id: strawberry.ID, input: WebhookEndpointUpdateInput
) -> WebhookEndpointPayload:
    result = await info.context.webhooks.update(parse_id(id), input.to_change())
    return WebhookEndpointPayload.from_result(result)


async def webhook_endpoint_delete(info: Info, id: strawberry.ID) -> WebhookEndpointDeletePayload:
    result = await info.context.webhooks.delete(parse_id(id))
    deleted = strawberry.ID(str(result.value)) if result.value else None
    return WebhookEndpointDeletePayload(deleted_id=deleted, errors=user_errors(result.errors))
