from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, utcnow, uuid_pk
from app.db.types import UTCDateTime


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Search keys: phone prefix and name prefix are index ranges (DESIGN.md §6).
        Index("ix_customers_name_key_id", "name_key", "id"),
        Index("ix_customers_email_key", "email_key"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # Case-folded name: what search and ordering use.
    name_key: Mapped[str] = mapped_column(String(200))
    # E.164, e.g. +12125550100.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    customer_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    version: Mapped[int] = mapped_column(default=1)
    home_store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MarketingConsent(Base):
    """The current consent per channel; no row means NOT_SUBSCRIBED (off by default, seed 003)."""

    __tablename__ = "marketing_consents"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    actor_label: Mapped[str] = mapped_column(String(200))


class CustomerNameWord(Base):
    """Each word of a customer's folded name, so "love" finds "Ada Lovelace" by an index range."""

    __tablename__ = "customer_name_words"
    __table_args__ = (Index("ix_customer_name_words_word", "word", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(String(200), primary_key=True)
