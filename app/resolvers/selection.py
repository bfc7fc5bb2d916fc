"""What a query asks of the field being resolved, so a resolver can skip work no one reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def _fields(selections: Iterable[Selection], name: str) -> list[SelectedField]:
    """The fields called ``name`` among ``selections``, fragments' included."""
    found: list[SelectedField] = []
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            found.append(selection)
        elif isinstance(selection, FragmentSpread | InlineFragment):
            found.extend(_fields(selection.selections, name))
    return found


def asks_for(info: Any, *path: str) -> bool:
    """Whether the field being resolved selects the field at ``path`` below it (each step
    directly or in a fragment): ``asks_for(info, "edges", "node", "groups")``."""
    level: list[Any] = list(info.selected_fields)
    for name in path:
        level = [f for parent in level for f in _fields(parent.selections, name)]
        if not level:
            return False
    return True
