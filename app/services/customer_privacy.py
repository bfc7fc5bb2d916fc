"""Privacy requests (issue 13): hand a person everything held about them, or erase them.

What Shopify ("customer data request", "erasure request") and ERPNext ("Personal Data
Download/Deletion Request") give shops. ``export`` assembles one JSON document of every
row about the customer (and the records merged into them); ``erase`` pseudonymises them:
the profile, the lists and every free text and JSON written about them lose the
person's values, while the books (sales, totals, the points ledger, what they owe) stay
as they are, now about "Erased customer". docs/privacy.md says what goes and what stays.

A caller bound to a store (a till, a store manager) may do either only for a customer
whose home store is theirs: handing over or destroying all of a person is for the store
that keeps their record, or head office.
"""

from __future__ import annotations

import base64
import enum
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import phonenumbers

from app.db.repositories.customer_privacy import (
    ERASED,
    ERASED_PROFILE,
    CustomerPrivacyRepository,
)
from app.domain.errors import ErrorCode, UserError
from app.domain.money import from_cents
from app.domain.records import (
    Actor,
    CustomerRecord,
    CustomerStatus,
    MarketingChannel,
)
from app.services import sms_credits
from app.services.customer_lookup import live_customer
from app.services.customers import unsubscribe
from app.services.gateways import FileGateway
from app.services.photos import remove_customer_photo
from app.services.store_scope import require_home_store
from app.services.text import name_key
from app.services.unit_of_work import Result, Transactions, UnitOfWork
from app.settings import Settings

log = logging.getLogger(__name__)

# Bumped when the document's shape changes, so a reader knows which shape it holds.
SCHEMA_VERSION = 1
ERASED_NAME = ERASED_PROFILE["name"]
ERASED_NOTIFICATION = "the customer was erased; nothing was sent"

# Keys of audit snapshots (API names) and of offline submissions (field names) whose
# values are the person: replaced whatever they hold, older values included.
PERSONAL_KEYS = frozenset(
    {
        "name",
        "phone",
        "email",
        "customerCode",
        "customer_code",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "birthDate",
        "birth_date",
        "gender",
        "pan",
        "gstin",
        "state",
        "state_code",
        "regNo",
        "reg_no",
        "vatNo",
        "vat_no",
        "remarks",
        "addresses",
        "otherPhones",
        "phones",
        "mergedName",
        "note",
    }
)
# Keys (API and column names) whose values are a person's name: cut into words too.
NAME_KEYS = frozenset(
    {"name", "firstName", "first_name", "lastName", "last_name", "mergedName", "merged_name"}
)
# Columns naming who did something (staff, a till, or the customer through a link): only
# the person's whole values are cut from them, never a word a staff name shares.
LABEL_COLUMNS = frozenset({"actor_label", "issued_by", "assigned_by", "created_by"})
# Shorter values ("F", a state code) would match inside unrelated words.
MIN_SCRUBBED_LENGTH = 3


def _json(value: Any) -> Any:
    """A value as JSON: money and other decimals as strings (never floats), times in ISO,
    bytes (a photo) in base64."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str):
        yield value


def _personal_leaves(value: Any) -> Iterable[tuple[str, str]]:
    """(key, string) under personal keys anywhere in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in PERSONAL_KEYS:
                yield from ((k, leaf) for leaf in _leaves(v))
            else:
                yield from _personal_leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _personal_leaves(v)


def _variants(key: str, value: str) -> tuple[set[str], set[str]]:
    """A value and the other ways it is written (a number's digits and national form), and
    apart, the words of a name: staff write "Mrs Rao" in a reason. Only a name is cut into
    words: a remark's or an address's words ("Sunday", "Main Road") are everyone's."""
    whole = {value.strip()}
    if value.startswith("+") and value[1:].isdigit():
        whole.add(value[1:])
        try:
            number = phonenumbers.parse(value)
            whole.add(str(phonenumbers.national_significant_number(number)))
        except phonenumbers.NumberParseException:
            pass
    words = set(value.split()) if key in NAME_KEYS else set()
    return (
        {v for v in whole if len(v) >= MIN_SCRUBBED_LENGTH},
        {v for v in words if len(v) >= MIN_SCRUBBED_LENGTH},
    )


