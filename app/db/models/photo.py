"""Customer profile pictures (issue 13): re-encoded JPEGs, one row per size."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk


class CustomerPhoto(Base):
    """In the database rather than the data folder: every API process (and a PostgreSQL
    deployment's many machines) reads the same pictures, backups carry them, and deleting
    a customer deletes them (ON DELETE CASCADE). A few tens of KB a customer."""

    __tablename__ = "customer_photos"
    __table_args__ = (
        UniqueConstraint("customer_id", "size", name="uq_customer_photos_customer_id_size"),
        CheckConstraint("size IN ('LARGE', 'SMALL')", name="size_known"),
    )

    # New on every upload: a URL names one picture, so a replaced one is never served
    # under an old URL nor from a browser's cache of it.
    id: Mapped[uuid.UUID] = uuid_pk()
    # The unique (customer_id, size) index serves look-ups by customer: no index of its own.
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    size: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at()
