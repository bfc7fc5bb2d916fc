"""``asks_for``: what a query selects below the field being resolved, fragments included
(a list preloads its page's groups and cards only when they are shown, issue 12)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from app.resolvers.selection import asks_for


def field(name: str, *selections: Any) -> SelectedField:
    return SelectedField(name=name, directives={}, arguments={}, selections=list(selections))


def info(*selections: Any) -> Any:
    return SimpleNamespace(selected_fields=[field("customers", *selections)])


def test_a_path_is_found_directly_and_through_fragments() -> None:
    plain = info(field("edges", field("node", field("groups", field("name")))))
    assert asks_for(plain, "edges", "node", "groups")
    assert not asks_for(plain, "edges", "node", "loyaltyCard")
    assert not asks_for(plain, "totalCount")

    spread = FragmentSpread(
        name="c", type_condition="Customer", directives={}, selections=[field("loyaltyCard")]
    )
    inline = InlineFragment(
        type_condition="CustomerEdge",
        directives={},
        selections=[field("node", spread)],
    )
    through = info(field("edges", inline), field("totalCount"))
    assert asks_for(through, "edges", "node", "loyaltyCard")
    assert asks_for(through, "totalCount")
    assert not asks_for(through, "edges", "node", "groups")
