from __future__ import annotations

import uuid

import strawberry

from app.domain.errors import Rejected
from app.domain.records import CustomerStatus, MarketingChannel
from app.resolvers.selection import asks_for
from app.schema.context import Context
from app.schema.customer import (
    Customer,
    CustomerConnection,
    CustomerCreateInput,
    CustomerDeletePayload,
    CustomerFilter,
    CustomerPayload,
    CustomerUpdateInput,
    DuplicateCandidate,
)
from app.schema.errors import ClientError, user_errors
from app.schema.ids import parse_id
from app.schema.pagination import DEFAULT_PAGE_SIZE
from app.schema.sale import Sale
from app.services.unit_of_work import Result

Info = strawberry.Info[Context, None]


async def customer(info: Info, id: strawberry.ID) -> Customer | None:
    found = await info.context.loaders.customer_screen(parse_id(id))
    return Customer.from_record(found) if found else None


async def customers(
    info: Info,
    search: str | None = None,
    filter: CustomerFilter | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> CustomerConnection:
    query = (filter or CustomerFilter()).to_query(search)
    try:
        # Counting every match costs as much as the page and more (the whole table, for a
        # list without a search): only when the query shows the count.
        counted = asks_for(info, "totalCount")
        page = await info.context.customers.search(query, first, after, counted=counted)
    except Rejected as rejected:
        raise ClientError.from_rejected(rejected) from None
    connection = CustomerConnection.from_page(page, Customer.from_record, after=after)
    await _preload(info, [edge.node for edge in connection.edges])
    return connection


async def _preload(info: Info, nodes: list[Customer]) -> None:
    """Load the page's groups and cards (with points, stats and tier: one row each) now, one
    batch each, when the query shows them: the
    nodes then answer those fields as plain attributes (no awaitable per customer)."""
    if not nodes:
        return
    ids = [uuid.UUID(node.id) for node in nodes]
    loaders = info.context.loaders
    if asks_for(info, "edges", "node", "groups"):
        for node, groups in zip(nodes, await loaders.groups.load_many(ids), strict=True):
            node.preloaded_groups = groups
    if asks_for(info, "edges", "node", "loyaltyCard") or asks_for(
        info, "edges", "node", "loyaltyTier"
    ):
        for node, facts in zip(nodes, await loaders.facts.load_many(ids), strict=True):
            node.preloaded_facts = facts


async def customer_create(info: Info, input: CustomerCreateInput) -> CustomerPayload:
    result = await info.context.customers.register(input.to_command())
    registered = result.value
    if registered is None:
        return CustomerPayload.from_errors(result.errors)
    payload = CustomerPayload.from_result(Result(registered.customer))
    if registered.sale is not None:
        payload.sale = Sale.from_record(registered.sale)
    found = await info.context.merges.duplicates(registered.customer.id)
    payload.duplicates = [DuplicateCandidate.from_duplicate(d) for d in found]
    return payload


async def customer_update(
    info: Info, id: strawberry.ID, input: CustomerUpdateInput
) -> CustomerPayload:
    result = await info.context.customers.update(parse_id(id), input.to_command())
    return CustomerPayload.from_result(result)


async def customer_set_status(
    info: Info, id: strawberry.ID, status: CustomerStatus
) -> CustomerPayload:
    return CustomerPayload.from_result(
        await info.context.customers.set_status(parse_id(id), status)
    )


async def customer_delete(info: Info, id: strawberry.ID) -> CustomerDeletePayload:
    result = await info.context.customers.delete(parse_id(id))
    deleted = strawberry.ID(str(result.value)) if result.value else None
    return CustomerDeletePayload(deleted_id=deleted, errors=user_errors(result.errors))


async def marketing_consent_update(
    info: Info,
    customer_id: strawberry.ID,
    channel: MarketingChannel,
    subscribed: bool,
) -> CustomerPayload:
    result = await info.context.customers.update_consent(parse_id(customer_id), channel, subscribed)
    return CustomerPayload.from_result(result)
