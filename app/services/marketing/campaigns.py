"""``marketingMessageSend``: one mutation fixes the recipients and reserves their credits.

Recipients (``Audience``): the targeted customers (the group's members, or without a group
every customer subscribed on the channel) who are ACTIVE, SUBSCRIBED on the channel and
have an address for it; the rest of the targeted are counted as ``skipped``. Seed 003:
marketing goes only to customers whose consent was obtained, on the channel they gave.

The mutation writes the campaign, one notification per recipient (one executemany) and
one outbox row for the fan-out job; the job writes the delivery outbox rows in batches.
The notification rows are the snapshot of the recipients: a customer who subscribes
afterwards is not added, one who unsubscribes before the send is skipped at send time.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass

from app.db.repositories.marketing import MarketingRepository
from app.domain.errors import ErrorCode, UserError, reject
from app.domain.marketing import (
    CampaignRecord,
    body_problem,
    normalise_body,
    sms_marketing_text,
    subject_problem,
)
from app.domain.records import Actor, MarketingChannel, NotificationScenario
from app.domain.segments import CustomerSegment
from app.domain.sms import segment_count
from app.services import sms_credits
from app.services.idempotency import Operation, replay_or_reserve, request_hash
from app.services.unit_of_work import Result, Transactions, UnitOfWork

FAN_OUT_JOB = "fan_out_marketing"


@dataclass(frozen=True, slots=True)
class MarketingMessageSend:
    channel: MarketingChannel
    body: str
    # Email only; an SMS carries no subject.
    subject: str | None = None
    # None (and no segment): every customer subscribed on the channel.
    group_id: uuid.UUID | None = None
    # A customer segment (issue 11 §3) instead of a group.
    segment: CustomerSegment | None = None
    idempotency_key: str | None = None


def _problems(cmd: MarketingMessageSend, body: str, subject: str | None) -> list[UserError]:
    errors: list[UserError] = []
    problem = body_problem(body, cmd.channel)
    if problem:
        code = ErrorCode.REQUIRED if not body else ErrorCode.INVALID
        errors.append(UserError(code, problem, ("input", "body")))
    if cmd.channel is MarketingChannel.EMAIL:
        problem = subject_problem(subject or "")
        if problem:
            code = ErrorCode.REQUIRED if not subject else ErrorCode.INVALID
            errors.append(UserError(code, problem, ("input", "subject")))
    return errors


class MarketingService:
    def __init__(self, tx: Transactions, public_url: str, actor: Actor | None) -> None:
        self.tx = tx
        self.public_url = public_url
        self.actor = actor

    async def send(self, cmd: MarketingMessageSend) -> Result[CampaignRecord]:
        """Queue the shop's message to every recipient, or change nothing.

        An SMS campaign reserves segments x recipients at once, in this transaction;
        too few credits refuse it with INSUFFICIENT_SMS_CREDITS. A retry with the same
        idempotency key answers the first campaign and sends nothing more.
        """
        body = normalise_body(cmd.body)
        subject = (cmd.subject or "").strip() or None
        if cmd.channel is MarketingChannel.SMS:
            subject = None
        errors = _problems(cmd, body, subject)
        if errors:
            return Result(errors=errors)
        digest = request_hash(
            {k: v for k, v in asdict(cmd).items() if k not in {"idempotency_key", "body"}}
            | {"body": body, "subject": subject}
        )
        campaign_id = uuid.uuid4()

        async def work(uow: UnitOfWork) -> CampaignRecord:
            campaigns = MarketingRepository(uow.session)
            earlier = await replay_or_reserve(
                uow,
                Operation.MARKETING_MESSAGE_SEND,
                cmd.idempotency_key,
                digest,
                str(campaign_id),
                "input",
                "idempotencyKey",
            )
            if earlier is not None:
                found = await campaigns.get_campaign(uuid.UUID(earlier))
                assert found is not None  # campaigns are never deleted
                return found
            business = await uow.business.get()
            if not business.scenario_on(NotificationScenario.MARKETING, cmd.channel):
                raise reject(
                    ErrorCode.SCENARIO_OFF,
                    f"Marketing by {cmd.channel.value} is switched off in the business "
                    "settings (smsScenarios / emailScenarios).",
                    "input",
                    "channel",
                )
            if cmd.group_id is not None and cmd.segment is not None:
                raise reject(
                    ErrorCode.INVALID, "Target a group or a segment, not both.", "input", "segment"
                )
            if cmd.group_id is not None and await uow.groups.get(cmd.group_id) is None:
                raise reject(ErrorCode.NOT_FOUND, "No such customer group.", "input", "groupId")
            audience = await campaigns.audience(cmd.channel, cmd.group_id, cmd.segment)
            segments = 0
            if cmd.channel is MarketingChannel.SMS:
                segments = segment_count(sms_marketing_text(body, self.public_url))
            await campaigns.insert_campaign(
                campaign_id,
                channel=cmd.channel,
                group_id=cmd.group_id,
                segment=cmd.segment,
                subject=subject,
                body=body,
                recipients=len(audience.recipients),
                skipped=audience.skipped,
                sms_segments=segments,
                created_by_id=uow.actor_id,
                created_by=uow.actor_label,
                now=uow.now,
            )
            await _reserve(uow, campaign_id, segments * len(audience.recipients))
            await campaigns.insert_notifications(
                campaign_id, cmd.channel, audience.recipients, segments, uow.now
            )
            await uow.audit(
                "marketing_campaign",
                campaign_id,
                "send",
                after={
                    "channel": cmd.channel.value,
                    "groupId": str(cmd.group_id) if cmd.group_id else None,
                    "segment": cmd.segment.value if cmd.segment else None,
                    "recipients": len(audience.recipients),
                    "skipped": audience.skipped,
                    "smsSegments": segments,
                },
            )
            if audience.recipients:
                await uow.enqueue_job(FAN_OUT_JOB, {"campaign_id": str(campaign_id)})
            found = await campaigns.get_campaign(campaign_id)
            assert found is not None
            return found

        return await self.tx.run(self.actor, work)


async def _reserve(uow: UnitOfWork, campaign_id: uuid.UUID, total: int) -> None:
    """Hold the whole campaign's credits in one conditional UPDATE, or refuse it.

    Each notification then holds its own share (``notifications.sms_credits``), which its
    send spends or its failure or skip gives back, like any other SMS.
    """
    if not total:
        return
    if not await sms_credits.reserve(
        uow.sms_credits,
        uow.business,
        None,
        total,
        uow.now,
        reference=f"marketing campaign {campaign_id}",
        actor_id=uow.actor_id,
        actor_label=uow.actor_label,
    ):
        available = (await uow.sms_credits.get()).available
        raise reject(
            ErrorCode.INSUFFICIENT_SMS_CREDITS,
            f"This message needs {total} SMS credits and {available} are available; "
            "buy more (smsCreditsAdd) or send to fewer customers.",
            "input",
            "channel",
        )
