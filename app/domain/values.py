"""Small value helpers with no dependencies: the UNSET marker for partial updates."""

from __future__ import annotations

import enum
from typing import Final


class _Unset(enum.Enum):
    UNSET = "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset.UNSET
Unset = _Unset
