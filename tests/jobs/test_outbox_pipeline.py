"""The outbox: written in the mutation's transaction, enqueued after commit, relayed if need be."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from arq import Retry
from arq.connections import ArqRedis
from sqlalchemy import text

from app.domain.permissions import Permission
from app.jobs.notifications import deliver_notification
from app.jobs.queue import ArqJobQueue
from app.jobs.worker import build_worker
from app.services.customers import CustomerCreate, CustomerService
from app.services.gateways import DeliveryFailed, OutgoingMessage
from app.services.notifications import MAX_ATTEMPTS, NotificationDelivery
from app.services.outbox import relay_pending
from app.services.unit_of_work import Transactions


@pytest.fixture(autouse=True)
async def _credits(factory: Any) -> None:
    # Most customers here have only a phone: their registration SMS needs credits.
    await factory.sms_credits(100)


class RecordingGateway:
    """The allowed fake: email/SMS providers are outside our walls."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failure = failure

    async def send(self, message: OutgoingMessage) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(message)


async def run_worker(runtime: Any, gateway: RecordingGateway) -> None:
    worker = build_worker(
        runtime.settings, runtime.redis_url, db=runtime.db, gateway=gateway, burst=True
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def outbox_rows(raw_sql: Any) -> list[Any]:
    return await raw_sql("SELECT id, job_name, enqueued_at, processed_at FROM outbox")


async def test_customer_create_queues_a_registration_message_sent_once(
    gql, factory, runtime, raw_sql
) -> None:
    token = await factory.token(Permission.CUSTOMER_ADD)
    created = await gql(
        'mutation { customerCreate(input: {name: "Ada", phone: "2125550100", '
        'email: "ada@example.com"}) { customer { id } errors { code } } }',
        token=token,
    )
    assert created["data"]["customerCreate"]["errors"] == []
    [(outbox_id, job, enqueued_at, processed_at)] = await outbox_rows(raw_sql)
    assert job == "deliver_notification"
    assert enqueued_at is not None
    assert processed_at is None
    # The outbox id is the arq job id: arq drops a second enqueue of it (relay and commit race).
    [job_id] = await runtime.redis.zrange(runtime.settings.queue_name, 0, -1)
    assert uuid.UUID(job_id.decode()) == uuid.UUID(str(outbox_id))
    assert await raw_sql("SELECT status, channel, attempts FROM notifications") == [
        ("QUEUED", "EMAIL", 0)
    ]

    gateway = RecordingGateway()
    await run_worker(runtime, gateway)

    assert [(m.channel, m.recipient) for m in gateway.sent] == [("EMAIL", "ada@example.com")]
    assert await raw_sql("SELECT status, attempts FROM notifications") == [("SENT", 1)]
    [(_, _, _, processed_at)] = await outbox_rows(raw_sql)
    assert processed_at is not None

    # Delivered again (arq is at-least-once): nothing more is sent.
    outcome = await NotificationDelivery(runtime.db, gateway).deliver(
        uuid.UUID(str(outbox_id)), attempt=1
    )
    assert outcome.status == "SENT"
    assert len(gateway.sent) == 1


async def test_without_email_the_registration_message_goes_by_sms(gql, factory, runtime, raw_sql):
    token = await factory.token(Permission.CUSTOMER_ADD)
    await gql(
        'mutation { customerCreate(input: {name: "Bo", phone: "2125550101"}) { errors { code } } }',
        token=token,
    )
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    assert [(m.channel, m.recipient) for m in gateway.sent] == [("SMS", "+12125550101")]


async def test_a_job_whose_enqueue_fails_at_commit_runs_later_exactly_once(
    runtime, raw_sql
) -> None:
    # A queue on a Redis that is not there: the post-commit enqueue really fails.
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    tx = Transactions(runtime.db, ArqJobQueue(dead, runtime.settings.queue_name))
    result = await CustomerService(tx, runtime.settings, actor=None).create(
        CustomerCreate(name="Cy", phone="2125550102", email="cy@example.com")
    )
    await dead.aclose()
    assert result.errors == []
    [(outbox_id, _, enqueued_at, processed_at)] = await outbox_rows(raw_sql)
    assert enqueued_at is None  # the change is committed, the job waits in the outbox
    assert processed_at is None

    assert await runtime.redis.zcard(runtime.settings.queue_name) == 0  # nothing reached Redis

    assert await relay_pending(runtime.tx, grace_seconds=0) == 1
    assert await runtime.redis.zcard(runtime.settings.queue_name) == 1
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    assert [m.recipient for m in gateway.sent] == ["cy@example.com"]

    assert await relay_pending(runtime.tx, grace_seconds=0) == 0  # enqueued: not again
    await run_worker(runtime, gateway)
    assert len(gateway.sent) == 1
    assert await raw_sql("SELECT status, attempts FROM notifications") == [("SENT", 1)]
    [(_, _, enqueued_at, processed_at)] = await outbox_rows(raw_sql)
    assert enqueued_at is not None
    assert processed_at is not None
    assert str(outbox_id)


async def test_the_workers_periodic_relay_picks_up_what_missed_redis(runtime, raw_sql) -> None:
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    tx = Transactions(runtime.db, ArqJobQueue(dead, runtime.settings.queue_name))
    await CustomerService(tx, runtime.settings, actor=None).create(
        CustomerCreate(name="Fa", phone="2125550104", email="fa@example.com")
    )
    await dead.aclose()
    gateway = RecordingGateway()
    # No manual relay: the worker's relay_outbox cron (run at start-up) finds the row.
    await run_worker(runtime, gateway)
    await run_worker(runtime, gateway)
    assert [m.recipient for m in gateway.sent] == ["fa@example.com"]


async def test_the_relay_leaves_fresh_rows_to_the_post_commit_enqueue(runtime, factory, raw_sql):
    dead = ArqRedis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    tx = Transactions(runtime.db, ArqJobQueue(dead, runtime.settings.queue_name))
    await CustomerService(tx, runtime.settings, actor=None).create(
        CustomerCreate(name="Di", phone="2125550103")
    )
    await dead.aclose()
    # Within the grace period a live request may still be enqueueing it.
    assert await relay_pending(runtime.tx, grace_seconds=3600) == 0
    assert await relay_pending(runtime.tx, grace_seconds=0) == 1


async def test_a_rejected_mutation_writes_no_outbox_row(gql, factory, raw_sql) -> None:
    token = await factory.token(Permission.CUSTOMER_ADD)
    refused = await gql(
        'mutation { customerCreate(input: {name: "", phone: "x"}) { errors { code } } }',
        token=token,
    )
    assert {e["code"] for e in refused["data"]["customerCreate"]["errors"]} == {
        "REQUIRED",
        "PHONE_INVALID",
    }
    assert await outbox_rows(raw_sql) == []
    assert await raw_sql("SELECT count(*) FROM notifications") == [(0,)]


async def test_a_gateway_failure_is_retried_and_a_permanent_one_recorded(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ed", email="ed@example.com")
    [(outbox_id, _, _, _)] = await outbox_rows(raw_sql)
    message_id = uuid.UUID(str(outbox_id))

    passing = NotificationDelivery(runtime.db, RecordingGateway(DeliveryFailed("timeout")))
    outcome = await passing.deliver(message_id, attempt=1)
    assert outcome.retry
    assert await raw_sql("SELECT status FROM notifications") == [("QUEUED",)]
    [(_, _, _, processed_at)] = await outbox_rows(raw_sql)
    assert processed_at is None  # the retry must still find it open
    # Only arq's Retry makes arq run the job again; a return value would end it.
    with pytest.raises(Retry):
        await deliver_notification(
            {"delivery": passing, "job_try": 2, "settings": runtime.settings}, str(outbox_id)
        )

    final = RecordingGateway(DeliveryFailed("mailbox does not exist", permanent=True))
    outcome = await NotificationDelivery(runtime.db, final).deliver(message_id, attempt=2)
    assert outcome.status == "FAILED"
    assert not outcome.retry
    assert await raw_sql("SELECT channel, status, error FROM notifications ORDER BY channel") == [
        ("EMAIL", "FAILED", "mailbox does not exist"),
        # Failed for good: the registration chain goes on by SMS.
        ("SMS", "QUEUED", None),
    ]
    # Final: a later run of the job (an arq redelivery) does not try again.
    again = RecordingGateway()
    await NotificationDelivery(runtime.db, again).deliver(message_id, attempt=3)
    assert again.sent == []
    assert await raw_sql("SELECT count(*) FROM notifications") == [(2,)]


async def test_a_transient_failure_on_the_last_attempt_is_final(factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ed", email="ed@example.com")
    [(outbox_id, _, _, _)] = await outbox_rows(raw_sql)
    failing = RecordingGateway(DeliveryFailed("timeout"))
    outcome = await NotificationDelivery(runtime.db, failing).deliver(
        uuid.UUID(str(outbox_id)), attempt=MAX_ATTEMPTS
    )
    assert outcome.status == "FAILED"
    assert not outcome.retry
    assert await raw_sql("SELECT status, error FROM notifications WHERE channel = 'EMAIL'") == [
        ("FAILED", "timeout")
    ]


async def test_a_gateway_that_breaks_is_retried_and_recorded_without_its_message(
    factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Ed", email="ed@example.com")
    [(outbox_id, _, _, _)] = await outbox_rows(raw_sql)
    broken = RecordingGateway(RuntimeError("ed@example.com broke it"))
    outcome = await NotificationDelivery(runtime.db, broken).deliver(
        uuid.UUID(str(outbox_id)), attempt=1
    )
    assert outcome.retry
    assert await raw_sql("SELECT status, attempts, error FROM notifications") == [
        ("QUEUED", 1, "internal error in the gateway")
    ]
    assert await raw_sql("SELECT number, gateway, outcome FROM notification_attempts") == [
        (1, "RecordingGateway", "TRANSIENT")
    ]


async def test_jobs_run_together_are_claimed_and_settled_together_and_a_broken_row_fails_alone(
    factory, runtime, raw_sql
) -> None:
    for n in range(3):
        await factory.customer(name=f"Ada {n}", phone=f"212555011{n}", email=f"ada{n}@example.com")
    outbox_ids = [uuid.UUID(str(row[0])) for row in await raw_sql("SELECT id FROM outbox")]
    broken = outbox_ids[1]
    async with runtime.db.write() as session:
        # A row whose payload names no notification, as a bug elsewhere might write it.
        await session.execute(
            text("UPDATE outbox SET payload = :payload WHERE id = :id"),
            {"payload": "{}", "id": broken if runtime.db.dialect != "sqlite" else broken.hex},
        )
    gateway = RecordingGateway()
    delivery = NotificationDelivery(runtime.db, gateway)
    # At once, as a worker runs them: one batch, which fails on the broken row and is
    # then done one job at a time.
    outcomes = await asyncio.gather(
        *(delivery.deliver(outbox_id, attempt=1) for outbox_id in outbox_ids),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], KeyError)
    assert [o.status for o in (outcomes[0], outcomes[2]) if not isinstance(o, BaseException)] == [
        "SENT",
        "SENT",
    ]
    assert len({m.recipient for m in gateway.sent}) == len(gateway.sent) == 2
    assert sorted(await raw_sql("SELECT status, attempts FROM notifications")) == [
        ("QUEUED", 0),
        ("SENT", 1),
        ("SENT", 1),
    ]
    assert await raw_sql("SELECT number, outcome FROM notification_attempts") == [
        (1, "SENT"),
        (1, "SENT"),
    ]
    assert await raw_sql("SELECT count(*) FROM outbox WHERE processed_at IS NULL") == [(1,)]
