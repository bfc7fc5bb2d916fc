"""Online-store accounts (issue 10 §3, seed 003): what the shop and the customer see of them."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class OnlineAccountState(enum.StrEnum):
    # Invited: the registration message (with an initial password) was queued, or a reset
    # asked for; the customer has not signed in yet.
    INVITED = "INVITED"
    ACTIVE = "ACTIVE"
    # The customer was merged into another; the survivor's account is the one that counts.
    DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class OnlineAccountRecord:
    customer_id: uuid.UUID
    state: OnlineAccountState
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountCredentials:
    """What a sign-in or a reset checks: never leaves the service."""

    customer_id: uuid.UUID
    state: OnlineAccountState
    password_hash: str | None
    reset_code_hash: str | None
    reset_code_expires_at: datetime | None
    reset_code_failures: int


@dataclass(frozen=True, slots=True)
class CustomerSession:
    """A customer signed in to the online store: may read and change only their own profile."""

    token_id: uuid.UUID
    customer_id: uuid.UUID
