from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.bulk import insert_rows
from app.db.models import (
    Customer,
    CustomerAddress,
    CustomerGroupMember,
    CustomerNameWord,
    CustomerPhone,
    CustomerSegmentRow,
    LoyaltyCard,
    PointsEntry,
    Sale,
)
from app.db.models.customer import reversed_digits
from app.db.repositories.paging import (
    after_key_and_id,
    after_rank_key_and_id,
    encode_cursor,
    pages_by_parent,
)
from app.domain.records import (
    AddressRecord,
    ContactChannel,
    CustomerRecord,
    CustomerStatus,
    Gender,
    Page,
    PhoneRecord,
)
from app.domain.segments import CustomerSegment

# The advisory lock key standing for "all phone numbers" (any fixed bigint will do).
ALL_PHONES = 0x706F7363726D0001


def _record(row: Customer) -> CustomerRecord:
    return CustomerRecord(
        id=row.id,
        name=row.name,
        phone=row.phone,
        email=row.email,
        customer_code=row.customer_code,
        status=CustomerStatus(row.status),
        version=row.version,
        home_store_id=row.home_store_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        first_name=row.first_name,
        last_name=row.last_name,
        birth_date=row.birth_date,
        gender=Gender(row.gender) if row.gender else None,
        pan=row.pan,
        gstin=row.gstin,
        state_code=row.state_code,
        reg_no=row.reg_no,
        vat_no=row.vat_no,
        allow_credit_sale=row.allow_credit_sale,
        credit_limit=row.credit_limit,
        preferred_channel=ContactChannel(row.preferred_channel) if row.preferred_channel else None,
        willing_to_receive=row.willing_to_receive,
        remarks=row.remarks,
        merged_into_id=row.merged_into_id,
        loyalty_opt_out=row.loyalty_opt_out,
    )


# For repositories that read the customers table joined with more (a Core row will do).
customer_record = _record


def _name_cursor(row: Customer) -> str:
    """The cursor of the customer list's order (name, then id)."""
    return encode_cursor(row.name_key, row.id.hex)


def _prefix_range(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column LIKE 'p%'`` as an index range; LIKE cannot use a default-collation index."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def _with_phone_key(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the reversed number beside a phone being written: the two never part."""
    if "phone" not in values:
        return values
    return {**values, "phone_reversed": reversed_digits(values["phone"])}


def _phone_row(customer_id: uuid.UUID, position: int, phone: PhoneRecord) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "position": position,
        "phone": phone.phone,
        "phone_reversed": reversed_digits(phone.phone),
        "label": phone.label,
    }


def _name_words(customer_id: uuid.UUID, name_key: str) -> list[dict[str, Any]]:
    return [
        {"customer_id": customer_id, "word": word[:200]} for word in sorted(set(name_key.split()))
    ]


@dataclass(frozen=True, slots=True)
class CustomerSearch:
    """What one search term may mean; a customer matching any of them is found."""

    # E.164 beginnings (a range each); only for callers who may see whole numbers.
    phone_prefixes: tuple[str, ...] = ()
    # Whole E.164 numbers (equality).
    phones: tuple[str, ...] = ()
    # The last digits said aloud, reversed: a range on phone_reversed.
    phone_suffix_reversed: str | None = None
    name_key: str | None = None
    email_key: str | None = None
    customer_code: str | None = None
    # Upper-cased, as cards are stored; only working (ACTIVE) cards find anyone.
    card_number: str | None = None
    # A word's beginning as an email's (a range); only for callers who may see emails.
    email_prefix: str | None = None
    # The business's customerSearchFirst: phone and email matches before name, code and
    # card ones (PHONE), or after them (NAME).
    contact_first: bool = True


@dataclass(frozen=True, slots=True)
class CustomerFilterSpec:
    status: CustomerStatus | None = None
    home_store_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    segment: CustomerSegment | None = None


class CustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, customer_id: uuid.UUID) -> CustomerRecord | None:
        row = await self.session.get(Customer, customer_id, populate_existing=True)
        return _record(row) if row else None

    async def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerRecord]:
        rows = await self.session.scalars(select(Customer).where(Customer.id.in_(ids)))
        return {r.id: _record(r) for r in rows}

    async def id_by_phone(self, phone: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(Customer.id).where(Customer.phone == phone)
        )
        return found

    async def lock(self, customer_ids: list[uuid.UUID]) -> None:
        """Row locks in id order (PostgreSQL), so two commands on the same pair queue."""
        if self.session.get_bind().dialect.name == "sqlite":
            return  # the one writer already serialises write transactions
        await self.session.execute(
            select(Customer.id)
            .where(Customer.id.in_(customer_ids))
            .order_by(Customer.id)
            .with_for_update()
        )

    async def lock_phones(self, phones: list[str]) -> None:
        """Hold each number until commit (PostgreSQL advisory locks, in a fixed order).

        A number is unique across two tables (main and other phones), which no index
        spans: without this, one transaction could take a number as a main phone while
        another takes it as an other phone, both having checked that it was free.
        """
        if not phones or self.session.get_bind().dialect.name == "sqlite":
            return  # the one writer already serialises write transactions
        # Shared: many tills at once; an import takes it exclusively (lock_all_phones).
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": ALL_PHONES}
        )
        await self.session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(p, 0)) "
                "FROM (SELECT DISTINCT unnest(CAST(:phones AS text[])) AS p ORDER BY p) AS n"
            ),
            {"phones": sorted(set(phones))},
        )

    async def lock_all_phones(self) -> None:
        """Every number at once, for a bulk import: one lock instead of 100,000."""
        if self.session.get_bind().dialect.name != "sqlite":
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ALL_PHONES})

    async def refresh_statistics(self) -> None:
        """PostgreSQL: fresh planner statistics for the tables looked up by number.

        An import grows them from few rows to many within minutes, long before
        autovacuum's analyze: planned on the stale counts, each batch's look-up of 1,000
        numbers scanned the whole table (64 s of a 100k import, against ~1 s). SQLite's
        planner takes the unique index whatever the counts.
        """
        if self.session.get_bind().dialect.name != "sqlite":
            await self.session.execute(text("ANALYZE customers, customer_phones"))

    async def owners_of_phones(self, phones: list[str]) -> dict[str, uuid.UUID]:
        """Who holds each number, as a main phone or as an extra one."""
        found: dict[str, uuid.UUID] = {}
        main = await self.session.execute(
            select(Customer.phone, Customer.id).where(Customer.phone.in_(phones))
        )
        extra = await self.session.execute(
            select(CustomerPhone.phone, CustomerPhone.customer_id).where(
                CustomerPhone.phone.in_(phones)
            )
        )
        for phone, customer_id in [*main, *extra]:
            found[phone] = customer_id
        return found

    async def addresses_for(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[AddressRecord]]:
        rows = await self.session.scalars(
            select(CustomerAddress)
            .where(CustomerAddress.customer_id.in_(customer_ids))
            .order_by(CustomerAddress.customer_id, CustomerAddress.position)
        )
        found: dict[uuid.UUID, list[AddressRecord]] = defaultdict(list)
        for row in rows:
            found[row.customer_id].append(
                AddressRecord(
                    line1=row.line1,
                    line2=row.line2,
                    city=row.city,
                    region=row.region,
                    postal_code=row.postal_code,
                    country=row.country,
                    label=row.label,
                )
            )
        return found

    async def phones_for(self, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PhoneRecord]]:
        rows = await self.session.scalars(
            select(CustomerPhone)
            .where(CustomerPhone.customer_id.in_(customer_ids))
            .order_by(CustomerPhone.customer_id, CustomerPhone.position)
        )
        found: dict[uuid.UUID, list[PhoneRecord]] = defaultdict(list)
        for row in rows:
            found[row.customer_id].append(PhoneRecord(phone=row.phone, label=row.label))
        return found

    async def replace_addresses(
        self, customer_id: uuid.UUID, addresses: tuple[AddressRecord, ...]
    ) -> None:
        await self.session.execute(
            delete(CustomerAddress).where(CustomerAddress.customer_id == customer_id)
        )
        if addresses:
            await self.session.execute(
                insert(CustomerAddress),
                [
                    {"id": uuid.uuid4(), "customer_id": customer_id, "position": i, **asdict(a)}
                    for i, a in enumerate(addresses)
                ],
            )

    async def replace_phones(self, customer_id: uuid.UUID, phones: tuple[PhoneRecord, ...]) -> None:
        await self.session.execute(
            delete(CustomerPhone).where(CustomerPhone.customer_id == customer_id)
        )
        if phones:
            await self.session.execute(
                insert(CustomerPhone),
                [_phone_row(customer_id, i, p) for i, p in enumerate(phones)],
            )

    async def same_birth_date(self, birth_date: date, limit: int = 200) -> list[CustomerRecord]:
        rows = await self.session.scalars(
            select(Customer)
            .where(Customer.birth_date == birth_date, Customer.status != "MERGED")
            .limit(limit)
        )
        return [_record(r) for r in rows]

    async def address_held_by_another(
        self, customer_id: uuid.UUID, email_key: str | None, phone: str | None
    ) -> bool:
        """Whether any other customer row (a merged pointer too) has this email or number,
        as a main or an other phone: each an index lookup."""
        held = []
        if email_key:
            held.append(exists().where(Customer.email_key == email_key, Customer.id != customer_id))
        if phone:
            held.append(exists().where(Customer.phone == phone, Customer.id != customer_id))
            held.append(
                exists().where(
                    CustomerPhone.phone == phone, CustomerPhone.customer_id != customer_id
                )
            )
        return bool(held) and bool(await self.session.scalar(select(or_(*held))))

    async def addresses_held_by_others(
        self, holders: list[tuple[uuid.UUID, str | None, str | None]]
    ) -> set[uuid.UUID]:
        """``address_held_by_another`` for many (customer id, email key, phone) at once: the
        customer ids whose email or number another customer row has. One statement of
        index lookups; the rows found are matched here."""
        keys = {key for _, key, _ in holders if key}
        phones = {phone for _, _, phone in holders if phone}
        if not keys and not phones:
            return set()
        parts = []
        if keys:
            parts.append(
                select(literal("e"), Customer.email_key, Customer.id).where(
                    Customer.email_key.in_(keys)
                )
            )
        if phones:
            parts.append(
                select(literal("p"), Customer.phone, Customer.id).where(Customer.phone.in_(phones))
            )
            parts.append(
                select(literal("p"), CustomerPhone.phone, CustomerPhone.customer_id).where(
                    CustomerPhone.phone.in_(phones)
                )
            )
        holding: dict[tuple[str, str | None], set[uuid.UUID]] = defaultdict(set)
        for kind, value, holder in await self.session.execute(union_all(*parts)):
            holding[(kind, value)].add(holder)
        return {
            customer_id
            for customer_id, key, phone in holders
            if (key and holding[("e", key)] - {customer_id})
            or (phone and holding[("p", phone)] - {customer_id})
        }

    async def ids_by_email_key(self, key: str) -> list[uuid.UUID]:
        return list(
            await self.session.scalars(select(Customer.id).where(Customer.email_key == key))
        )

    async def id_by_code(self, code: str) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(Customer.id).where(Customer.customer_code == code)
        )
        return found

    async def insert(self, **values: Any) -> CustomerRecord:
        row = Customer(**_with_phone_key(values))
        self.session.add(row)
        await self.session.flush()
        await self._index_words(row.id, row.name_key)
        return _record(row)

    async def _index_words(self, customer_id: uuid.UUID, name_key: str) -> None:
        await self.session.execute(
            delete(CustomerNameWord).where(CustomerNameWord.customer_id == customer_id)
        )
        words = _name_words(customer_id, name_key)
        if words:
            await self.session.execute(insert(CustomerNameWord), words)

    async def update_if_version(
        self, customer_id: uuid.UUID, expected_version: int, values: dict[str, Any]
    ) -> bool:
        """Apply ``values`` only if nobody changed the row since ``expected_version``."""
        result = await self.session.execute(
            update(Customer)
            .where(Customer.id == customer_id, Customer.version == expected_version)
            .values(**_with_phone_key(values), version=Customer.version + 1)
            .execution_options(synchronize_session=False)
        )
        changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed and "name_key" in values:
            await self._index_words(customer_id, values["name_key"])
        return changed

    async def has_loyalty_history(self, customer_id: uuid.UUID) -> bool:
        """A card (its number is never reused) or any points entry: records to keep."""
        card = exists().where(LoyaltyCard.customer_id == customer_id)
        points = exists().where(PointsEntry.customer_id == customer_id)
        return bool(await self.session.scalar(select(or_(card, points))))

    async def has_sales(self, customer_id: uuid.UUID) -> bool:
        return bool(
            await self.session.scalar(select(exists().where(Sale.customer_id == customer_id)))
        )

    async def delete(self, customer_id: uuid.UUID) -> bool:
        result = await self.session.execute(delete(Customer).where(Customer.id == customer_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _matches(search: CustomerSearch) -> tuple[list[Select[Any]], list[Select[Any]]]:
        """The index lookups of a term's meanings, as (contact details, the rest): a phone
        or an email, and a name, a customer code or a card number. Which comes first in
        the results is the business's ``customerSearchFirst``."""
        contact: list[Select[Any]] = [
            select(Customer.id).where(_prefix_range(Customer.phone, p))
            for p in search.phone_prefixes
        ] + [
            select(CustomerPhone.customer_id).where(_prefix_range(CustomerPhone.phone, p))
            for p in search.phone_prefixes
        ]
        if search.phones:
            contact.append(select(Customer.id).where(Customer.phone.in_(search.phones)))
            contact.append(
                select(CustomerPhone.customer_id).where(CustomerPhone.phone.in_(search.phones))
            )
        if search.phone_suffix_reversed:
            suffix = search.phone_suffix_reversed
            contact.append(
                select(Customer.id).where(_prefix_range(Customer.phone_reversed, suffix))
            )
            contact.append(
                select(CustomerPhone.customer_id).where(
                    _prefix_range(CustomerPhone.phone_reversed, suffix)
                )
            )
        if search.email_key:
            contact.append(select(Customer.id).where(Customer.email_key == search.email_key))
        if search.email_prefix:
            contact.append(
                select(Customer.id).where(_prefix_range(Customer.email_key, search.email_prefix))
            )
        named: list[Select[Any]] = []
        if search.name_key:
            named.append(
                select(Customer.id).where(_prefix_range(Customer.name_key, search.name_key))
            )
            if " " not in search.name_key:
                # Any word of the name, e.g. "smi" finds "John Smith".
                named.append(
                    select(CustomerNameWord.customer_id).where(
                        _prefix_range(CustomerNameWord.word, search.name_key)
                    )
                )
        if search.customer_code:
            named.append(select(Customer.id).where(Customer.customer_code == search.customer_code))
        if search.card_number:
            named.append(
                select(LoyaltyCard.customer_id).where(
                    LoyaltyCard.card_number == search.card_number,
                    # Not `= 'ACTIVE'`: that is the predicate of the partial per-customer
                    # index, which PostgreSQL may then read whole instead of looking up
                    # the number. A card is ACTIVE or REPLACED.
                    LoyaltyCard.status != "REPLACED",
                )
            )
        return contact, named

    def _ranked_matches(self, search: CustomerSearch | None) -> Subquery | None:
        """Each match's id with 0 if it matched the meaning the business searches first,
        else 1, for a term with meanings of both kinds (digits that may be a phone or a
        code; a word that may be a name or an email's beginning); None when the term has
        one kind only, and plain name order serves."""
        if search is None:
            return None
        contact, named = self._matches(search)
        if not contact or not named:
            return None
        first, then = (contact, named) if search.contact_first else (named, contact)
        lookups = [q.add_columns(literal(0).label("rank")) for q in first] + [
            q.add_columns(literal(1).label("rank")) for q in then
        ]
        found = union_all(*lookups).subquery()
        id_ = found.c[0]
        return (
            select(id_.label("id"), func.min(found.c.rank).label("rank")).group_by(id_).subquery()
        )

    def conditions(
        self, search: CustomerSearch | None, spec: CustomerFilterSpec
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if search is not None:
            # One index lookup per meaning of the term, united: an OR of them would
            # make PostgreSQL scan (it cannot OR an index with a subquery).
            contact, named = self._matches(search)
            ids = contact + named
            conditions.append(Customer.id.in_(union_all(*ids)) if ids else false())
        if spec.status is not None:
            conditions.append(Customer.status == spec.status.value)
        else:
            # A merged customer is a pointer, not someone to pick at the till.
            conditions.append(Customer.status != CustomerStatus.MERGED.value)
        if spec.home_store_id is not None:
            conditions.append(Customer.home_store_id == spec.home_store_id)
        if spec.group_id is not None:
            conditions.append(
                Customer.id.in_(
                    select(CustomerGroupMember.customer_id).where(
                        CustomerGroupMember.group_id == spec.group_id
                    )
                )
            )
        if spec.segment is not None:
            conditions.append(
                Customer.id.in_(
                    select(CustomerSegmentRow.customer_id).where(
                        CustomerSegmentRow.segment == spec.segment.value
                    )
                )
            )
        return conditions

    async def page(
        self,
        search: CustomerSearch | None,
        spec: CustomerFilterSpec,
        first: int,
        after: str | None,
        *,
        counted: bool = True,
    ) -> Page[CustomerRecord]:
        """Customers by name then id; ``after`` is a cursor from an earlier page. Not
        ``counted``: ``total`` is 0, and no count runs."""
        conditions = self.conditions(search, spec)
        total: int | None = 0
        if counted:
            total = await self.session.scalar(
                select(func.count()).select_from(Customer).where(*conditions)
            )
        matches = self._ranked_matches(search)
        if matches is None:
            stmt = select(Customer).where(*conditions)
            if after is not None:
                stmt = stmt.where(after_key_and_id(Customer.name_key, Customer.id, after))
            rows = list(
                await self.session.scalars(
                    stmt.order_by(Customer.name_key, Customer.id).limit(first + 1)
                )
            )
            return Page(
                items=[(_name_cursor(r), _record(r)) for r in rows[:first]],
                has_next=len(rows) > first,
                total=total or 0,
            )
        # The first kind's matches by name, then the others by name.
        rank = matches.c.rank
        ranked = (
            select(Customer, rank)
            .join(matches, matches.c.id == Customer.id)
            .where(*self.conditions(None, spec))
        )
        if after is not None:
            ranked = ranked.where(
                after_rank_key_and_id(rank, Customer.name_key, Customer.id, after)
            )
        found = list(
            await self.session.execute(
                ranked.order_by(rank, Customer.name_key, Customer.id).limit(first + 1)
            )
        )
        return Page(
            items=[
                (encode_cursor(r, row.name_key, row.id.hex), _record(row))
                for row, r in found[:first]
            ],
            has_next=len(found) > first,
            total=total or 0,
        )

    async def group_pages(
        self, group_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[CustomerRecord]]:
        """Members of many groups, by name then id as ``page`` orders them, in two statements.

        One group (its own screen) is ``page`` with the group filter, which reads the name
        index no further than the page; several (a list of groups, or every group of
        every customer in a list) rank their members with a window, so a list of groups
        costs two statements, not two per group.
        """
        if len(group_ids) == 1:
            spec = CustomerFilterSpec(group_id=group_ids[0])
            return {group_ids[0]: await self.page(None, spec, first, after)}
        member = CustomerGroupMember
        # A merged customer is a pointer, not a member to show (as in ``conditions``).
        conditions: list[ColumnElement[bool]] = [
            member.group_id.in_(group_ids),
            Customer.status != CustomerStatus.MERGED.value,
        ]
        counted = await self.session.execute(
            select(member.group_id, func.count())
            .join(Customer, Customer.id == member.customer_id)
            .where(*conditions)
            .group_by(member.group_id)
        )
        totals = dict(counted.all())
        if after is not None:
            conditions.append(after_key_and_id(Customer.name_key, Customer.id, after))
        by_name = (Customer.name_key, Customer.id)
        rank = func.row_number().over(partition_by=member.group_id, order_by=by_name)
        ranked = (
            select(member.group_id, member.customer_id, rank.label("rank"))
            .join(Customer, Customer.id == member.customer_id)
            .where(*conditions)
            .subquery()
        )
        rows = await self.session.execute(
            select(ranked.c.group_id, Customer)
            .join(ranked, ranked.c.customer_id == Customer.id)
            .where(ranked.c.rank <= first + 1)
            .order_by(ranked.c.group_id, *by_name)
        )
        members: defaultdict[uuid.UUID, list[Customer]] = defaultdict(list)
        for group_id, row in rows:
            members[group_id].append(row)
        pages = pages_by_parent(group_ids, members, first, totals, _name_cursor)
        return {
            group_id: Page(
                [(cursor, _record(row)) for cursor, row in page.items], page.has_next, page.total
            )
            for group_id, page in pages.items()
        }

    # -- bulk: import and export ----------------------------------------------------

    async def owners_of_codes(self, codes: list[str]) -> dict[str, uuid.UUID]:
        rows = await self.session.execute(
            select(Customer.customer_code, Customer.id).where(Customer.customer_code.in_(codes))
        )
        return {code: customer_id for code, customer_id in rows if code is not None}

    async def insert_many(
        self, rows: list[dict[str, Any]], same: dict[str, Any] | None = None
    ) -> None:
        """New customers (every column given, in ``rows`` or, one value for all, in
        ``same``) and their name words, by the backend's bulk path (app/db/bulk.py): an
        import inserts 100k rows (DESIGN.md §6).
        """
        if not rows:
            return
        await insert_rows(
            self.session, table_of(Customer), [_with_phone_key(r) for r in rows], same
        )
        words = [w for row in rows for w in _name_words(row["id"], row["name_key"])]
        await insert_rows(self.session, table_of(CustomerNameWord), words)

    async def insert_profiles_many(
        self,
        addresses: list[tuple[uuid.UUID, tuple[AddressRecord, ...]]],
        phones: list[tuple[uuid.UUID, tuple[PhoneRecord, ...]]],
    ) -> None:
        """The addresses and extra phones of customers that have none yet."""
        address_rows = [
            {"id": uuid.uuid4(), "customer_id": customer_id, "position": i, **asdict(a)}
            for customer_id, items in addresses
            for i, a in enumerate(items)
        ]
        await insert_rows(self.session, table_of(CustomerAddress), address_rows)
        phone_rows = [
            _phone_row(customer_id, i, p)
            for customer_id, items in phones
            for i, p in enumerate(items)
        ]
        await insert_rows(self.session, table_of(CustomerPhone), phone_rows)

    async def export_batch(self, after: uuid.UUID | None, limit: int) -> list[CustomerRecord]:
        """The next customers by id after ``after``; merged ones are pointers, not customers."""
        stmt = select(Customer).where(
            Customer.status != CustomerStatus.MERGED.value, Customer.merged_into_id.is_(None)
        )
        if after is not None:
            stmt = stmt.where(Customer.id > after)
        rows = await self.session.scalars(stmt.order_by(Customer.id).limit(limit))
        return [_record(r) for r in rows]
