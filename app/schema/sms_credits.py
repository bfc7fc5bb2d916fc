"""SMS credits (issue 10 §2, seed 003 "My SMS"): the balance and its top-up payload."""

from __future__ import annotations

import strawberry

from app.domain.errors import UserError as DomainUserError
from app.schema.errors import UserError, user_errors
from app.services.sms_credits import SmsCreditsRecord
from app.services.unit_of_work import Result


@strawberry.type(description="The shop's SMS credits, counted in message segments.")
class SmsCredits:
    available: int = strawberry.field(description="Credits free for new messages.")
    reserved: int = strawberry.field(
        description="Credits held by queued SMS: spent when sent, given back if not."
    )
    warning_threshold: int = strawberry.field(
        description="businessSettings.smsCreditWarningThreshold (0: never warn)."
    )
    low_balance: bool = strawberry.field(description="available is below warningThreshold.")

    @classmethod
    def from_record(cls, r: SmsCreditsRecord) -> SmsCredits:
        return cls(
            available=r.available,
            reserved=r.reserved,
            warning_threshold=r.warning_threshold,
            low_balance=r.low_balance,
        )


@strawberry.type
class SmsCreditsPayload:
    sms_credits: SmsCredits | None
    errors: list[UserError]

    @classmethod
    def from_result(cls, result: Result[SmsCreditsRecord]) -> SmsCreditsPayload:
        found = SmsCredits.from_record(result.value) if result.value else None
        return cls(sms_credits=found, errors=user_errors(result.errors))

    @classmethod
    def from_errors(cls, errors: list[DomainUserError]) -> SmsCreditsPayload:
        return cls(sms_credits=None, errors=user_errors(errors))
