"""What a query asks of the field being resolved, so a resolver can skip work no one reads."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection


def _asks(selections: Iterable[Selection], name: str) -> bool:
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if isinstance(selection, FragmentSpread | InlineFragment) and _asks(
            selection.selections, name
        ):
            return True
    return False


def asks_for(info: Any, name: str) -> bool:
    """Whether the field being resolved selects ``name`` (directly or in a fragment)."""
    return any(_asks(field.selections, name) for field in info.selected_fields)
