"""Webhook endpoints: where the shop's events are sent (issue 10 §5).

The secret is shown once, in the answer to the create (or to a rotation), and never
again: it is kept in the database because an HMAC needs the key itself, but an API that
can read it back would hand it to every later holder of an admin token, and a leaked
secret lets anyone forge our events. Lost it? Rotate it (``rotateSecret: true``).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.db.repositories.webhooks import WebhookRepository
from app.domain.errors import ErrorCode, Rejected, UserError, reject
from app.domain.records import Actor, Page
from app.domain.values import UNSET, Unset
from app.domain.webhooks import WebhookDeliveryRecord, WebhookEndpointRecord, WebhookEventType
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.services.webhooks.guard import destination_refusal, url_refusal
from app.settings import Settings

# Marks the string as a webhook secret for secret scanners and for people.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
EVENT_NAMES = frozenset(e.value for e in WebhookEventType)


@dataclass(frozen=True, slots=True)
class WebhookEndpointChange:
    url: str | Unset = UNSET
    events: Sequence[str] | Unset = UNSET
    is_active: bool | Unset = UNSET
    rotate_secret: bool = False


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _events(raw: Sequence[str], *field: str) -> list[str]:
    errors = [
        UserError(ErrorCode.INVALID, f"Unknown event {name!r}.", (*field, str(i)))
        for i, name in enumerate(raw)
        if name not in EVENT_NAMES
    ]
    if errors:
        raise Rejected(*errors)
    if not raw:
        raise reject(ErrorCode.REQUIRED, "Subscribe to at least one event.", *field)
    # In the enum's order, once each: the same set always reads the same.
    return [e.value for e in WebhookEventType if e.value in raw]


def _snapshot(endpoint: WebhookEndpointRecord) -> dict[str, Any]:
    # Never the secret: the audit trail is read by more people than set webhooks up.
    return {"url": endpoint.url, "events": list(endpoint.events), "isActive": endpoint.is_active}


class WebhookEndpointService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor

    async def _checked_url(self, url: str, *field: str) -> str:
        """The URL, stripped, if it may be sent to; resolved here, outside any transaction."""
        url = url.strip()
        reason = url_refusal(url)
        if reason is not None:
            raise reject(ErrorCode.INVALID, reason, *field)
        refusal = await destination_refusal(url, self.settings.webhook_allow_private)
        if refusal is not None:
            raise reject(ErrorCode.WEBHOOK_URL_NOT_ALLOWED, refusal, *field)
        return url

    async def create(self, url: str, events: Sequence[str]) -> Result[WebhookEndpointRecord]:
        """A new endpoint, answered with its secret: the only time the secret is shown."""
        try:
            checked = await self._checked_url(url, "input", "url")
            subscribed = _events(events, "input", "events")
        except Rejected as rejected:
            return Result(errors=rejected.errors)

        async def work(uow: UnitOfWork) -> WebhookEndpointRecord:
            created = await uow.webhooks.insert_endpoint(
                url=checked, events=subscribed, secret=new_secret(), created_at=uow.now
            )
            await uow.audit("webhook_endpoint", created.id, "create", after=_snapshot(created))
            return created

        return await self.tx.run(self.actor, work)

    async def update(
        self, endpoint_id: uuid.UUID, change: WebhookEndpointChange
    ) -> Result[WebhookEndpointRecord]:
        """Change the URL, the events or the active flag, or rotate the secret.

        Turning an endpoint back on clears its failure count and the reason it was off.
        """
        try:
            url = (
                UNSET
                if isinstance(change.url, Unset)
                else await self._checked_url(change.url, "input", "url")
            )
            events = (
                UNSET
                if isinstance(change.events, Unset)
                else _events(change.events, "input", "events")
            )
        except Rejected as rejected:
            return Result(errors=rejected.errors)

        async def work(uow: UnitOfWork) -> WebhookEndpointRecord:
            current = await uow.webhooks.get_endpoint(endpoint_id)
            if current is None:
                raise reject(ErrorCode.NOT_FOUND, "No webhook endpoint with this id.", "id")
            values: dict[str, Any] = {}
            if not isinstance(url, Unset):
                values["url"] = url
            if not isinstance(events, Unset):
                values["events"] = events
            if not isinstance(change.is_active, Unset):
                values["is_active"] = change.is_active
                if change.is_active:
                    values["disabled_reason"] = None
                    values["consecutive_failures"] = 0
                else:
                    values["disabled_reason"] = f"turned off by {uow.actor_label}"
            secret = new_secret() if change.rotate_secret else None
            if secret is not None:
                values["secret"] = secret
            if values:
                values["updated_at"] = uow.now
                await uow.webhooks.update_endpoint(endpoint_id, values)
            updated = await uow.webhooks.get_endpoint(endpoint_id)
            assert updated is not None
            await uow.audit_changes(
                "webhook_endpoint", endpoint_id, "update", _snapshot(current), _snapshot(updated)
            )
            if secret is not None:
                await uow.audit("webhook_endpoint", endpoint_id, "rotate_secret", after={})
                return replace(updated, secret=secret)
            return updated

        return await self.tx.run(self.actor, work)

    async def delete(self, endpoint_id: uuid.UUID) -> Result[uuid.UUID]:
        """Remove an endpoint and its delivery history; deliveries still queued are dropped."""

        async def work(uow: UnitOfWork) -> uuid.UUID:
            current = await uow.webhooks.get_endpoint(endpoint_id)
            if current is None or not await uow.webhooks.delete_endpoint(endpoint_id):
                raise reject(ErrorCode.NOT_FOUND, "No webhook endpoint with this id.", "id")
            await uow.audit("webhook_endpoint", endpoint_id, "delete", before=_snapshot(current))
            return endpoint_id

        return await self.tx.run(self.actor, work)

    async def list(self) -> list[WebhookEndpointRecord]:
        async with self.tx.db.read() as session:
            return await WebhookRepository(session).endpoints()

    async def deliveries(
        self, endpoint_id: uuid.UUID, first: int, after: str | None
    ) -> Page[WebhookDeliveryRecord]:
        """What was sent to an endpoint and how it went, newest first."""
        async with self.tx.db.read() as session:
            return await WebhookRepository(session).deliveries_page(endpoint_id, first, after)
