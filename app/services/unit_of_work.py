"""One transaction per mutation: repositories on one session, audit, outbox, then jobs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database
from app.db.repositories.appointments import AppointmentRepository
from app.db.repositories.audit import AuditRepository
from app.db.repositories.business import BusinessSettingsRepository
from app.db.repositories.consents import ConsentRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.discounts import DiscountRepository
from app.db.repositories.groups import GroupRepository
from app.db.repositories.idempotency import IdempotencyRepository
from app.db.repositories.job_runs import JobRunRepository
from app.db.repositories.loyalty import LoyaltyRepository
from app.db.repositories.loyalty_tiers import LoyaltyTierRepository
from app.db.repositories.notifications import NotificationRepository
from app.db.repositories.online_accounts import OnlineAccountRepository
from app.db.repositories.outbox import OutboxRepository
from app.db.repositories.products import ProductRepository
from app.db.repositories.sales import SaleRepository
from app.db.repositories.sms_credits import SmsCreditRepository
from app.db.repositories.staff import StaffRepository
from app.db.repositories.stores import StoreRepository
from app.db.repositories.sync import SyncRepository
from app.db.repositories.webhooks import WebhookRepository
from app.domain.errors import Rejected, UserError
from app.domain.records import Actor, BusinessSettingsRecord
from app.domain.tiers import LoyaltyTierRecord
from app.domain.webhooks import WebhookEvent, event_from_customer_audit
from app.services.stamped_cache import StampedCache
from app.services.stamps import (
    AUTH,
    BUSINESS_SETTINGS,
    LOYALTY_TIERS,
    WEBHOOK_SUBSCRIPTIONS,
    VersionStamps,
)

log = logging.getLogger(__name__)

# Audit actions that end a customer's life in the feeds; any other action is a change.
FEED_KINDS = {"delete": "DELETED", "merged_into": "MERGED"}
# Audit actions that create the customer.
CREATING = {"create", "import"}
# Audit actions that record something done with a customer without changing them: no
# store's feed is told (a data export, issue 13).
UNCHANGING = {"data_export"}
PUBLISH_BATCH = 1000

# Active webhook endpoints and the events each takes.
Subscriptions = list[tuple[uuid.UUID, tuple[str, ...]]]

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobQueue(Protocol):
    """Where committed outbox rows are handed for running (arq, in app/jobs)."""

    async def enqueue(self, job_name: str, outbox_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Result(Generic[T]):
    value: T | None = None
    errors: list[UserError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class UnitOfWork:
    """The repositories of one transaction, plus the audit trail and the outbox."""

    def __init__(self, session: AsyncSession, actor: Actor | None) -> None:
        self.session = session
        self.actor = actor
        self.now = utcnow()
        self.customers = CustomerRepository(session)
        self.appointments = AppointmentRepository(session)
        self.consents = ConsentRepository(session)
        self.business = BusinessSettingsRepository(session)
        self.groups = GroupRepository(session)
        self.discounts = DiscountRepository(session)
        self.loyalty = LoyaltyRepository(session)
        self.tiers = LoyaltyTierRepository(session)
        self.products = ProductRepository(session)
        self.job_runs = JobRunRepository(session)
        self.staff = StaffRepository(session)
        self.stores = StoreRepository(session)
        self.notifications = NotificationRepository(session)
        self.online_accounts = OnlineAccountRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.sales = SaleRepository(session)
        self.sms_credits = SmsCreditRepository(session)
        self._audit = AuditRepository(session)
        self._outbox = OutboxRepository(session)
        self.outbox_messages: list[tuple[str, str]] = []
        self.sync = SyncRepository(session)
        # Customers this transaction changed, for the stores' change feeds.
        self._changed: dict[uuid.UUID, str] = {}
        self._held: set[tuple[uuid.UUID, uuid.UUID]] = set()
        # Customers this transaction created: invisible to others until it commits.
        self._created: set[uuid.UUID] = set()
        self.webhooks = WebhookRepository(session)
        # Events for webhook endpoints, queued as deliveries at the end (issue 10 §5).
        self.webhook_events: list[WebhookEvent] = []

    @property
    def stale(self) -> set[str]:
        """The stamps to bump once this transaction commits (app/services/stamps.py): the
        repositories know whether they wrote what the caches hold."""
        stale = set()
        if self.staff.grants_changed:
            stale.add(AUTH)
        if self.business.changed:
            stale.add(BUSINESS_SETTINGS)
        if self.webhooks.subscriptions_changed:
            stale.add(WEBHOOK_SUBSCRIPTIONS)
        if self.tiers.changed:
            stale.add(LOYALTY_TIERS)
        return stale

    @property
    def actor_id(self) -> str | None:
        actor = self.actor
        return str(actor.staff_user_id or actor.token_id) if actor else None

    @property
    def actor_label(self) -> str:
        """Who to name in records: the caller, or "system" for jobs and the CLI."""
        return self.actor.label if self.actor else "system"

    async def audit(
        self,
        entity_type: str,
        entity_id: object,
        action: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        await self._audit.insert(
            entity_type=entity_type,
            entity_id=str(entity_id),
            action=action,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            before=before,
            after=after,
        )
        if entity_type == "customer":
            self._customer_audited(entity_id, action, before, after)

    async def audit_changes(
        self,
        entity_type: str,
        entity_id: object,
        action: str,
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> list[str]:
        """Audit only the fields whose values differ, if any; the names of those fields."""
        changed = [k for k in after if after[k] != before.get(k)]
        if changed:
            await self.audit(
                entity_type,
                entity_id,
                action,
                before={k: before.get(k) for k in changed},
                after={k: after[k] for k in changed},
            )
        return changed

    async def audit_many(
        self,
        entity_type: str,
        action: str,
        entries: list[tuple[object, dict[str, Any] | None, dict[str, Any] | None]],
    ) -> None:
        """``audit`` for many entities at once: ``(entity_id, before, after)`` each."""
        actor_id, label = self.actor_id, self.actor_label
        await self._audit.insert_many(
            [
                {"entity_id": str(entity_id), "before": before, "after": after}
                for entity_id, before, after in entries
            ],
            {
                "entity_type": entity_type,
                "action": action,
                "actor_id": actor_id,
                "actor_label": label,
                "at": self.now,
            },
        )
        if entity_type == "customer":
            for entity_id, before, after in entries:
                self._customer_audited(entity_id, action, before, after)

    def _customer_audited(
        self,
        entity_id: object,
        action: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Every customer change is audited, so this is where the feeds and the webhooks
        learn of it."""
        if action in UNCHANGING:
            return
        customer_id = uuid.UUID(str(entity_id))
        if action in CREATING:
            self._created.add(customer_id)
        self.customer_changed(customer_id, FEED_KINDS.get(action, "CHANGED"))
        self.emit_webhook(
            event_from_customer_audit(str(entity_id), action, before, after, self.now)
        )

    def customer_changed(self, customer_id: uuid.UUID, kind: str = "CHANGED") -> None:
        self._changed[customer_id] = kind

    def hold_in_store(self, store_id: uuid.UUID, customer_id: uuid.UUID) -> None:
        """Add a customer to a store's set (it then arrives in that store's feed)."""
        self._held.add((store_id, customer_id))

    async def publish_changes(self) -> None:
        """Number this transaction's customer changes in every feed that holds them.

        The customers are locked before their holders are read (``lock_customers``): a
        store that starts holding one meanwhile (a download committing) is then either
        seen here or numbers its own row after this commit, so no store misses a change.
        Numbers come from each store's own counter, taken last, so commits in different
        stores never wait for each other and one store's commits queue only for the
        final statements. Customers created here need no lock: no one else sees them yet.
        """
        if not self._changed and not self._held:
            return
        held: dict[uuid.UUID, set[uuid.UUID]] = {}
        for store_id, customer_id in self._held:
            held.setdefault(customer_id, set()).add(store_id)
        ids = sorted(self._changed.keys() | held.keys(), key=str)
        # In slices: an import changes 100k customers, more than one IN list may bind.
        slices = [ids[start : start + PUBLISH_BATCH] for start in range(0, len(ids), PUBLISH_BATCH)]
        for batch in slices:
            await self.sync.lock_customers(
                [c for c in batch if c not in self._created], adding=bool(held)
            )
        entries: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
        for batch in slices:
            holders = await self.sync.holders(batch)
            for customer_id in batch:
                stores = holders.get(customer_id, {})
                kind = self._changed.get(customer_id)
                if kind is not None:
                    entries |= {
                        (s, customer_id): kind for s in stores.keys() | held.get(customer_id, set())
                    }
                else:
                    # Only newly held: numbered unless already in that store's feed.
                    entries |= {
                        (s, customer_id): "CHANGED"
                        for s in held[customer_id]
                        if not stores.get(s, False)
                    }
        # All stores' counters in one statement, after every lock above: one lock order.
        await self.sync.number(entries, self.now)
        self._changed.clear()
        self._held.clear()
        self._created.clear()

    async def publish_new_customers(self, homes: dict[uuid.UUID, uuid.UUID]) -> None:
        """Number customers this transaction created in their home store's feed, now.

        Until commit no other store can hold them, so ``publish_changes``' lock and
        look-up of holders have nothing to find; it then skips them. The stores' counters
        are taken here and held to commit, as there.
        """
        await self.sync.number({(s, c): "CHANGED" for c, s in homes.items()}, self.now)
        for customer_id in homes:
            self._changed.pop(customer_id, None)

    def emit_webhook(self, event: WebhookEvent | None) -> None:
        """Announce an event to webhook endpoints, if this transaction commits."""
        if event is not None:
            self.webhook_events.append(event)

    async def publish_webhook_events(self, cache: StampedCache[None, Subscriptions]) -> None:
        """One delivery row and one outbox row per subscribed endpoint and event.

        The subscriptions come from ``cache`` unless this transaction changed them: an
        entry read here could then hold what a rollback undoes.
        """
        if not self.webhook_events:
            return

        async def load() -> tuple[Subscriptions, None]:
            return await self.webhooks.active_subscriptions(), None

        if self.webhooks.subscriptions_changed:
            subscriptions, _ = await load()
        else:
            subscriptions = await cache.get(None, load) or []
        rows = [
            {
                "id": uuid.uuid4(),
                "endpoint_id": endpoint_id,
                "event_id": event.id,
                "event": event.type.value,
                "payload": event.body(),
                "status": "PENDING",
                "attempts": 0,
                "created_at": self.now,
            }
            for event in self.webhook_events
            for endpoint_id, events in subscriptions
            if event.type.value in events
        ]
        await self.webhooks.insert_deliveries(rows)
        for row in rows:
            await self.enqueue_job("deliver_webhook", {"delivery_id": str(row["id"])})
        self.webhook_events.clear()

    async def enqueue_job(self, job_name: str, payload: dict[str, Any]) -> None:
        """Write the job into the outbox; it reaches the queue only if this transaction commits."""
        message_id = await self._outbox.insert(job_name, payload)
        self.outbox_messages.append((job_name, str(message_id)))


