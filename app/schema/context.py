"""The per-request context: who is calling, the services acting for them, and DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from starlette.requests import Request

from app.domain.accounts import CustomerSession
from app.domain.records import Actor
from app.schema.loaders import Loaders
from app.services.appointments import AppointmentService
from app.services.auth import AuthService
from app.services.business import BusinessSettingsService
from app.services.customer_merge import CustomerMergeService
from app.services.customer_privacy import CustomerPrivacyService
from app.services.customers import CustomerService
from app.services.discount_audit import DiscountAuditService
from app.services.discounts import DiscountService
from app.services.forecasts import ForecastService
from app.services.groups import GroupService
from app.services.lookup_limit import LookupLimit
from app.services.loyalty import LoyaltyService
from app.services.loyalty_tiers import LoyaltyTierService
from app.services.marketing.campaigns import MarketingService
from app.services.marketing.unsubscribe import UnsubscribeService
from app.services.notification_history import NotificationHistoryService
from app.services.online_accounts import OnlineAccountService
from app.services.photos import PhotoService
from app.services.products import ProductService
from app.services.sale_reversals import SaleReversalService
from app.services.sales import SaleService
from app.services.sms_credits import SmsCreditService
from app.services.staff import StaffService
from app.services.store_sync import OfflineConflicts, StoreSyncService
from app.services.throttle import LoginThrottle
from app.services.unit_of_work import Transactions
from app.services.webhooks.endpoints import WebhookEndpointService
from app.settings import Settings


@dataclass
class Context:
    request: Request
    settings: Settings
    tx: Transactions
    throttle: LoginThrottle
    actor: Actor | None
    request_id: str
    lookups: LookupLimit | None = None
    # A customer signed in to the online store; never together with a staff actor.
    customer_session: CustomerSession | None = None

    @cached_property
    def customers(self) -> CustomerService:
        return CustomerService(self.tx, self.settings, self.actor, self.lookups)

    @cached_property
    def business(self) -> BusinessSettingsService:
        return BusinessSettingsService(self.tx, self.actor)

    @cached_property
    def sms_credits(self) -> SmsCreditService:
        return SmsCreditService(self.tx, self.actor)

    @cached_property
    def marketing(self) -> MarketingService:
        return MarketingService(self.tx, self.settings.public_url, self.actor)

    @cached_property
    def unsubscribe(self) -> UnsubscribeService:
        return UnsubscribeService(self.tx)

    @cached_property
    def groups(self) -> GroupService:
        return GroupService(self.tx, self.actor)

    @cached_property
    def loyalty_tiers(self) -> LoyaltyTierService:
        return LoyaltyTierService(self.tx, self.actor)

    @cached_property
    def discounts(self) -> DiscountService:
        return DiscountService(self.tx, self.actor)

    @cached_property
    def loyalty(self) -> LoyaltyService:
        return LoyaltyService(self.tx, self.actor)

    @cached_property
    def forecasts(self) -> ForecastService:
        return ForecastService(self.tx, self.actor)

    @cached_property
    def products(self) -> ProductService:
        return ProductService(self.tx, self.actor)

    @cached_property
    def discount_audit(self) -> DiscountAuditService:
        return DiscountAuditService(self.tx, self.actor)

    @cached_property
    def sales(self) -> SaleService:
        return SaleService(self.tx, self.actor, self.loyalty)

    @cached_property
    def sale_reversals(self) -> SaleReversalService:
        return SaleReversalService(self.tx, self.actor, self.loyalty)

    @cached_property
    def appointments(self) -> AppointmentService:
        return AppointmentService(self.tx, self.actor)

    @cached_property
    def store_sync(self) -> StoreSyncService:
        return StoreSyncService(self.tx, self.settings, self.actor)

    @cached_property
    def offline_conflicts(self) -> OfflineConflicts:
        return OfflineConflicts(self.tx, self.actor)

    @cached_property
    def merges(self) -> CustomerMergeService:
        return CustomerMergeService(self.tx, self.actor)

    @cached_property
    def privacy(self) -> CustomerPrivacyService:
        return CustomerPrivacyService(self.tx, self.settings, self.actor)

    @cached_property
    def auth(self) -> AuthService:
        return AuthService(self.tx, self.settings, self.throttle, self.actor)

    @cached_property
    def staff(self) -> StaffService:
        return StaffService(self.tx, self.settings, self.actor, self.throttle)

    @cached_property
    def webhooks(self) -> WebhookEndpointService:
        return WebhookEndpointService(self.tx, self.settings, self.actor)

    @cached_property
    def notifications(self) -> NotificationHistoryService:
        return NotificationHistoryService(self.tx)

    @cached_property
    def online_accounts(self) -> OnlineAccountService:
        return OnlineAccountService(
            self.tx,
            self.settings,
            self.throttle,
            actor=self.actor,
            customer=self.customer_session,
        )

    @cached_property
    def photos(self) -> PhotoService:
        return PhotoService(self.tx, self.actor)

    @cached_property
    def loaders(self) -> Loaders:
        # Per request: a loader's cache must never show one caller another's data.
        return Loaders(
            self.customers,
            self.groups,
            self.discounts,
            self.loyalty,
            self.products,
            self.appointments,
            self.sales,
            self.notifications,
            self.online_accounts,
            self.photos,
        )

    @property
    def client_address(self) -> str:
        return self.request.client.host if self.request.client else "unknown"
