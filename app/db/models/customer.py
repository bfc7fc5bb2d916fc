from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import big_id, created_at, utcnow, uuid_pk
from app.db.types import Money, UTCDateTime


def reversed_digits(phone: str | None) -> str | None:
    """An E.164 number's digits, last first (``+12125550142`` -> ``24105552121``).

    Stored beside each number so that "the last four digits" is a prefix range on an index
    of this column (``'2410' <= x < '2411'``), as a prefix of the number is on the number's
    own index: never a scan. None for anything that is not a number (a merged placeholder).
    """
    if phone is None or not phone.startswith("+") or not phone[1:].isdigit():
        return None
    return phone[:0:-1]


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Search keys: phone prefix and name prefix are index ranges (DESIGN.md §6).
        Index("ix_customers_name_key_id", "name_key", "id"),
        Index("ix_customers_email_key", "email_key"),
        # Last digits: a prefix range over the reversed number (issue 9 §7).
        Index("ix_customers_phone_reversed", "phone_reversed"),
        # Duplicate detection: similar name with the same birth date.
        Index("ix_customers_birth_date", "birth_date"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # Case-folded name: what search and ordering use.
    name_key: Mapped[str] = mapped_column(String(200))
    # E.164, e.g. +12125550100.
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    # reversed_digits(phone): written with every phone by the repositories.
    phone_reversed: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320))
    customer_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    version: Mapped[int] = mapped_column(default=1)
    home_store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(16))
    # Statutory data (seeds 001, 002), stored normalised (upper case, no separators).
    pan: Mapped[str | None] = mapped_column(String(10))
    gstin: Mapped[str | None] = mapped_column(String(15))
    state_code: Mapped[str | None] = mapped_column(String(2))
    reg_no: Mapped[str | None] = mapped_column(String(32))
    vat_no: Mapped[str | None] = mapped_column(String(16))
    allow_credit_sale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    credit_limit: Mapped[Decimal | None] = mapped_column(Money())
    preferred_channel: Mapped[str | None] = mapped_column(String(8))
    willing_to_receive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    remarks: Mapped[str | None] = mapped_column(Text)
    # The customer takes no part in the loyalty programme (seed 004): no points, no card
    # discount; their group discounts and codes still apply.
    loyalty_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Set when this customer was folded into another: the row stays as a pointer.
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerAddress(Base):
    __tablename__ = "customer_addresses"
    __table_args__ = (Index("ix_customer_addresses_customer", "customer_id", "position"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(50))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    # ISO 3166-1 alpha-2.
    country: Mapped[str | None] = mapped_column(String(2))


class CustomerPhone(Base):
    """An extra phone number: unique like the main one, and found by search the same way."""

    __tablename__ = "customer_phones"
    __table_args__ = (
        Index("ix_customer_phones_customer", "customer_id", "position"),
        Index("ix_customer_phones_phone_reversed", "phone_reversed"),
    )

    # E.164; the primary key is the index a prefix search ranges over.
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    # reversed_digits(phone), for a last-digits search as on customers.
    phone_reversed: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(50))


class ConsentChange(Base):
    """Every consent change ever made, oldest first (seed 003): the current state is not enough."""

    __tablename__ = "marketing_consent_history"
    __table_args__ = (Index("ix_consent_history_customer", "customer_id", "id"),)

    id: Mapped[int] = big_id()
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    previous_state: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    actor_label: Mapped[str] = mapped_column(String(200))
    # Where the change was made (seed 003): the caller's store and till, if any.
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"))


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
    store_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stores.id"))
    till_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tills.id"))


class CustomerNameWord(Base):
    """Each word of a customer's folded name, so "love" finds "Ada Lovelace" by an index range."""

    __tablename__ = "customer_name_words"
    __table_args__ = (Index("ix_customer_name_words_word", "word", "customer_id"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(String(200), primary_key=True)
