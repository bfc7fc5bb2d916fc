"""Store scope: a caller bound to a store acts only at that store (issue 9).

``Actor.bound_store_id`` says who is bound: a till's device token always, a staff user
with a home store unless the role holds ``STORE_ALL``. Bound callers write and list
sales, payments, voids, stock, appointments, offline conflicts and change feeds of
their own store only. Customers stay chain-wide (a customer shops anywhere), and one
sale read by id stays open to every store so that a receipt can be looked up for a
return, which is then refunded at the caller's own store.

Every store-scoped service asks here, so the rule and its answer live in one place;
``tests/api/test_store_scope.py`` sweeps every operation with another store's ids.
"""

from __future__ import annotations

import uuid

from app.domain.errors import ErrorCode, Rejected, reject
from app.domain.records import Actor

OTHER_STORE = "This belongs to another store; you act at your own store only."


def other_store(*field: str) -> Rejected:
    return reject(ErrorCode.FORBIDDEN, OTHER_STORE, *field)


def require_store(actor: Actor | None, store_id: uuid.UUID, *field: str) -> None:
    """Refuse (FORBIDDEN, nothing changed) unless the caller may act at ``store_id``.

    ``actor`` None is the system itself (jobs, the CLI), which acts everywhere.
    """
    bound = actor.bound_store_id if actor else None
    if bound is not None and store_id != bound:
        raise other_store(*field)


def scoped_store(actor: Actor | None, requested: uuid.UUID | None, *field: str) -> uuid.UUID | None:
    """The store a list or a write is narrowed to.

    A bound caller gets its own store whether it named it or not (naming another is
    refused); a chain-wide caller gets what it asked for, None meaning every store.
    """
    bound = actor.bound_store_id if actor else None
    if bound is None:
        return requested
    if requested is not None and requested != bound:
        raise other_store(*field)
    return bound


def require_home_store(actor: Actor | None, home_store_id: uuid.UUID, *field: str) -> None:
    """Refuse (FORBIDDEN) a bound caller of another store than the customer's home store
    (the head office for a customer without one).

    Customers are read chain-wide, but handing over or erasing all of a person (issue 13)
    is for the store that keeps their record, or for a chain-wide caller.
    """
    bound = actor.bound_store_id if actor else None
    if bound is not None and bound != home_store_id:
        raise other_store(*field)
