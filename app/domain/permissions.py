"""The permissions a role can grant, named ``FEATURE_OPERATION`` (DESIGN.md §2)."""

from __future__ import annotations

import enum


class Permission(enum.StrEnum):
    CUSTOMER_VIEW = "CUSTOMER_VIEW"
    # Full phone, email, birth date, addresses and tax ids; without it they are masked.
    CUSTOMER_VIEW_PII = "CUSTOMER_VIEW_PII"
    CUSTOMER_ADD = "CUSTOMER_ADD"
    CUSTOMER_MODIFY = "CUSTOMER_MODIFY"
    CUSTOMER_DELETE = "CUSTOMER_DELETE"
    CUSTOMER_GROUP_MANAGE = "CUSTOMER_GROUP_MANAGE"
    SALE_CREATE = "SALE_CREATE"
    SALE_VOID = "SALE_VOID"
    # Sell a line below its list price (down to 0): without it a cashier could give goods
    # away at the till (issue 9). Above the list price needs nothing; both are recorded.
    SALE_PRICE_OVERRIDE = "SALE_PRICE_OVERRIDE"
    LOYALTY_ADJUST = "LOYALTY_ADJUST"
    DISCOUNT_MANAGE = "DISCOUNT_MANAGE"
    REPORT_VIEW = "REPORT_VIEW"
    AUDIT_VIEW = "AUDIT_VIEW"
    SETTINGS_MANAGE = "SETTINGS_MANAGE"
    STAFF_MANAGE = "STAFF_MANAGE"
    # Act at every store: without it a staff user with a home store acts only there
    # (issue 9). Tills are bound to their store whatever their role holds.
    STORE_ALL = "STORE_ALL"
    # Send the shop's events to outside URLs (issue 10 §5): an integration, set up by
    # whoever runs the shop's settings; migration 0010 grants it to them.
    WEBHOOK_MANAGE = "WEBHOOK_MANAGE"


ALL_PERMISSIONS: frozenset[Permission] = frozenset(Permission)
