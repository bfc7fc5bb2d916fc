"""Marketing sends and unsubscribe (issue 10 §4): the input and the two payloads."""

from __future__ import annotations

import strawberry

from app.domain import records
from app.domain.errors import UserError as DomainUserError
from app.domain.marketing import CampaignRecord
from app.schema.errors import UserError, user_errors
from app.schema.ids import parse_id
from app.schema.segment import CustomerSegment
from app.services.marketing.campaigns import MarketingMessageSend
from app.services.marketing.unsubscribe import UnsubscribeRecord
from app.services.unit_of_work import Result


@strawberry.input(description="The shop's message to its subscribers on one channel.")
class MarketingMessageInput:
    channel: records.MarketingChannel
    body: str = strawberry.field(
        description="Plain text (EMAIL up to 10,000 characters, SMS up to 1,000); an "
        "unsubscribe line with a link is added to every message."
    )
    subject: str | None = strawberry.field(
        default=None, description="EMAIL: required, one line, up to 150 characters. SMS: ignored."
    )
    group_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only this group's members; left out: every customer subscribed on "
        "the channel.",
    )
    segment: CustomerSegment | None = strawberry.field(
        default=None,
        description="Only the customers of this segment (as last classified); not with groupId.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key answers the first send and sends nothing again.",
    )

    def to_command(self) -> MarketingMessageSend:
        return MarketingMessageSend(
            channel=self.channel,
            body=self.body,
            subject=self.subject,
            group_id=parse_id(self.group_id) if self.group_id is not None else None,
            segment=self.segment,
            idempotency_key=self.idempotency_key,
        )


@strawberry.type
class MarketingMessagePayload:
    campaign_id: strawberry.ID | None = strawberry.field(
        description="The send's record: its notifications carry it."
    )
    recipients: int | None = strawberry.field(
        description="Customers the message is queued for: targeted, ACTIVE, SUBSCRIBED on "
        "the channel, with an address for it."
    )
    skipped: int | None = strawberry.field(
        description="Customers targeted (the group's members; without a group, everyone "
        "subscribed on the channel) who get nothing: not subscribed, no address for the "
        "channel, or not active."
    )
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[CampaignRecord]) -> MarketingMessagePayload:
        found = result.value
        if found is None:
            return cls.from_errors(result.errors)
        return cls(
            campaign_id=strawberry.ID(str(found.id)),
            recipients=found.recipients,
            skipped=found.skipped,
            errors=[],
        )

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> MarketingMessagePayload:
        return cls(campaign_id=None, recipients=None, skipped=None, errors=user_errors(errors))


@strawberry.type
class MarketingUnsubscribePayload:
    channel: records.MarketingChannel | None = strawberry.field(
        description="The channel the customer no longer receives marketing on."
    )
    unsubscribed: bool | None = strawberry.field(
        description="True when this call unsubscribed; false when it had already happened."
    )
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[UnsubscribeRecord]) -> MarketingUnsubscribePayload:
        found = result.value
        if found is None:
            return cls.from_errors(result.errors)
        return cls(channel=found.channel, unsubscribed=found.changed, errors=[])

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> MarketingUnsubscribePayload:
        return cls(channel=None, unsubscribed=None, errors=user_errors(errors))
