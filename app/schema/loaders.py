"""Per-request DataLoaders: nested fields of a list load in one statement, not one per row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.domain.records import (
    AddressRecord,
    AuditRecord,
    ConsentChangeRecord,
    ConsentRecord,
    CustomerGroupRecord,
    MarketingChannel,
    Page,
    PhoneRecord,
)
from app.services.customers import CustomerService
from app.services.groups import GroupService

AuditKey = tuple[uuid.UUID, int, str | None]


class Loaders:
    def __init__(self, customers: CustomerService, groups: GroupService) -> None:
        self._customers = customers
        self._groups = groups
        self.groups = DataLoader[uuid.UUID, list[CustomerGroupRecord]](self._load_groups)
        self.consents = DataLoader[uuid.UUID, dict[MarketingChannel, ConsentRecord]](
            self._load_consents
        )
        self.audit_pages = DataLoader[AuditKey, Page[AuditRecord]](self._load_audit_pages)
        self.addresses = DataLoader[uuid.UUID, list[AddressRecord]](self._load_addresses)
        self.phones = DataLoader[uuid.UUID, list[PhoneRecord]](self._load_phones)
        self.consent_history = DataLoader[uuid.UUID, list[ConsentChangeRecord]](
            self._load_consent_history
        )

    async def _load_consents(
        self, ids: Sequence[uuid.UUID]
    ) -> list[dict[MarketingChannel, ConsentRecord]]:
        found = await self._customers.consents(list(ids))
        return [found.get(i, {}) for i in ids]

    async def _load_addresses(self, ids: Sequence[uuid.UUID]) -> list[list[AddressRecord]]:
        found = await self._customers.addresses(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_consent_history(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[ConsentChangeRecord]]:
        found = await self._customers.consent_history(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_phones(self, ids: Sequence[uuid.UUID]) -> list[list[PhoneRecord]]:
        found = await self._customers.phones(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_groups(self, ids: Sequence[uuid.UUID]) -> list[list[CustomerGroupRecord]]:
        found = await self._groups.for_customers(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_audit_pages(self, keys: Sequence[AuditKey]) -> list[Page[AuditRecord]]:
        # One query per distinct (first, after); a list screen asks with one.
        by_window: dict[tuple[int, str | None], list[uuid.UUID]] = defaultdict(list)
        for customer_id, first, after in keys:
            by_window[(first, after)].append(customer_id)
        pages: dict[AuditKey, Page[AuditRecord]] = {}
        for (first, after), ids in by_window.items():
            for customer_id, page in (await self._customers.audit_pages(ids, first, after)).items():
                pages[(customer_id, first, after)] = page
        return [pages[k] for k in keys]
