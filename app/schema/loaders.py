"""Per-request DataLoaders: nested fields of a list load in one statement, not one per row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.domain.loyalty import LoyaltyCardRecord, PointsEntryRecord
from app.domain.records import (
    AddressRecord,
    AuditRecord,
    ConsentChangeRecord,
    ConsentRecord,
    CustomerDiscountRecord,
    CustomerGroupRecord,
    MarketingChannel,
    Page,
    PhoneRecord,
)
from app.services.customers import CustomerService
from app.services.discounts import DiscountService
from app.services.groups import GroupService
from app.services.loyalty import LoyaltyService

AuditKey = tuple[uuid.UUID, int, str | None]
LedgerKey = tuple[uuid.UUID, int, str | None]


class Loaders:
    def __init__(
        self,
        customers: CustomerService,
        groups: GroupService,
        discounts: DiscountService,
        loyalty: LoyaltyService,
    ) -> None:
        self._customers = customers
        self._groups = groups
        self._discounts = discounts
        self._loyalty = loyalty
        self.loyalty_cards = DataLoader[uuid.UUID, LoyaltyCardRecord | None](
            self._load_loyalty_cards
        )
        self.points = DataLoader[uuid.UUID, int](self._load_points)
        self.ledger_pages = DataLoader[LedgerKey, Page[PointsEntryRecord]](self._load_ledger_pages)
        self.groups = DataLoader[uuid.UUID, list[CustomerGroupRecord]](self._load_groups)
        self.discounts = DataLoader[uuid.UUID, CustomerDiscountRecord | None](self._load_discounts)
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

    async def _load_discounts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[CustomerDiscountRecord | None]:
        # Only valid ones: an expired or deactivated code shows as none before the job runs.
        found = await self._discounts.for_customers(list(ids))
        return [found.get(i) for i in ids]

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

    async def _load_loyalty_cards(self, ids: Sequence[uuid.UUID]) -> list[LoyaltyCardRecord | None]:
        found = await self._loyalty.cards_for(list(ids))
        return [found.get(i) for i in ids]

    async def _load_points(self, ids: Sequence[uuid.UUID]) -> list[int]:
        found = await self._loyalty.balances_for(list(ids))
        return [found.get(i, 0) for i in ids]

    async def _load_ledger_pages(self, keys: Sequence[LedgerKey]) -> list[Page[PointsEntryRecord]]:
        # One query per distinct (first, after); a list screen asks with one.
        by_window: dict[tuple[int, str | None], list[uuid.UUID]] = defaultdict(list)
        for customer_id, first, after in keys:
            by_window[(first, after)].append(customer_id)
        pages: dict[LedgerKey, Page[PointsEntryRecord]] = {}
        for (first, after), ids in by_window.items():
            found = await self._loyalty.ledger_pages(ids, first, after)
            for customer_id, page in found.items():
                pages[(customer_id, first, after)] = page
        return [pages[k] for k in keys]
