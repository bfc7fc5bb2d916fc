"""ORM models; importing this package registers every table on ``Base.metadata``."""

from app.db.models.audit import AuditEntry
from app.db.models.business import BusinessSettings
from app.db.models.customer import Customer, CustomerNameWord, MarketingConsent
from app.db.models.group import CustomerGroup, CustomerGroupMember
from app.db.models.idempotency import IdempotencyKey
from app.db.models.notification import Notification
from app.db.models.outbox import OutboxMessage
from app.db.models.sale import Sale
from app.db.models.staff import AuthToken, Role, StaffUser
from app.db.models.store import Store, Till

__all__ = [
    "AuditEntry",
    "AuthToken",
    "BusinessSettings",
    "Customer",
    "CustomerGroup",
    "CustomerGroupMember",
    "CustomerNameWord",
    "IdempotencyKey",
    "MarketingConsent",
    "Notification",
    "OutboxMessage",
    "Role",
    "Sale",
    "StaffUser",
    "Store",
    "Till",
]
