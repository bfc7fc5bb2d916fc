"""The registration message never goes to an address another customer has (issue 9 §7).

It tells how to sign in to the online store (seed 003); it had been sent to an address that
belonged to another customer, handing them the new customer's account.
"""

from __future__ import annotations

from typing import Any

from app.services.customer_merge import CustomerMergeService
from app.services.customers import CustomerCreate, CustomerUpdate
from app.services.notifications import SHARED_ADDRESS
from app.services.sms_credits import NO_SMS_CREDITS
from tests.jobs.test_outbox_pipeline import RecordingGateway, outbox_rows, run_worker


async def notifications(raw_sql: Any) -> list[tuple[str, str, str | None]]:
    rows = await raw_sql(
        "SELECT c.name, n.status, n.error FROM notifications n "
        "JOIN customers c ON c.id = n.customer_id ORDER BY c.name, n.channel"
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_an_email_another_customer_has_gets_no_registration_message(
    factory, runtime, raw_sql
) -> None:
    gateway = RecordingGateway()
    await factory.customer(name="A Parent", phone="+12125550101", email="family@example.com")
    await run_worker(runtime, gateway)
    await factory.customer(name="B Child", phone="+12125550102", email="Family@Example.com")
    await run_worker(runtime, gateway)
    # The email skipped, the chain went on to the SMS (with no credits bought, skipped).
    assert await notifications(raw_sql) == [
        ("A Parent", "SENT", None),
        ("B Child", "SKIPPED", SHARED_ADDRESS),
        ("B Child", "SKIPPED", NO_SMS_CREDITS),
    ]
    assert len(await outbox_rows(raw_sql)) == 1  # no job for the skipped one
    # Only the first owner of the address heard from us, about their own account.
    assert [(m.recipient, m.body.split(",")[0]) for m in gateway.sent] == [
        ("family@example.com", "Hello A Parent")
    ]


async def test_an_address_shared_by_the_time_of_sending_gets_nothing(
    factory, runtime, raw_sql
) -> None:
    # Queued while the address was the new customer's alone; by the time the worker runs,
    # another customer has it too. Addresses are read at send time, so it is asked again,
    # and neither of the two is sent sign-in instructions to an address both have.
    other = await factory.customer(name="A Other", phone="+12125550103", email="a@example.com")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    await factory.customer(name="B New", phone="+12125550104", email="new@example.com")
    changed = await factory.customers().update(
        other.id, CustomerUpdate(expected_version=other.version, email="NEW@example.com")
    )
    assert changed.errors == []
    await run_worker(runtime, gateway)
    assert [m.recipient for m in gateway.sent] == ["a@example.com"]
    assert await notifications(raw_sql) == [
        ("A Other", "SENT", None),
        ("B New", "SKIPPED", SHARED_ADDRESS),
        ("B New", "SKIPPED", NO_SMS_CREDITS),
    ]


async def test_a_number_cannot_be_another_customers_at_registration(
    factory, runtime, raw_sql
) -> None:
    # Numbers are unique across main and other phones, merged ones included: a new
    # customer with someone's number is refused, so no message can go to it.
    survivor = await factory.customer(name="A Survivor", phone="+12125550105")
    merged = await factory.customer(name="B Merged", phone="+12125550106")
    folded = await CustomerMergeService(runtime.tx, None).merge(merged.id, survivor.id)
    assert folded.errors == []
    before = await notifications(raw_sql)
    for number in ("+12125550105", "+12125550106"):
        refused = await factory.customers().create(CustomerCreate(name="C New", phone=number))
        assert [e.code.value for e in refused.errors] == ["PHONE_TAKEN"]
    assert await notifications(raw_sql) == before
