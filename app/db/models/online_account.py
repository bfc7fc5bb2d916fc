"""Online-store accounts (issue 10 §3, seed 003): a customer's sign-in to the shop's web store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.models._columns import created_at, uuid_pk
from app.db.types import UTCDateTime


class OnlineAccount(Base):
    """One per customer at most; the password and the reset code are stored only as argon2."""

    __tablename__ = "online_accounts"
    __table_args__ = (
        CheckConstraint("state IN ('INVITED', 'ACTIVE', 'DISABLED')", name="state_known"),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    # INVITED until the customer first signs in (or sets a password by reset); DISABLED
    # when the customer was merged into another or deleted.
    state: Mapped[str] = mapped_column(String(16))
    # Set by the registration message's delivery job, or by a password reset.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The single-use reset code's hash and end of life; cleared when used.
    reset_code_hash: Mapped[str | None] = mapped_column(String(255))
    reset_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Wrong codes tried against the current code: at the limit the code is void, however
    # many addresses the guesses come from.
    reset_code_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at()
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerToken(Base):
    """A customer's session in the online store, stored only as its SHA-256."""

    __tablename__ = "customer_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
