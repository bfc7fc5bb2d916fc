"""What the marketing tests share: the mutations, scenario switches, bulk subscribers."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import insert

from app.db.base import table_of
from app.db.models import Customer, MarketingConsent
from app.services.unit_of_work import UnitOfWork, utcnow

SEND = """
mutation($input: MarketingMessageInput!) {
  marketingMessageSend(input: $input) {
    campaignId recipients skipped
    errors { field code message }
  }
}"""
UNSUBSCRIBE = """
mutation($token: String!) {
  marketingUnsubscribe(token: $token) { channel unsubscribed errors { field code message } }
}"""
TOKEN = re.compile(r"token=([A-Za-z0-9_-]{43})")


async def scenarios(runtime: Any, email: list[str], sms: list[str]) -> None:
    """Switch scenarios per channel (the test's clean-up puts the migrated ones back).

    Through the repository in a unit of work: the settings stamp moves, so no process
    answers the cached settings afterwards."""

    async def work(uow: UnitOfWork) -> None:
        await uow.business.update({"email_scenarios": email, "sms_scenarios": sms})

    result = await runtime.tx.run(None, work)
    assert result.ok, result.errors


async def marketing_only(runtime: Any) -> None:
    """No registration messages: the tests count marketing notifications alone."""
    on = ["MARKETING", "UNSUBSCRIBE"]
    await scenarios(runtime, on, on)


async def bulk_subscribers(runtime: Any, count: int, channel: str = "EMAIL") -> None:
    """``count`` customers subscribed on ``channel``, written set-based (a factory call per
    customer would take minutes)."""
    now = utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    async with runtime.db.write() as session:
        await session.execute(
            insert(table_of(Customer)),
            [
                {
                    "id": customer_id,
                    "name": f"Bulk {n}",
                    "name_key": f"bulk {n}",
                    "phone": f"+1303{n:07d}",
                    "phone_reversed": f"+1303{n:07d}"[:0:-1],
                    "email": f"bulk{n}@example.com",
                    "email_key": f"bulk{n}@example.com",
                    "status": "ACTIVE",
                    "version": 1,
                    "allow_credit_sale": False,
                    "willing_to_receive": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, customer_id in enumerate(ids)
            ],
        )
        await session.execute(
            insert(table_of(MarketingConsent)),
            [
                {
                    "customer_id": customer_id,
                    "channel": channel,
                    "state": "SUBSCRIBED",
                    "changed_at": now,
                    "source": "IMPORT",
                    "actor_label": "test",
                }
                for customer_id in ids
            ],
        )


def token_in(text: str) -> str:
    found = TOKEN.search(text)
    assert found, text
    return found.group(1)
