"""What each store's tills hold, and the change feed that keeps their copies exact."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at
from app.db.types import UTCDateTime


class StoreSyncCounter(Base):
    """Per store: the last change number handed out in that store's feed.

    Taking numbers updates this row, which stays locked until commit, so a store's
    numbers become visible in the order they were taken: a reader never sees 11 before
    10 commits (nothing missed). Stores have their own rows, so commits numbering
    changes in different stores never wait for each other.
    """

    __tablename__ = "store_sync_counters"

    store_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[int] = mapped_column(BigInteger)


class StoreCustomer(Base):
    """A customer in a store's local set, with the number of its latest change.

    One row per (store, customer): the feed returns each customer once, in its latest
    state; a deleted or merged customer stays as a tombstone so offline tills learn it.
    """

    __tablename__ = "store_customers"
    __table_args__ = (
        Index("uq_store_customers_feed", "store_id", "seq", unique=True),
        # Which stores hold a customer: read by every change to a customer (a sale too).
        Index("ix_store_customers_customer", "customer_id"),
    )

    store_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: the row outlives a deleted customer as its tombstone.
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    # CHANGED, DELETED or MERGED.
    kind: Mapped[str] = mapped_column(String(8))
    added_at: Mapped[datetime] = created_at()


class OfflineCustomer(Base):
    """A customer a till created offline, and what the server answered for it.

    Keyed by the till's own id, so a resent batch gets the same answers.
    """

    __tablename__ = "offline_customers"
    __table_args__ = (Index("ix_offline_customers_status", "status", "created_at"),)

    client_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"))
    # CREATED, MATCHED or CONFLICT (then RESOLVED once a manager decides).
    status: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    candidate_ids: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = created_at()
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(200))
