"""No escalation (issue 9): nobody grants a permission or a store they do not hold.

A user with only ``STAFF_MANAGE`` could once create a role with every permission, then a
user and a till with it, and read everything. These checks run in every command that
grants: creating or changing a role, a staff user or a till. ``actor`` None is the
system itself (the CLI's create-admin, seed-demo), which may grant anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from app.domain.errors import ErrorCode, reject
from app.domain.permissions import Permission
from app.domain.records import Actor


def check_grantable(actor: Actor | None, permissions: Iterable[Permission], *field: str) -> None:
    """Refuse (FORBIDDEN) a grant holding any permission the caller lacks."""
    if actor is None:
        return
    missing = sorted(p.value for p in set(permissions) if not actor.can(p))
    if missing:
        raise reject(
            ErrorCode.FORBIDDEN,
            f"You cannot grant what you do not hold: {', '.join(missing)}.",
            *field,
        )


def check_placeable(actor: Actor | None, store_id: uuid.UUID | None, *field: str) -> None:
    """Refuse binding someone to a store the caller may not act at.

    No store makes a staff user chain-wide, which only a chain-wide caller may give.
    """
    bound = actor.bound_store_id if actor else None
    if bound is None:
        return
    if store_id != bound:
        raise reject(
            ErrorCode.FORBIDDEN,
            "You can place staff and tills at your own store only.",
            *field,
        )
