"""What a MARKETING or UNSUBSCRIBE notification says, composed when it is sent."""

from __future__ import annotations

import html

from app.db.engine import Database
from app.db.repositories.marketing import MarketingRepository
from app.db.repositories.notifications import NotificationToSend
from app.domain.marketing import (
    marketing_texts,
    sign_token,
    unsubscribe_confirmation,
    unsubscribe_url,
)
from app.domain.records import MarketingChannel, NotificationScenario
from app.services.gateways import OutgoingMessage

COMPOSED_HERE = frozenset(
    {NotificationScenario.MARKETING.value, NotificationScenario.UNSUBSCRIBE.value}
)
NO_ADDRESS = "no address for this channel"
NO_LONGER_SUBSCRIBED = "unsubscribed or not active since the message was queued"
NO_CAMPAIGN = "the campaign is gone"


def _page(subject: str, markup: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{markup}</body></html>"
    )


class MarketingMessages:
    """Composes for ``NotificationDelivery``; a string answer is why the message is skipped."""

    def __init__(self, db: Database, public_url: str) -> None:
        self.db = db
        self.public_url = public_url
        # The key never changes while the database lives: read once per process.
        self._key: bytes | None = None

    async def compose(self, item: NotificationToSend) -> OutgoingMessage | str:
        channel = MarketingChannel(item.channel)
        recipient = (
            item.recipient_email if channel is MarketingChannel.EMAIL else item.recipient_phone
        )
        if not recipient:
            return NO_ADDRESS
        if item.scenario == NotificationScenario.UNSUBSCRIBE.value:
            subject, body = unsubscribe_confirmation(channel)
            markup = f"<p>{html.escape(body)}</p>"
            return OutgoingMessage(
                notification_id=item.id,
                channel=item.channel,
                recipient=recipient,
                subject=subject,
                body=body,
                html=_page(subject, markup) if channel is MarketingChannel.EMAIL else None,
            )
        async with self.db.read() as session:
            campaigns = MarketingRepository(session)
            campaign = await campaigns.campaign_of(item.id)
            if campaign is None:
                return NO_CAMPAIGN
            # Consent is asked again at send time: the campaign may wait in the queue,
            # and an unsubscribe meanwhile must win (seed 003).
            if item.customer_id is None or not await campaigns.still_sendable(
                item.customer_id, channel
            ):
                return NO_LONGER_SUBSCRIBED
            if self._key is None:
                self._key = await campaigns.signing_key()
        url = unsubscribe_url(self.public_url, sign_token(self._key, item.id))
        texts = marketing_texts(channel, campaign.subject, campaign.body, url)
        return OutgoingMessage(
            notification_id=item.id,
            channel=item.channel,
            recipient=recipient,
            subject=texts.subject,
            body=texts.body,
            html=_page(texts.subject, texts.html) if texts.html is not None else None,
            headers=texts.headers,
        )
