"""``marketingUnsubscribe`` and the /unsubscribe page: the customer's own "stop"."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.repositories.marketing import MarketingRepository
from app.domain.errors import ErrorCode, reject
from app.domain.marketing import unsubscribe_confirmation, verify_token
from app.domain.records import (
    ConsentSource,
    ConsentState,
    CustomerRecord,
    MarketingChannel,
    NotificationScenario,
)
from app.domain.sms import segment_count
from app.services import sms_credits
from app.services.unit_of_work import Result, Transactions, UnitOfWork

# Who the consent history names: no staff member did it.
UNSUBSCRIBE_LINK_ACTOR = "unsubscribe link"
# One answer for every token that does not work, so none reveals whether a customer or a
# message exists.
INVALID_LINK = "This unsubscribe link is not valid."


@dataclass(frozen=True, slots=True)
class UnsubscribeRecord:
    channel: MarketingChannel
    # False when the customer was already unsubscribed (a second click): nothing changed.
    changed: bool


class UnsubscribeService:
    def __init__(self, tx: Transactions) -> None:
        self.tx = tx

    async def unsubscribe(self, token: str) -> Result[UnsubscribeRecord]:
        """Unsubscribe the customer a marketing message went to, from its channel.

        Recorded in the consent history with source UNSUBSCRIBE_LINK, and confirmed by
        the UNSUBSCRIBE service message where that scenario is on for the channel. A
        second use changes nothing and confirms nothing again.
        """

        async def work(uow: UnitOfWork) -> UnsubscribeRecord:
            campaigns = MarketingRepository(uow.session)
            notification_id = verify_token(await campaigns.signing_key(), token.strip())
            target = (
                await campaigns.unsubscribe_target(notification_id) if notification_id else None
            )
            customer = await uow.customers.get(target.customer_id) if target else None
            if target is None or customer is None or customer.merged_into_id is not None:
                raise reject(ErrorCode.INVALID_TOKEN, INVALID_LINK, "token")
            channel = target.channel
            current = (await uow.consents.for_customers([customer.id])).get(customer.id, {})
            before = current.get(channel)
            if before is None or before.state is not ConsentState.SUBSCRIBED:
                return UnsubscribeRecord(channel=channel, changed=False)
            await uow.consents.put(
                customer.id,
                channel,
                ConsentState.UNSUBSCRIBED,
                at=uow.now,
                source=ConsentSource.UNSUBSCRIBE_LINK,
                actor_label=UNSUBSCRIBE_LINK_ACTOR,
            )
            # The same audit entry as a change at the till (and so the same webhook).
            field = f"consent{channel.value.title()}"
            await uow.audit(
                "customer",
                customer.id,
                "consent",
                before={field: before.state.value},
                after={
                    field: ConsentState.UNSUBSCRIBED.value,
                    "source": ConsentSource.UNSUBSCRIBE_LINK.value,
                },
            )
            business = await uow.business.get()
            if business.scenario_on(NotificationScenario.UNSUBSCRIBE, channel):
                await queue_confirmation(uow, customer, channel)
            return UnsubscribeRecord(channel=channel, changed=True)

        return await self.tx.run(None, work)


async def queue_confirmation(
    uow: UnitOfWork, customer: CustomerRecord, channel: MarketingChannel
) -> None:
    """Queue the UNSUBSCRIBE confirmation on the channel left: a service message, needing
    no marketing consent. An SMS reserves its credits here; with too few it is SKIPPED."""
    scenario = NotificationScenario.UNSUBSCRIBE.value
    if channel is MarketingChannel.SMS:
        segments = segment_count(unsubscribe_confirmation(channel)[1])
        notification_id = await uow.notifications.insert(
            customer.id, channel.value, scenario, sms_credits=segments
        )
        if not await sms_credits.reserve(
            uow.sms_credits, uow.business, notification_id, segments, uow.now
        ):
            await uow.sms_credits.hold_for(notification_id, 0)
            await uow.notifications.settle(
                notification_id, status="SKIPPED", error=sms_credits.NO_SMS_CREDITS
            )
            return
    else:
        notification_id = await uow.notifications.insert(customer.id, channel.value, scenario)
    await uow.enqueue_job("deliver_notification", {"notification_id": str(notification_id)})
