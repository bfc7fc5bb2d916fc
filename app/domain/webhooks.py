"""Signed webhooks (issue 10 §5): the events, what each one says, and the signature.

Pure rules, no I/O: the unit of work turns audited customer changes and the sale
services' announcements into events; the delivery job signs and sends them.

Payloads carry only what an integration needs to act (ids, timestamps, amounts, the
names of changed fields, consent states): never a name, phone, email or address. An
integration that needs more asks the API with its own token, where the role's
permissions and masks apply.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.sales import SaleRecord, SaleReturnRecord

SIGNATURE_HEADER = "X-Poscrm-Signature"
DELIVERY_HEADER = "X-Poscrm-Delivery"
EVENT_HEADER = "X-Poscrm-Event"
SIGNATURE_VERSION = "v1"


class WebhookEventType(enum.StrEnum):
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_MERGED = "customer.merged"
    CUSTOMER_DELETED = "customer.deleted"
    # Pseudonymised on a privacy request (issue 13): erase your own copy of the person.
    CUSTOMER_ERASED = "customer.erased"
    SALE_COMPLETED = "sale.completed"
    SALE_VOIDED = "sale.voided"
    SALE_RETURNED = "sale.returned"
    CONSENT_CHANGED = "consent.changed"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One thing that happened, once; each subscribed endpoint gets its own delivery of it."""

    id: uuid.UUID
    type: WebhookEventType
    occurred_at: datetime
    data: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type.value,
            "createdAt": self.occurred_at.isoformat(),
            "data": self.data,
        }


def new_event(kind: WebhookEventType, at: datetime, data: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(id=uuid.uuid4(), type=kind, occurred_at=at, data=data)


# Customer audit actions that are webhook events. Others (points, cards, groups,
# discounts, account payments) have no event yet: they are not profile changes.
_CUSTOMER_ACTIONS = {
    "create": WebhookEventType.CUSTOMER_CREATED,
    "update": WebhookEventType.CUSTOMER_UPDATED,
    "set_status": WebhookEventType.CUSTOMER_UPDATED,
    "delete": WebhookEventType.CUSTOMER_DELETED,
    "merged_into": WebhookEventType.CUSTOMER_MERGED,
    "erase": WebhookEventType.CUSTOMER_ERASED,
    "consent": WebhookEventType.CONSENT_CHANGED,
}
# The consent audit names its field after the channel: consentEmail, consentSms.
_CONSENT_FIELD = "consent"


def event_from_customer_audit(
    customer_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> WebhookEvent | None:
    """The event an audited customer change is, if any; field names only, never values."""
    kind = _CUSTOMER_ACTIONS.get(action)
    if action == "import":
        # An import audits a new customer with no "before" and an updated one with it.
        kind = WebhookEventType.CUSTOMER_UPDATED if before else WebhookEventType.CUSTOMER_CREATED
    if kind is None:
        return None
    data: dict[str, Any] = {"customerId": customer_id}
    if kind is WebhookEventType.CUSTOMER_UPDATED and action == "set_status":
        # Its audit also names the sale a reactivation happened at: not a field.
        data["changedFields"] = ["status"]
    elif kind is WebhookEventType.CUSTOMER_UPDATED:
        data["changedFields"] = sorted(set(before or {}) | set(after or {}))
    elif kind is WebhookEventType.CUSTOMER_MERGED:
        data["mergedIntoId"] = (after or {}).get("mergedIntoId")
    elif kind is WebhookEventType.CONSENT_CHANGED:
        field = next((k for k in (after or {}) if k.startswith(_CONSENT_FIELD)), None)
        if field is None:
            return None
        data["channel"] = field.removeprefix(_CONSENT_FIELD).upper()
        data["state"] = (after or {})[field]
        data["source"] = (after or {}).get("source")
    return new_event(kind, at, data)


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def sale_event(kind: WebhookEventType, sale: SaleRecord, at: datetime) -> WebhookEvent:
    """sale.completed or sale.voided: ids and amounts; a walk-in sale has no customerId."""
    return new_event(
        kind,
        at,
        {
            "saleId": str(sale.id),
            "storeId": str(sale.store_id),
            "tillId": _id(sale.till_id),
            "customerId": _id(sale.customer_id),
            "status": sale.status.value,
            "subtotal": str(sale.subtotal),
            "discountTotal": str(sale.discount_total),
            "total": str(sale.total),
            "paid": str(sale.paid),
            "payment": sale.payment.value if sale.payment else None,
            "pointsEarned": sale.points_earned,
            "pointsRedeemed": sale.points_redeemed,
            "completedAt": sale.completed_at.isoformat() if sale.completed_at else None,
            "voidedAt": sale.voided_at.isoformat() if sale.voided_at else None,
        },
    )


def sale_returned_event(
    returned: SaleReturnRecord, customer_id: uuid.UUID | None, at: datetime
) -> WebhookEvent:
    return new_event(
        WebhookEventType.SALE_RETURNED,
        at,
        {
            "saleId": str(returned.sale_id),
            "returnId": str(returned.id),
            "storeId": str(returned.store_id),
            "customerId": _id(customer_id),
            "value": str(returned.value),
            "refund": str(returned.refund),
            "refundPayment": returned.refund_payment.value,
        },
    )


@dataclass(frozen=True, slots=True)
class WebhookEndpointRecord:
    id: uuid.UUID
    url: str
    events: tuple[str, ...]
    is_active: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime | None
    # Only when just made or rotated: the one time the API shows it.
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


# -- the signature -----------------------------------------------------------------------


def encode_body(body: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed; the same every time for one delivery."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of ``"<timestamp>.<body>"`` with the endpoint's secret, in hex."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex>``, as Stripe does: the timestamp is signed too."""
    return f"t={timestamp},{SIGNATURE_VERSION}={signature(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, now: int, tolerance_seconds: int = 300
) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, parts.get(SIGNATURE_VERSION, ""))
