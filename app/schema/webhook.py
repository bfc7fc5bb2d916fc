"""Webhook endpoint types, inputs and payloads (issue 10 §5; names fixed in DESIGN.md §3b)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.errors import UserError as DomainUserError
from app.domain.values import UNSET as DOMAIN_UNSET
from app.domain.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord, WebhookEventType
from app.schema.errors import UserError, user_errors
from app.schema.pagination import Connection
from app.services.unit_of_work import Result
from app.services.webhooks.endpoints import WebhookEndpointChange

EVENTS_DESCRIPTION = "Any of: " + ", ".join(e.value for e in WebhookEventType) + "."


@strawberry.type(description="A URL that receives the shop's events, signed with its secret.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    events: list[str] = strawberry.field(description=EVENTS_DESCRIPTION)
    secret: str | None = strawberry.field(
        description="Signs every delivery (X-Poscrm-Signature). Shown only in the answer to "
        "webhookEndpointCreate and to a rotation (rotateSecret); null everywhere else."
    )
    is_active: bool = strawberry.field(
        description="False: nothing is sent (turned off, or too many failures in a row)."
    )
    disabled_reason: str | None = strawberry.field(description="Why it is off; null when on.")
    consecutive_failures: int = strawberry.field(
        description="Deliveries in a row that ended failed; a delivered one resets it."
    )
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def from_record(cls, r: WebhookEndpointRecord) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(r.id)),
            url=r.url,
            events=list(r.events),
            secret=r.secret,
            is_active=r.is_active,
            disabled_reason=r.disabled_reason,
            consecutive_failures=r.consecutive_failures,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


@strawberry.type(description="One event sent to one endpoint, and how it went.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(description="The X-Poscrm-Delivery header.")
    event_id: strawberry.ID = strawberry.field(
        description="The body's id: the same for every endpoint the event went to."
    )
    event: str
    status: str = strawberry.field(
        description="PENDING (retries left), DELIVERED, FAILED, or SKIPPED (endpoint off)."
    )
    attempts: int
    last_status_code: int | None = strawberry.field(description="The last HTTP answer's status.")
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_record(cls, r: WebhookDeliveryRecord) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(r.id)),
            event_id=strawberry.ID(str(r.event_id)),
            event=r.event,
            status=r.status,
            attempts=r.attempts,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            created_at=r.created_at,
            finished_at=r.finished_at,
        )


WebhookDeliveryConnection = Connection[WebhookDelivery]


@strawberry.input
class WebhookEndpointInput:
    url: str = strawberry.field(
        description="http or https; refused if it resolves to a loopback, private or "
        "link-local address (unless the server allows private addresses)."
    )
    events: list[str] = strawberry.field(description=EVENTS_DESCRIPTION)


@strawberry.input(description="Only the fields given change.")
class WebhookEndpointUpdateInput:
    url: str | None = strawberry.UNSET
    events: list[str] | None = strawberry.UNSET
    is_active: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="True turns a disabled endpoint back on and clears its failure count.",
    )
    rotate_secret: bool = strawberry.field(
        default=False, description="Make a new secret; the answer shows it, once."
    )

    def to_change(self) -> WebhookEndpointChange:
        def given(value: object) -> object:
            # Null is no change: an endpoint always has a URL, events and a flag.
            return DOMAIN_UNSET if value is strawberry.UNSET or value is None else value

        return WebhookEndpointChange(
            url=given(self.url),  # type: ignore[arg-type]
            events=given(self.events),  # type: ignore[arg-type]
            is_active=given(self.is_active),  # type: ignore[arg-type]
            rotate_secret=self.rotate_secret,
        )


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[WebhookEndpointRecord]) -> WebhookEndpointPayload:
        endpoint = WebhookEndpoint.from_record(result.value) if result.value else None
        return cls(webhook_endpoint=endpoint, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> WebhookEndpointPayload:
        return cls(webhook_endpoint=None, errors=user_errors(errors))


@strawberry.type
class WebhookEndpointDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> WebhookEndpointDeletePayload:
        return cls(deleted_id=None, errors=user_errors(errors))
