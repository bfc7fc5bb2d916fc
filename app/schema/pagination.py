"""Relay connections (``edges { cursor node }``, ``pageInfo``, ``totalCount``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from app.domain.records import Page

NodeT = TypeVar("NodeT")
RecordT = TypeVar("RecordT")

DEFAULT_PAGE_SIZE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def from_page(
        cls,
        page: Page[RecordT],
        to_node: Callable[[RecordT], NodeT],
        *,
        after: str | None,
    ) -> Connection[NodeT]:
        edges = [Edge(cursor=cursor, node=to_node(item)) for cursor, item in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )
