"""Webhook delivery: one signed POST per job run; the delivery row is the record (DESIGN.md §4).

2xx is delivered. 5xx, 429, a timeout or a refused connection is retried with backoff
until ``webhook_max_attempts``. Any other answer (3xx included: redirects are never
followed) fails this delivery at once. Each delivery that ends failed counts toward
disabling its endpoint; one that is delivered resets the count.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass

import httpx

from app.db.engine import Database
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.webhooks import DeliveryToSend, WebhookRepository
from app.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    encode_body,
    signature_header,
)
from app.services.stamps import WEBHOOK_SUBSCRIPTIONS, VersionStamps
from app.services.unit_of_work import utcnow
from app.services.webhooks.guard import UnsafeDestination, url_refusal, webhook_client
from app.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "poscrm-webhooks/1"
BACKOFF_MAX_SECONDS = 300.0
ERROR_MAX = 500


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST came to: delivered, worth retrying, or failed for good."""

    delivered: bool
    transient: bool
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None

    @property
    def retry(self) -> bool:
        return self.retry_in is not None


def classify(status_code: int) -> Attempt:
    if 200 <= status_code < 300:
        return Attempt(True, False, status_code, None)
    transient = status_code == 429 or status_code >= 500
    return Attempt(False, transient, status_code, f"HTTP {status_code}")


def backoff(attempt: int, base: float) -> float:
    # Jitter spreads retries of many deliveries to one endpoint that came back up.
    jitter = random.uniform(0, base)  # noqa: S311 - timing jitter, not a secret
    return min(BACKOFF_MAX_SECONDS, base * 2.0**attempt + jitter)


class WebhookSender:
    def __init__(
        self, db: Database, settings: Settings, stamps: VersionStamps | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        # An endpoint this sender disables must stop getting deliveries from the API
        # processes, which cache the subscriptions under this stamp.
        self.stamps = stamps

    async def deliver(self, outbox_id: uuid.UUID) -> DeliveryOutcome:
        """Send the delivery an outbox row names, once; a re-run after it ended does nothing."""
        async with self.db.read() as session:
            message = await OutboxRepository(session).get(outbox_id)
            if message is None:
                return DeliveryOutcome("MISSING")
            delivery_id = uuid.UUID(message[1]["delivery_id"])
            item = await WebhookRepository(session).get_for_sending(delivery_id)
        if item is None or item.status != "PENDING":
            # Ended already, or its endpoint was deleted (the row went with it).
            await self._claim(outbox_id)
            return DeliveryOutcome(item.status if item else "MISSING")
        if not item.endpoint_active:
            await self._skip(outbox_id, item, "the endpoint is disabled")
            return DeliveryOutcome("SKIPPED")
        attempt = await self._post(item)
        number = item.attempts + 1
        if attempt.delivered:
            await self._finish(outbox_id, item, "DELIVERED", attempt)
            return DeliveryOutcome("DELIVERED")
        if attempt.transient and number < self.settings.webhook_max_attempts:
            async with self.db.write() as session:
                await WebhookRepository(session).record_attempt(
                    item.id,
                    status="PENDING",
                    status_code=attempt.status_code,
                    error=attempt.error,
                    finished_at=None,
                )
            log.info("webhook delivery failed, will retry", extra={"attempt": number})
            return DeliveryOutcome(
                "PENDING", retry_in=backoff(number, self.settings.webhook_retry_base_seconds)
            )
        await self._finish(outbox_id, item, "FAILED", attempt)
        return DeliveryOutcome("FAILED")

    async def _post(self, item: DeliveryToSend) -> Attempt:
        reason = url_refusal(item.url)
        if reason is not None:
            return Attempt(False, False, None, reason)
        body = encode_body(item.payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(item.secret, int(time.time()), body),
            DELIVERY_HEADER: str(item.id),
            EVENT_HEADER: item.event,
        }
        settings = self.settings
        client = webhook_client(settings.webhook_allow_private, settings.webhook_timeout_seconds)
        try:
            # httpx's timeout is per read: a receiver trickling its headers byte by byte
            # would hold the job until arq's own timeout, unrecorded. This bounds the whole.
            async with asyncio.timeout(settings.webhook_timeout_seconds * 2):
                async with (
                    client,
                    client.stream("POST", item.url, content=body, headers=headers) as response,
                ):
                    # The answer's body is never read: only its status counts.
                    return classify(response.status_code)
        except TimeoutError:
            return Attempt(False, True, None, "timed out")
        except UnsafeDestination as refused:
            # Checked again at each delivery: the name may resolve elsewhere today.
            return Attempt(False, False, None, f"refused: {refused}"[:ERROR_MAX])
        except httpx.TimeoutException:
            return Attempt(False, True, None, "timed out")
        except httpx.TransportError as error:
            return Attempt(False, True, None, f"{type(error).__name__}: {error}"[:ERROR_MAX])

    async def _finish(
        self, outbox_id: uuid.UUID, item: DeliveryToSend, status: str, attempt: Attempt
    ) -> None:
        now = utcnow()
        async with self.db.write() as session:
            webhooks = WebhookRepository(session)
            recorded = await webhooks.record_attempt(
                item.id,
                status=status,
                status_code=attempt.status_code,
                error=attempt.error,
                finished_at=now,
            )
            if recorded and status == "DELIVERED":
                await webhooks.reset_failures(item.endpoint_id)
            elif recorded:
                limit = self.settings.webhook_disable_after_failures
                reason = f"{limit} deliveries in a row failed; the last: {attempt.error}"
                if await webhooks.count_failure(item.endpoint_id, limit, reason[:ERROR_MAX], now):
                    log.warning("webhook endpoint disabled after %d failures", limit)
            await OutboxRepository(session).claim(outbox_id, now)
        if webhooks.subscriptions_changed and self.stamps is not None:
            await self.stamps.bump({WEBHOOK_SUBSCRIPTIONS})

    async def _skip(self, outbox_id: uuid.UUID, item: DeliveryToSend, reason: str) -> None:
        async with self.db.write() as session:
            await WebhookRepository(session).skip(item.id, reason, utcnow())
            await OutboxRepository(session).claim(outbox_id, utcnow())

    async def _claim(self, outbox_id: uuid.UUID) -> None:
        async with self.db.write() as session:
            await OutboxRepository(session).claim(outbox_id, utcnow())