def _matching(values: set[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PersonalText:
    """What to cut from text about the person. ``text``: their values and the words of
    their names, for what staff wrote about them (reasons, notes, snapshots). ``labels``:
    whole values only, for the columns naming who acted: a staff member who shares a
    surname with the person keeps their name ("Ravi Rao (till 1)")."""

    text: re.Pattern[str] | None
    labels: re.Pattern[str] | None

    def scrub(self, column: str, value: Any) -> Any:
        return scrub(value, self.labels if column in LABEL_COLUMNS else self.text)


def personal_text(values: Iterable[tuple[str, str]]) -> PersonalText:
    """The patterns for the person's (key, value) pairs, each matched as a whole word."""
    whole: set[str] = set()
    words: set[str] = set()
    for key, value in values:
        if value and value != ERASED and not value.startswith(("merged:", "erased:")):
            more_whole, more_words = _variants(key, value)
            whole |= more_whole
            words |= more_words
    return PersonalText(_matching(whole | words), _matching(whole))


def scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """``value`` with personal keys' values replaced and the person's values cut from text."""
    if isinstance(value, dict):
        return {
            k: (ERASED if k in PERSONAL_KEYS and v not in (None, [], "") else scrub(v, pattern))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, str) and pattern is not None:
        return pattern.sub(ERASED, value)
    return value


def erased_phone(customer_id: uuid.UUID) -> str:
    """What holds the unique phone column once the number is freed: no search matches it
    (not a number: no reversed digits), and no message can go to it."""
    return f"erased:{customer_id.hex[:13]}"


# One step of an erasure, inside its transaction: (unit of work, the person's customer
# ids: the erased customer first, then the records merged into it).
ErasureStep = Callable[[UnitOfWork, list[uuid.UUID]], Awaitable[None]]


async def _delete_personal_rows(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    await CustomerPrivacyRepository(uow.session).delete_personal_rows(ids)


async def _clear_notes(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    await CustomerPrivacyRepository(uow.session).clear_notes(ids)


async def _forget_requests(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    await CustomerPrivacyRepository(uow.session).forget_requests(ids)


async def _retire_cards(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    # A retired number finds no one at the till; the card rows stay, as the points
    # ledger names them (and a number is never issued twice).
    for card_id in await CustomerPrivacyRepository(uow.session).active_card_ids(ids):
        await uow.loyalty.retire_card(card_id, uow.now)


async def _skip_queued_messages(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    # Nothing more goes to the person; an SMS's held credits go back.
    for notification_id in await CustomerPrivacyRepository(uow.session).notification_ids(
        ids, queued=True
    ):
        await uow.notifications.settle(notification_id, status="SKIPPED", error=ERASED_NOTIFICATION)
        await sms_credits.settle(uow.sms_credits, notification_id, sent=False, now=uow.now)


async def _remove_photos(uow: UnitOfWork, ids: list[uuid.UUID]) -> None:
    # Every size of the profile picture; URLs handed out stop working at once.
    for customer_id in ids:
        await remove_customer_photo(uow, customer_id)


# The rows removed or emptied beyond the profile and the scrubbed texts, in order. A
# feature that keeps more about a customer adds its step here (docs/privacy.md).
ERASURE_STEPS: tuple[ErasureStep, ...] = (
    _remove_photos,
    _delete_personal_rows,
    _retire_cards,
    _clear_notes,
    _skip_queued_messages,
    _forget_requests,
)


class CustomerPrivacyService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor

    async def _person(self, uow: UnitOfWork, customer_id: uuid.UUID) -> CustomerRecord:
        """The customer (not a merged pointer: its survivor is the person), if the caller
        may act for their home store."""
        customer = await live_customer(uow, customer_id, "id")
        if uow.actor is not None and uow.actor.bound_store_id is not None:
            # Not "any store holding them": a till adds any customer to its store with one
            # download (CUSTOMER_ADD), which would make this limit one call long.
            home = customer.home_store_id or (await uow.stores.head_office()).id
            require_home_store(uow.actor, home, "id")
        return customer

    # -- export -------------------------------------------------------------------

    async def export(self, customer_id: uuid.UUID) -> Result[dict[str, Any]]:
        """Everything held about the customer as one JSON document; the export is audited
        (who, when; never the data)."""

        async def work(uow: UnitOfWork) -> dict[str, Any]:
            await self._person(uow, customer_id)
            ids = await CustomerPrivacyRepository(uow.session).person_ids(customer_id)
            sections = await CustomerPrivacyRepository(uow.session).export_sections(ids)
            document = self._document(customer_id, ids, sections, uow.now)
            await uow.audit(
                "customer",
                customer_id,
                "data_export",
                after={"schemaVersion": SCHEMA_VERSION, "sales": len(document["sales"])},
            )
            return document

        return await self.tx.run(self.actor, work)

    @staticmethod
    def _document(
        customer_id: uuid.UUID,
        ids: list[uuid.UUID],
        sections: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        def own(section: str, owner: uuid.UUID = customer_id) -> list[dict[str, Any]]:
            return [r for r in sections[section] if r.get("customerId") == owner]

        profiles = {row["id"]: row for row in sections["customers"]}

        def profile(owner: uuid.UUID) -> dict[str, Any]:
            return {
                **profiles[owner],
                "addresses": own("addresses", owner),
                "otherPhones": own("otherPhones", owner),
            }

        stats = sections["salesStats"]
        summary = {
            "visits": sum(s["visits"] for s in stats),
            "totalSpent": from_cents(sum(s["spentCents"] for s in stats)),
            "creditOwed": from_cents(sum(s["creditCents"] for s in stats)),
            "firstPurchaseAt": min((s["firstPurchaseAt"] for s in stats if s["firstPurchaseAt"]),
                                   default=None),
            "lastPurchaseAt": max((s["lastPurchaseAt"] for s in stats if s["lastPurchaseAt"]),
                                  default=None),
        }  # fmt: skip
        document = {
            "schemaVersion": SCHEMA_VERSION,
            "exportedAt": now,
            "customerId": customer_id,
            "profile": {
                **profile(customer_id),
                "groups": sections["groups"],
                "loyaltyCards": sections["loyaltyCards"],
                "loyaltyTier": sections["loyaltyTier"],
                "discountCode": sections["discountCode"],
                "onlineAccount": sections["onlineAccount"],
                # Each stored size, its image as base64 in ``data``.
                "photos": sections["photos"],
            },
            # Records merged into this customer (seed 002: duplicates folded into one).
            "mergedRecords": [profile(i) for i in ids[1:] if i in profiles],
            "marketingConsent": sections["marketingConsent"],
            "consentHistory": sections["consentHistory"],
            "notifications": sections["notifications"],
            "salesSummary": summary,
            "sales": sections["sales"],
            "pointsBalance": sum(b["points"] for b in sections["pointsBalance"]),
            "pointsLedger": sections["pointsLedger"],
            "appointments": sections["appointments"],
            "auditTrail": sections["auditTrail"],
        }
        return _json(document)  # type: ignore[no-any-return]

    # -- erasure ------------------------------------------------------------------

    async def erase(self, customer_id: uuid.UUID, reason: str) -> Result[CustomerRecord]:
        """Pseudonymise the customer for good (see the module's docstring); audited with
        who, when and why, never what was erased."""
        if not reason.strip():
            why = UserError(ErrorCode.REQUIRED, "Say why the customer is erased.", ("reason",))
            return Result(errors=[why])
        notified: list[uuid.UUID] = []

        async def work(uow: UnitOfWork) -> CustomerRecord:
            await uow.customers.lock([customer_id])
            customer = await self._person(uow, customer_id)
            repo = CustomerPrivacyRepository(uow.session)
            ids = await repo.person_ids(customer_id)
            await self._unsubscribe(uow, customer_id)
            cells = await repo.text_cells(ids, await repo.sale_ids(ids))
            personal = personal_text(
                [
                    *(kv for row in await repo.customer_rows(ids) for kv in _profile_values(row)),
                    *(kv for cell in cells for kv in _personal_leaves(cell.value)),
                ]
            )
            for step in ERASURE_STEPS:
                await step(uow, ids)
            await repo.rewrite(
                [
                    replace(cell, value=scrubbed)
                    for cell in cells
                    if (scrubbed := personal.scrub(cell.column, cell.value)) != cell.value
                ]
            )
            await repo.clear_pointers(ids[1:], uow.now)
            # The row is locked above, so its version cannot have moved; were it ever to,
            # the whole erasure rolls back rather than be recorded half done.
            erased_now = await uow.customers.update_if_version(
                customer_id,
                customer.version,
                {
                    **ERASED_PROFILE,
                    "name_key": name_key(ERASED_NAME),
                    "phone": erased_phone(customer_id),
                    "status": CustomerStatus.INACTIVE.value,
                    "updated_at": uow.now,
                },
            )
            if not erased_now:
                raise RuntimeError(f"customer {customer_id} changed while locked for erasure")
            notified.extend(await repo.notification_ids(ids, queued=False))
            # The reason is staff's text: it may name the person too.
            await uow.audit(
                "customer",
                customer_id,
                "erase",
                after={"reason": scrub(reason.strip(), personal.text), "erasedRecords": len(ids)},
            )
            erased = await uow.customers.get(customer_id)
            assert erased is not None
            return erased

        result = await self.tx.run(self.actor, work)
        if result.ok and notified:
            await self._erase_from_notification_file(notified)
        return result

    @staticmethod
    async def _unsubscribe(uow: UnitOfWork, customer_id: uuid.UUID) -> None:
        """Both channels lose their address: a subscription ends, in the history (seed 003)."""
        for channel in MarketingChannel:
            await unsubscribe(uow, customer_id, channel)

    async def _erase_from_notification_file(self, notification_ids: list[uuid.UUID]) -> None:
        """The file gateway's copy of each message sent (with address and text), after
        commit: a failure here is logged, and the database is already erased."""
        path = self.settings.resolved_data_dir / self.settings.notification_outbox_file
        try:
            await FileGateway(path).erase({str(i) for i in notification_ids})
        except OSError:
            log.exception("could not erase messages from the notification file %s", path)


# Columns of those rows that say nothing about who the person is (codes from a short list).
_NOT_PERSONAL = frozenset({"id", "status", "gender", "preferredChannel", "label", "country"})


def _profile_values(row: dict[str, Any]) -> Iterable[tuple[str, str]]:
    """(column, string) of a customer, address or phone row (ids and codes aside)."""
    for key, value in row.items():
        if key in _NOT_PERSONAL or key.endswith("Id"):
            continue
        if isinstance(value, str):
            yield key, value
        elif isinstance(value, date) and not isinstance(value, datetime):
            yield key, value.isoformat()
