"""Per-request DataLoaders: nested fields of a list load in one statement, not one per row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from strawberry.dataloader import DataLoader

from app.domain.accounts import OnlineAccountRecord
from app.domain.appointments import AppointmentRecord
from app.domain.customer_facts import NO_FACTS, CustomerFacts
from app.domain.loyalty import PointsEntryRecord
from app.domain.notifications import NotificationAttemptRecord, NotificationRecord
from app.domain.photos import PhotoSize
from app.domain.products import StockRecord
from app.domain.records import (
    AddressRecord,
    AuditRecord,
    ConsentChangeRecord,
    ConsentRecord,
    CustomerDiscountRecord,
    CustomerGroupRecord,
    CustomerRecord,
    MarketingChannel,
    Page,
    PhoneRecord,
)
from app.domain.sales import (
    SaleDiscountRecord,
    SaleLineRecord,
    SaleRecord,
    SaleReturnLineRecord,
    SaleReturnRecord,
    TopProductRecord,
)
from app.domain.segments import CustomerSegment
from app.services.appointments import AppointmentService
from app.services.customers import CustomerService
from app.services.discounts import DiscountService
from app.services.groups import GroupService
from app.services.loyalty import LoyaltyService
from app.services.notification_history import NotificationHistoryService
from app.services.online_accounts import OnlineAccountService
from app.services.photos import PhotoService
from app.services.products import ProductService
from app.services.sales import SaleService
from app.services.segments import segments_of

# (product, store); store None: the caller's store, else head office.
StockKey = tuple[uuid.UUID, uuid.UUID | None]


PageKey = tuple[uuid.UUID, int, str | None]
R = TypeVar("R")


async def pages_by_window(
    keys: Sequence[PageKey],
    fetch: Callable[[list[uuid.UUID], int, str | None], Awaitable[dict[uuid.UUID, Page[R]]]],
) -> list[Page[R]]:
    """Per-parent pages, one query per distinct (first, after): a list asks with one."""
    by_window: dict[tuple[int, str | None], list[uuid.UUID]] = defaultdict(list)
    for parent_id, first, after in keys:
        by_window[(first, after)].append(parent_id)
    pages: dict[PageKey, Page[R]] = {}
    for (first, after), ids in by_window.items():
        for parent_id, page in (await fetch(ids, first, after)).items():
            pages[(parent_id, first, after)] = page
    return [pages[k] for k in keys]


class Loaders:
    def __init__(
        self,
        customers: CustomerService,
        groups: GroupService,
        discounts: DiscountService,
        loyalty: LoyaltyService,
        products: ProductService,
        appointments: AppointmentService,
        sales: SaleService,
        notifications: NotificationHistoryService,
        accounts: OnlineAccountService,
        photos: PhotoService,
    ) -> None:
        self._photos = photos
        self.photo_urls = DataLoader[uuid.UUID, dict[PhotoSize, str]](self._load_photo_urls)
        self._notifications = notifications
        self._accounts = accounts
        self.online_accounts = DataLoader[uuid.UUID, OnlineAccountRecord | None](
            self._load_online_accounts
        )
        self.notification_pages_by_customer_id = DataLoader[PageKey, Page[NotificationRecord]](
            self._load_notification_pages
        )
        self.attempts_by_notification_id = DataLoader[uuid.UUID, list[NotificationAttemptRecord]](
            self._load_attempts
        )
        self._sales = sales
        self.sales = DataLoader[uuid.UUID, SaleRecord | None](self._load_sales)
        self.sale_lines = DataLoader[uuid.UUID, list[SaleLineRecord]](self._load_sale_lines)
        self.sale_discounts = DataLoader[uuid.UUID, list[SaleDiscountRecord]](
            self._load_sale_discounts
        )
        self.sale_returns = DataLoader[uuid.UUID, list[SaleReturnRecord]](self._load_sale_returns)
        self.exchanges = DataLoader[uuid.UUID, list[SaleRecord]](self._load_exchanges)
        self.return_lines = DataLoader[uuid.UUID, list[SaleReturnLineRecord]](
            self._load_return_lines
        )
        self.customer_sales = DataLoader[PageKey, Page[SaleRecord]](self._load_customer_sales)
        # Primed by customer_sales for the sales on its pages.
        self.applied_discounts = DataLoader[uuid.UUID, list[SaleDiscountRecord]](
            self._load_applied_discounts
        )
        self.top_products = DataLoader[uuid.UUID, list[TopProductRecord]](self._load_top_products)
        self._customers = customers
        self._groups = groups
        self._discounts = discounts
        self._loyalty = loyalty
        self._products = products
        self._appointments = appointments
        self.customers = DataLoader[uuid.UUID, CustomerRecord | None](self._load_customers)
        self.appointment_pages = DataLoader[PageKey, Page[AppointmentRecord]](
            self._load_appointment_pages
        )
        self.stock = DataLoader[StockKey, int](self._load_stock)
        self.stock_levels = DataLoader[uuid.UUID, list[StockRecord]](self._load_stock_levels)
        # Card, points and sales stats: one row per customer; primed by customer_screen.
        self.facts = DataLoader[uuid.UUID, CustomerFacts](self._load_facts)
        self.segments = DataLoader[uuid.UUID, CustomerSegment | None](self._load_segments)
        self.ledger_pages = DataLoader[PageKey, Page[PointsEntryRecord]](self._load_ledger_pages)
        self.groups = DataLoader[uuid.UUID, list[CustomerGroupRecord]](self._load_groups)
        self.members_by_group_id = DataLoader[PageKey, Page[CustomerRecord]](
            self._load_members_by_group_id
        )
        self.discounts = DataLoader[uuid.UUID, CustomerDiscountRecord | None](self._load_discounts)
        self.consents = DataLoader[uuid.UUID, dict[MarketingChannel, ConsentRecord]](
            self._load_consents
        )
        self.audit_pages = DataLoader[PageKey, Page[AuditRecord]](self._load_audit_pages)
        self.addresses = DataLoader[uuid.UUID, list[AddressRecord]](self._load_addresses)
        self.phones = DataLoader[uuid.UUID, list[PhoneRecord]](self._load_phones)
        self.consent_history = DataLoader[uuid.UUID, list[ConsentChangeRecord]](
            self._load_consent_history
        )

    async def _load_online_accounts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[OnlineAccountRecord | None]:
        found = await self._accounts.accounts_for(list(ids))
        return [found.get(i) for i in ids]

    async def _load_photo_urls(self, ids: Sequence[uuid.UUID]) -> list[dict[PhotoSize, str]]:
        found = await self._photos.urls_for(list(ids))
        return [found.get(i, {}) for i in ids]

    async def _load_customers(self, ids: Sequence[uuid.UUID]) -> list[CustomerRecord | None]:
        found = await self._customers.get_many(list(ids))
        return [found.get(i) for i in ids]

    async def customer_screen(self, customer_id: uuid.UUID) -> CustomerRecord | None:
        """One customer, their card, points and sales stats read with them (one statement)."""
        found = await self._customers.get_with_facts(customer_id)
        if found is None:
            return None
        customer, facts = found
        self.facts.prime(customer.id, facts)
        return customer

    async def _load_facts(self, ids: Sequence[uuid.UUID]) -> list[CustomerFacts]:
        found = await self._customers.facts_for(list(ids))
        return [found.get(i, NO_FACTS) for i in ids]

    async def _load_appointment_pages(
        self, keys: Sequence[PageKey]
    ) -> list[Page[AppointmentRecord]]:
        return await pages_by_window(keys, self._appointments.customer_pages)

    async def _load_notification_pages(
        self, keys: Sequence[PageKey]
    ) -> list[Page[NotificationRecord]]:
        return await pages_by_window(keys, self._notifications.customer_pages)

    async def _load_attempts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[NotificationAttemptRecord]]:
        found = await self._notifications.attempts(list(ids))
        return [found.get(i, []) for i in ids]

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

    async def _load_members_by_group_id(
        self, keys: Sequence[PageKey]
    ) -> list[Page[CustomerRecord]]:
        return await pages_by_window(keys, self._groups.member_pages)

    async def _load_discounts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[CustomerDiscountRecord | None]:
        # Only valid ones: an expired or deactivated code shows as none before the job runs.
        found = await self._discounts.for_customers(list(ids))
        return [found.get(i) for i in ids]

    async def _load_audit_pages(self, keys: Sequence[PageKey]) -> list[Page[AuditRecord]]:
        return await pages_by_window(keys, self._customers.audit_pages)

    async def _load_segments(self, ids: Sequence[uuid.UUID]) -> list[CustomerSegment | None]:
        found = await segments_of(self._customers.tx, list(ids))
        return [found.get(i) for i in ids]

    async def _load_ledger_pages(self, keys: Sequence[PageKey]) -> list[Page[PointsEntryRecord]]:
        return await pages_by_window(keys, self._loyalty.ledger_pages)

    async def _load_stock(self, keys: Sequence[StockKey]) -> list[int]:
        found = await self._products.on_hand(list(keys))
        return [found[k] for k in keys]

    async def _load_stock_levels(self, ids: Sequence[uuid.UUID]) -> list[list[StockRecord]]:
        found = await self._products.stock_levels(list(ids))
        return [found.get(i, []) for i in ids]

    # -- sales ---------------------------------------------------------------------

    async def _load_sales(self, ids: Sequence[uuid.UUID]) -> list[SaleRecord | None]:
        found = await self._sales.get_many(list(ids))
        return [found.get(i) for i in ids]

    async def _load_sale_lines(self, ids: Sequence[uuid.UUID]) -> list[list[SaleLineRecord]]:
        found = await self._sales.lines_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_sale_discounts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[SaleDiscountRecord]]:
        found = await self._sales.discounts_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_sale_returns(self, ids: Sequence[uuid.UUID]) -> list[list[SaleReturnRecord]]:
        found = await self._sales.returns_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_exchanges(self, ids: Sequence[uuid.UUID]) -> list[list[SaleRecord]]:
        found = await self._sales.exchanges_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_return_lines(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[SaleReturnLineRecord]]:
        found = await self._sales.return_lines_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_customer_sales(self, keys: Sequence[PageKey]) -> list[Page[SaleRecord]]:
        return await pages_by_window(keys, self._customer_pages)

    async def _customer_pages(
        self, customer_ids: list[uuid.UUID], first: int, after: str | None
    ) -> dict[uuid.UUID, Page[SaleRecord]]:
        pages, applied = await self._sales.customer_pages(customer_ids, first, after)
        for sale_id, discounts in applied.items():
            self.applied_discounts.prime(sale_id, discounts)
        return pages

    async def _load_applied_discounts(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[SaleDiscountRecord]]:
        found = await self._sales.applied_discounts_for(list(ids))
        return [found.get(i, []) for i in ids]

    async def _load_top_products(self, ids: Sequence[uuid.UUID]) -> list[list[TopProductRecord]]:
        found = await self._sales.top_products_for(list(ids))
        return [found.get(i, []) for i in ids]
