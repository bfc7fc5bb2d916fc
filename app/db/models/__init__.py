"""ORM models; importing this package registers every table on ``Base.metadata``."""

from app.db.models.analytics import (
    CustomerDaily,
    CustomerSegmentRow,
    SalesDaily,
    SalesDailyDiscount,
    SalesDailyMix,
    SalesDirtyDay,
    SalesMonthly,
    SegmentCuts,
)
from app.db.models.appointment import Appointment
from app.db.models.audit import AuditEntry
from app.db.models.business import BusinessSettings
from app.db.models.customer import (
    ConsentChange,
    Customer,
    CustomerAddress,
    CustomerNameWord,
    CustomerPhone,
    MarketingConsent,
)
from app.db.models.discount import CustomerDiscount, DiscountCode
from app.db.models.discount_audit import DiscountAuditFinding, DiscountAuditWatermark
from app.db.models.forecast import DemandForecast
from app.db.models.group import CustomerGroup, CustomerGroupMember
from app.db.models.idempotency import IdempotencyKey
from app.db.models.job_run import JobRun
from app.db.models.loyalty import (
    CustomerLoyaltyTier,
    LoyaltyCard,
    LoyaltyTier,
    PointsBalance,
    PointsEntry,
)
from app.db.models.marketing import MarketingCampaign, MarketingSigningKey
from app.db.models.notification import Notification, NotificationAttempt
from app.db.models.online_account import CustomerToken, OnlineAccount
from app.db.models.outbox import OutboxMessage
from app.db.models.photo import CustomerPhoto
from app.db.models.product import Product, ProductStock
from app.db.models.sale import (
    CustomerProductUnits,
    CustomerSalesStats,
    Sale,
    SaleDiscount,
    SaleLine,
    SaleReturn,
    SaleReturnLine,
)
from app.db.models.sms_credit import SmsCreditBalance, SmsCreditEntry
from app.db.models.staff import AuthToken, Role, StaffUser
from app.db.models.store import Store, Till
from app.db.models.sync import OfflineCustomer, StoreCustomer, StoreSyncCounter
from app.db.models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Appointment",
    "AuditEntry",
    "AuthToken",
    "BusinessSettings",
    "ConsentChange",
    "Customer",
    "CustomerAddress",
    "CustomerDaily",
    "CustomerDiscount",
    "CustomerGroup",
    "CustomerGroupMember",
    "CustomerLoyaltyTier",
    "CustomerNameWord",
    "CustomerPhone",
    "CustomerPhoto",
    "CustomerProductUnits",
    "CustomerSalesStats",
    "CustomerSegmentRow",
    "CustomerToken",
    "DemandForecast",
    "DiscountAuditFinding",
    "DiscountAuditWatermark",
    "DiscountCode",
    "IdempotencyKey",
    "JobRun",
    "LoyaltyCard",
    "LoyaltyTier",
    "MarketingCampaign",
    "MarketingConsent",
    "MarketingSigningKey",
    "Notification",
    "NotificationAttempt",
    "OfflineCustomer",
    "OnlineAccount",
    "OutboxMessage",
    "PointsBalance",
    "PointsEntry",
    "Product",
    "ProductStock",
    "Role",
    "Sale",
    "SaleDiscount",
    "SaleLine",
    "SaleReturn",
    "SaleReturnLine",
    "SalesDaily",
    "SalesDailyDiscount",
    "SalesDailyMix",
    "SalesDirtyDay",
    "SalesMonthly",
    "SegmentCuts",
    "SmsCreditBalance",
    "SmsCreditEntry",
    "StaffUser",
    "Store",
    "StoreCustomer",
    "StoreSyncCounter",
    "Till",
    "WebhookDelivery",
    "WebhookEndpoint",
]