class Transactions:
    """Runs units of work; holds the process's caches of what they may change.

    Without ``stamps`` (the command line, a bare worker) nothing is cached, and no
    process is told of the changes: none of those commands changes grants or settings.
    """

    def __init__(
        self,
        db: Database,
        queue: JobQueue | None,
        stamps: VersionStamps | None = None,
        *,
        cache_seconds: float = 0.0,
    ) -> None:
        self.db = db
        self.queue = queue
        self.stamps = stamps
        # Bearer token hash -> the grant behind it (app/services/auth.py resolve_actor).
        self.actors: StampedCache[str, Actor] = StampedCache(stamps, AUTH, max_age=cache_seconds)
        self.business_settings: StampedCache[None, BusinessSettingsRecord] = StampedCache(
            stamps, BUSINESS_SETTINGS, max_age=cache_seconds
        )
        # Which endpoints get which events: read by every transaction that emits events.
        self.webhook_subscriptions: StampedCache[None, Subscriptions] = StampedCache(
            stamps, WEBHOOK_SUBSCRIPTIONS, max_age=cache_seconds
        )
        # The loyalty tiers, by rank: every completed sale with a customer re-evaluates them.
        self.loyalty_tiers: StampedCache[None, tuple[LoyaltyTierRecord, ...]] = StampedCache(
            stamps, LOYALTY_TIERS, max_age=cache_seconds
        )

    async def run(
        self, actor: Actor | None, work: Callable[[UnitOfWork], Awaitable[T]]
    ) -> Result[T]:
        """Run ``work`` in one transaction; ``Rejected`` rolls back and becomes ``errors``.

        A unique-constraint race (two tills creating the same phone at once) is retried
        once: the second run's own checks then answer with the proper error or replay.
        """
        for attempt in (1, 2):
            try:
                async with self.db.write() as session:
                    uow = UnitOfWork(session, actor)
                    value = await work(uow)
                    await uow.publish_changes()
                    await uow.publish_webhook_events(self.webhook_subscriptions)
            except Rejected as rejected:
                return Result(errors=rejected.errors)
            except IntegrityError:
                if attempt == 2:
                    raise
                log.info("integrity conflict, retrying the unit of work once")
                continue
            # Before the caller hears of the change: its next request, on any process,
            # finds the stamp moved.
            if self.stamps is not None and (stale := uow.stale):
                await self.stamps.bump(stale)
            await self.dispatch(uow.outbox_messages)
            return Result(value=value)
        raise AssertionError("unreachable")

    async def dispatch(self, messages: list[tuple[str, str]]) -> None:
        """Hand committed outbox rows to the queue; failures are left for the relay."""
        if not messages or self.queue is None:
            return
        done: list[str] = []
        for job_name, message_id in messages:
            try:
                await self.queue.enqueue(job_name, message_id)
            except Exception:
                log.warning("enqueue failed; the outbox relay will retry", exc_info=True)
                continue
            done.append(message_id)
        if done:
            async with self.db.write() as session:
                await OutboxRepository(session).mark_enqueued(
                    [uuid.UUID(m) for m in done], utcnow()
                )
