"""Customers to CSV, in the columns the import reads: export then import round-trips.

Read in keyset batches by id (never OFFSET, never the whole table in memory), in one
read session. Merged customers are pointers to another customer, not customers, and are
left out. What one row cannot hold is reported, not silently dropped: the import takes
one postal address, so a customer's further addresses are counted in the outcome.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from app.db.repositories.consents import ConsentRepository
from app.db.repositories.customers import CustomerRepository
from app.db.repositories.stores import StoreRepository
from app.domain.records import (
    Actor,
    AddressRecord,
    ConsentState,
    CustomerRecord,
    MarketingChannel,
)
from app.services.customer_import import IMPORT_COLUMNS, OTHER_PHONES_SEPARATOR
from app.services.unit_of_work import Transactions
from app.settings import Settings

BATCH = 1000
# What the API hides from a role without CUSTOMER_VIEW_PII (app/schema/customer.py).
PII_COLUMNS = frozenset(
    {
        "phone",
        "otherPhones",
        "email",
        "birthDate",
        "pan",
        "gstin",
        "regNo",
        "vatNo",
        "addressLabel",
        "addressLine1",
        "addressLine2",
        "city",
        "region",
        "postalCode",
        "country",
    }
)


@dataclass(frozen=True, slots=True)
class ExportOutcome:
    customers: int
    # Customers with more than one address: only the first fits the file's columns.
    addresses_left_out: int


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)  # dates ISO, amounts exact: what the import reads back


def _row(
    customer: CustomerRecord,
    address: AddressRecord | None,
    phones: list[str],
    subscribed: set[MarketingChannel],
    store_code: str | None,
) -> dict[str, Any]:
    return {
        "name": customer.name,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "phone": customer.phone,
        "otherPhones": OTHER_PHONES_SEPARATOR.join(phones),
        "email": customer.email,
        "customerCode": customer.customer_code,
        "birthDate": customer.birth_date,
        "gender": customer.gender,
        "pan": customer.pan,
        "gstin": customer.gstin,
        "state": customer.state_code,
        "regNo": customer.reg_no,
        "vatNo": customer.vat_no,
        "allowCreditSale": customer.allow_credit_sale,
        "creditLimit": customer.credit_limit,
        "preferredChannel": customer.preferred_channel,
        "willingToReceive": customer.willing_to_receive,
        "remarks": customer.remarks,
        "loyaltyOptOut": customer.loyalty_opt_out,
        "homeStoreCode": store_code,
        "status": customer.status,
        "emailMarketing": MarketingChannel.EMAIL in subscribed,
        "smsMarketing": MarketingChannel.SMS in subscribed,
        "addressLabel": address.label if address else None,
        "addressLine1": address.line1 if address else None,
        "addressLine2": address.line2 if address else None,
        "city": address.city if address else None,
        "region": address.region if address else None,
        "postalCode": address.postal_code if address else None,
        "country": address.country if address else None,
    }


class CustomerExportService:
    def __init__(self, tx: Transactions, settings: Settings, actor: Actor | None) -> None:
        self.tx = tx
        self.settings = settings
        self.actor = actor

    async def export(
        self,
        out: TextIO,
        *,
        include_pii: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> ExportOutcome:
        """Write every customer but merged ones; without PII its columns stay, empty."""
        writer = csv.writer(out)
        writer.writerow(IMPORT_COLUMNS)
        exported = left_out = 0
        async with self.tx.db.read() as session:
            customers = CustomerRepository(session)
            consents = ConsentRepository(session)
            store_codes = {s.id: s.code for s in await StoreRepository(session).list_all()}
            after = None
            while batch := await customers.export_batch(after, BATCH):
                ids = [c.id for c in batch]
                addresses = await customers.addresses_for(ids)
                phones = await customers.phones_for(ids)
                states = await consents.for_customers(ids)
                for customer in batch:
                    own = addresses.get(customer.id, [])
                    left_out += len(own) > 1
                    subscribed = {
                        channel
                        for channel, consent in states.get(customer.id, {}).items()
                        if consent.state is ConsentState.SUBSCRIBED
                    }
                    values = _row(
                        customer,
                        own[0] if own else None,
                        [p.phone for p in phones.get(customer.id, [])],
                        subscribed,
                        store_codes.get(customer.home_store_id) if customer.home_store_id else None,
                    )
                    writer.writerow(
                        "" if not include_pii and column in PII_COLUMNS else _cell(values[column])
                        for column in IMPORT_COLUMNS
                    )
                exported += len(batch)
                after = batch[-1].id
                if progress is not None:
                    progress(exported)
        return ExportOutcome(customers=exported, addresses_left_out=left_out)
