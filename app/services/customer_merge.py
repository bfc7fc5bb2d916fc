"""Likely duplicates, and folding one customer into another (seeds 002, 004: history stays)."""

from __future__ import annotations

import difflib
import enum
import uuid
from dataclasses import dataclass

from app.db.repositories.customers import CustomerRepository
from app.db.repositories.merge import MergeRepository
from app.domain.errors import ErrorCode, reject
from app.domain.records import Actor, CustomerRecord, CustomerStatus
from app.services.customer_lookup import live_customer
from app.services.loyalty_tiers import evaluate_after_merge
from app.services.sales_aggregates import customer_sales_moved
from app.services.text import email_key, name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork

# Two names this alike (0..1, difflib's ratio on folded names) with one birth date are
# likely one person: "Jon Smith" / "John Smith" is 0.95, "Ann Lee" / "Dan Lee" 0.86.
NAME_SIMILARITY = 0.85


class DuplicateReason(enum.StrEnum):
    SAME_PHONE = "SAME_PHONE"
    SAME_EMAIL = "SAME_EMAIL"
    SIMILAR_NAME_SAME_BIRTH_DATE = "SIMILAR_NAME_SAME_BIRTH_DATE"


@dataclass(frozen=True, slots=True)
class Duplicate:
    customer: CustomerRecord
    reasons: tuple[DuplicateReason, ...]


def similar_names(a: str, b: str) -> bool:
    """Alike letter by letter, or the same words in another order ("Lee Ann" / "Ann Lee")."""
    if sorted(a.split()) == sorted(b.split()):
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= NAME_SIMILARITY


async def find_duplicates(repo: CustomerRepository, customer: CustomerRecord) -> list[Duplicate]:
    reasons: dict[uuid.UUID, set[DuplicateReason]] = {}

    def add(customer_id: uuid.UUID, reason: DuplicateReason) -> None:
        if customer_id != customer.id:
            reasons.setdefault(customer_id, set()).add(reason)

    numbers = [
        customer.phone,
        *(p.phone for p in (await repo.phones_for([customer.id])).get(customer.id, [])),
    ]
    for holder in (await repo.owners_of_phones(numbers)).values():
        add(holder, DuplicateReason.SAME_PHONE)
    if customer.email:
        for holder in await repo.ids_by_email_key(email_key(customer.email)):
            add(holder, DuplicateReason.SAME_EMAIL)
    if customer.birth_date is not None:
        for other in await repo.same_birth_date(customer.birth_date):
            if similar_names(_folded(other), _folded(customer)):
                add(other.id, DuplicateReason.SIMILAR_NAME_SAME_BIRTH_DATE)
    found = await repo.get_many(list(reasons))
    return [
        Duplicate(found[i], tuple(sorted(reasons[i])))
        for i in sorted(reasons, key=str)
        if i in found and found[i].status is not CustomerStatus.MERGED
    ]


def _folded(customer: CustomerRecord) -> str:
    return name_key(customer.name)


class CustomerMergeService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def duplicates(self, customer_id: uuid.UUID) -> list[Duplicate]:
        async with self.tx.db.read() as session:
            repo = CustomerRepository(session)
            customer = await repo.get(customer_id)
            return [] if customer is None else await find_duplicates(repo, customer)

    async def merge(self, source_id: uuid.UUID, target_id: uuid.UUID) -> Result[CustomerRecord]:
        """Fold ``source`` into ``target``: its sales, points, cards, discount, groups, consent,
        numbers and audit trail move; ``source`` stays as a MERGED pointer to ``target``."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            if source_id == target_id:
                raise reject(
                    ErrorCode.INVALID, "A customer cannot be merged into itself.", "sourceId"
                )
            # Locked first: a merge the other way round (or into a third customer) waits,
            # then finds this one merged, instead of both committing a cycle.
            await uow.customers.lock([source_id, target_id])
            source = await live_customer(uow, source_id, "sourceId")
            target = await live_customer(uow, target_id, "targetId")
            merge = MergeRepository(uow.session)
            addresses = {"SMS"} | ({"EMAIL"} if target.email else set())
            # Marked before the move, while the sales still name the merged customer.
            await customer_sales_moved(uow, source_id)
            moved = {
                "sales": await merge.move_sales(source_id, target_id),
                "appointments": await merge.move_appointments(source_id, target_id),
                "points": await merge.move_points(source_id, target_id, uow.now),
                "loyaltyCard": await merge.move_cards(source_id, target_id, uow.now),
                "discountCode": await merge.move_discount(source_id, target_id),
                "photo": await merge.move_photo(source_id, target_id),
                "groups": [str(g) for g in await merge.move_groups(source_id, target_id)],
                "consent": await merge.move_consent(source_id, target_id, addresses),
                "otherPhones": await merge.move_phones(source_id, target_id),
                "onlineAccount": await uow.online_accounts.fold(source_id, target_id, uow.now),
            }
            moved["loyaltyTier"] = await evaluate_after_merge(uow, source_id, target_id)
            await merge.move_sales_stats(source_id, target_id)
            await merge.move_product_units(source_id, target_id)
            await merge.move_rest(source_id, target_id)
            await merge.move_audit(source_id, target_id)
            await merge.mark_merged(source_id, target_id, uow.now)
            # Stores that held the merged customer now hold the survivor too.
            for store_id in (await uow.sync.holders([source_id])).get(source_id, ()):
                uow.hold_in_store(store_id, target_id)
            await uow.audit(
                "customer",
                source_id,
                "merged_into",
                before={"status": source.status.value},
                after={"status": "MERGED", "mergedIntoId": str(target_id)},
            )
            await uow.audit(
                "customer",
                target_id,
                "merge",
                after={"mergedCustomerId": str(source_id), "mergedName": source.name, **moved},
            )
            merged = await uow.customers.get(target_id)
            assert merged is not None
            return merged

        return await self.tx.run(self.actor, work)
