"""The SMS gateway: JSON posted to a provider's HTTP endpoint through httpx (issue 10 §1)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

from app.services.gateways import DeliveryFailed, OutgoingMessage, redact


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait an HTTP ``Retry-After`` asks for: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpSmsGateway:
    """Posts ``{"to", "text", "reference"}`` with the notification id as ``Idempotency-Key``.

    A provider that honours the key charges a retried send (our answer lost, theirs
    delivered) once. Proxies from the environment are not used: the provider's URL is
    what the shop configured, and nothing else should see the token.
    """

    name = "sms-http"

    def __init__(self, url: str, token: str, *, timeout: float) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        # One client for the gateway's life: its pool keeps connections (and TLS sessions)
        # open between messages. Made at the first send, inside the worker's event loop.
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def send(self, message: OutgoingMessage) -> None:
        if self._closed:
            raise DeliveryFailed("SMS gateway: the gateway is shut down")
        key = str(message.notification_id)
        headers = {"Idempotency-Key": key}
        if message.attempt is not None:
            # Which of our attempts this is: a provider's log (or a test) can tell a retry
            # from a duplicate of one attempt.
            headers["X-Attempt"] = str(message.attempt)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = await self._http().post(
                self.url,
                json={"to": message.recipient, "text": message.body, "reference": key},
                headers=headers,
            )
        except httpx.TransportError as failure:
            # Timeouts, refused connections, dropped connections, TLS: try again later.
            detail = redact(f"SMS gateway: {type(failure).__name__}: {failure}", message.recipient)
            raise DeliveryFailed(detail) from None
        if response.is_success:
            return
        status = response.status_code
        reason = redact(
            f"SMS gateway HTTP {status}: {response.text[:2000]}",
            message.recipient,
            body=message.body,
        )
        if status == 429 or status >= 500:
            raise DeliveryFailed(
                reason, retry_after=retry_after_seconds(response.headers.get("retry-after"))
            )
        # Any other answer (4xx: a number the provider refuses, a bad token) will be the
        # same next time; a 3xx means a wrong URL, which retries cannot fix either.
        raise DeliveryFailed(reason, permanent=True)
