"""Every operation is guarded: anonymous callers get only `login`; no permission, no change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.db.base import Base
from app.domain.permissions import Permission
from app.domain.tiers import TierBasis
from app.schema.customer import Customer
from app.schema.permissions import Requires, RequiresAny
from app.schema.schema import PUBLIC_OPERATIONS, Mutation, Query, build_schema
from app.services.customers import CustomerCreate
from app.services.groups import GroupService
from app.services.loyalty_tiers import LoyaltyTierService, TierDraft
from app.services.photos import PhotoService
from app.services.sales import LineDraft, SaleCreate
from app.services.store_sync import StoreSyncService
from app.services.webhooks.endpoints import WebhookEndpointService
from tests.discount_audit_world import finding as audit_finding
from tests.uploads import picture, post_upload

P = Permission


@dataclass(frozen=True)
class Seed:
    """What the mutations of the table act on: made before the call, through the services."""

    customer_id: str
    customer_version: int
    role_id: str
    store_id: str
    tag: str
    group_id: str
    other_customer_id: str
    conflict_client_id: str
    discount_code: str
    discount_code_id: str
    appointment_id: str
    product_id: str
    sku: str
    open_sale_id: str
    open_line_id: str
    completed_sale_id: str
    completed_line_id: str
    debtor_id: str
    staff_user_id: str
    till_id: str
    webhook_endpoint_id: str
    finding_id: str
    tier_id: str


@dataclass(frozen=True)
class Op:
    document: str
    variables: Callable[[Seed], dict[str, Any]]
    permission: Permission | None


def _no_vars(_: Seed) -> dict[str, Any]:
    return {}


def _days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# Every mutation but `login`, with an input that succeeds when the permission is granted
# (test_table_inputs_succeed_with_the_permission proves it), and the permission it needs.
MUTATIONS: dict[str, Op] = {
    "logout": Op("mutation { logout { revoked errors { code field } } }", _no_vars, None),
    # The online-store customer's own (RequiresCustomer): tests/api/test_online_accounts.py
    # shows staff tokens refused there too.
    "customerLogout": Op(
        "mutation { customerLogout { revoked errors { code field } } }", _no_vars, None
    ),
    "customerMeUpdate": Op(
        "mutation($input: CustomerSelfInput!) { customerMeUpdate(input: $input) "
        "{ me { id } errors { code field } } }",
        lambda s: {"input": {"expectedVersion": 1, "name": "Me"}},
        None,
    ),
    "customerMeConsentUpdate": Op(
        "mutation { customerMeConsentUpdate(channel: EMAIL, subscribed: true) "
        "{ me { id } errors { code field } } }",
        _no_vars,
        None,
    ),
    "customerAccountInvite": Op(
        "mutation($id: ID!) { customerAccountInvite(customerId: $id) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"id": s.customer_id},
        P.CUSTOMER_MODIFY,
    ),
    "storeCreate": Op(
        "mutation($input: StoreInput!) { storeCreate(input: $input) "
        "{ store { id } errors { code field } } }",
        lambda s: {"input": {"code": f"ST{s.tag}", "name": "New store"}},
        P.SETTINGS_MANAGE,
    ),
    "tillCreate": Op(
        "mutation($input: TillInput!) { tillCreate(input: $input) "
        "{ till { id } deviceToken errors { code field } } }",
        lambda s: {"input": {"name": f"Till {s.tag}", "roleId": s.role_id, "storeId": s.store_id}},
        P.STAFF_MANAGE,
    ),
    "roleCreate": Op(
        "mutation($input: RoleInput!) { roleCreate(input: $input) "
        "{ role { id } errors { code field } } }",
        lambda s: {"input": {"name": f"Role {s.tag}", "permissions": ["STAFF_MANAGE"]}},
        P.STAFF_MANAGE,
    ),
    "roleUpdate": Op(
        "mutation($id: ID!, $input: RoleInput!) { roleUpdate(id: $id, input: $input) "
        "{ role { id } errors { code field } } }",
        lambda s: {"id": s.role_id, "input": {"name": f"Renamed {s.tag}", "permissions": []}},
        P.STAFF_MANAGE,
    ),
    "roleDelete": Op(
        "mutation($id: ID!) { roleDelete(id: $id) { deletedId errors { code field } } }",
        lambda s: {"id": s.role_id},
        P.STAFF_MANAGE,
    ),
    "staffUserUpdate": Op(
        "mutation($id: ID!, $input: StaffUserUpdateInput!) { staffUserUpdate(id: $id, "
        "input: $input) { staffUser { id } errors { code field } } }",
        lambda s: {"id": s.staff_user_id, "input": {"isActive": False}},
        P.STAFF_MANAGE,
    ),
    "tillRevoke": Op(
        "mutation($id: ID!) { tillRevoke(id: $id) { till { id } errors { code field } } }",
        lambda s: {"id": s.till_id},
        P.STAFF_MANAGE,
    ),
    "staffPasswordChange": Op(
        'mutation { staffPasswordChange(currentPassword: "x", newPassword: "y") '
        "{ done errors { code field } } }",
        _no_vars,
        None,
    ),
    "sessionEnd": Op(
        "mutation($id: ID!) { sessionEnd(id: $id) { done errors { code field } } }",
        lambda s: {"id": s.till_id},
        None,
    ),
    "staffUserCreate": Op(
        "mutation($input: StaffUserInput!) { staffUserCreate(input: $input) "
        "{ staffUser { id } errors { code field } } }",
        lambda s: {
            "input": {
                "username": f"new-{s.tag}",
                "password": "long-enough-password",
                "roleId": s.role_id,
                "storeId": s.store_id,
            }
        },
        P.STAFF_MANAGE,
    ),
    "customerCreate": Op(
        "mutation($input: CustomerCreateInput!) { customerCreate(input: $input) "
        "{ customer { id } errors { code field } } }",
        lambda s: {
            "input": {"name": "New Customer", "phone": "+12125550177", "idempotencyKey": s.tag}
        },
        P.CUSTOMER_ADD,
    ),
    "customerUpdate": Op(
        "mutation($id: ID!, $input: CustomerUpdateInput!) { customerUpdate(id: $id, input: $input) "
        "{ customer { id } errors { code field } } }",
        lambda s: {
            "id": s.customer_id,
            "input": {"expectedVersion": s.customer_version, "name": "Renamed"},
        },
        P.CUSTOMER_MODIFY,
    ),
    "customerSetStatus": Op(
        "mutation($id: ID!) { customerSetStatus(id: $id, status: INACTIVE) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"id": s.customer_id},
        P.CUSTOMER_MODIFY,
    ),
    "customerDelete": Op(
        "mutation($id: ID!) { customerDelete(id: $id) { deletedId errors { code field } } }",
        # The other customer: the seed gives the first a loyalty card, which keeps it.
        lambda s: {"id": s.other_customer_id},
        P.CUSTOMER_DELETE,
    ),
    "marketingConsentUpdate": Op(
        "mutation($id: ID!) { marketingConsentUpdate(customerId: $id, channel: EMAIL, "
        "subscribed: true) { customer { id } errors { code field } } }",
        lambda s: {"id": s.customer_id},
        P.CUSTOMER_MODIFY,
    ),
    # A JSON request is refused before its "file" is looked at; the control (with the
    # permission) sends a real picture over multipart (UPLOADS).
    "customerPhotoSet": Op(
        "mutation($id: ID!, $file: Upload!) { customerPhotoSet(customerId: $id, file: $file) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"id": s.customer_id, "file": "not-a-file"},
        P.CUSTOMER_MODIFY,
    ),
    "customerPhotoRemove": Op(
        "mutation($id: ID!) { customerPhotoRemove(customerId: $id) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"id": s.customer_id},
        P.CUSTOMER_MODIFY,
    ),
    "businessSettingsUpdate": Op(
        "mutation($input: BusinessSettingsInput!) { businessSettingsUpdate(input: $input) "
        "{ businessSettings { pointValue } errors { code field } } }",
        lambda s: {"input": {"pointsPerCurrencyUnit": "2.5"}},
        P.SETTINGS_MANAGE,
    ),
    "customerGroupCreate": Op(
        "mutation($input: CustomerGroupInput!) { customerGroupCreate(input: $input) "
        "{ group { id } errors { code field } } }",
        lambda s: {"input": {"name": f"Group {s.tag}", "discountPercent": "5"}},
        P.CUSTOMER_GROUP_MANAGE,
    ),
    "customerGroupUpdate": Op(
        "mutation($id: ID!, $input: CustomerGroupUpdateInput!) { customerGroupUpdate(id: $id, "
        "input: $input) { group { id } errors { code field } } }",
        lambda s: {"id": s.group_id, "input": {"name": f"Renamed {s.tag}"}},
        P.CUSTOMER_GROUP_MANAGE,
    ),
    "customerGroupDelete": Op(
        "mutation($id: ID!) { customerGroupDelete(id: $id) { deletedId errors { code field } } }",
        lambda s: {"id": s.group_id},
        P.CUSTOMER_GROUP_MANAGE,
    ),
    "customerGroupAddCustomers": Op(
        "mutation($g: ID!, $c: [ID!]!) { customerGroupAddCustomers(groupId: $g, customerIds: $c) "
        "{ group { id } errors { code field } } }",
        lambda s: {"g": s.group_id, "c": [s.other_customer_id]},
        P.CUSTOMER_GROUP_MANAGE,
    ),
    "customerGroupRemoveCustomers": Op(
        "mutation($g: ID!, $c: [ID!]!) { customerGroupRemoveCustomers(groupId: $g, "
        "customerIds: $c) { group { id } errors { code field } } }",
        lambda s: {"g": s.group_id, "c": [s.customer_id]},
        P.CUSTOMER_GROUP_MANAGE,
    ),
    "customerMerge": Op(
        "mutation($s: ID!, $t: ID!) { customerMerge(sourceId: $s, targetId: $t) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"s": s.other_customer_id, "t": s.customer_id},
        P.CUSTOMER_DELETE,
    ),
    "customerDataExport": Op(
        "mutation($id: ID!) { customerDataExport(id: $id) { document errors { code field } } }",
        lambda s: {"id": s.customer_id},
        P.CUSTOMER_VIEW_PII,
    ),
    "customerErase": Op(
        'mutation($id: ID!) { customerErase(id: $id, reason: "asked in writing") '
        "{ customer { id } errors { code field } } }",
        lambda s: {"id": s.other_customer_id},
        P.CUSTOMER_DELETE,
    ),
    "customerDownloadToStore": Op(
        "mutation($c: ID!, $s: ID) { customerDownloadToStore(customerId: $c, storeId: $s) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"c": s.customer_id, "s": s.store_id},
        P.CUSTOMER_ADD,
    ),
    "customerSyncOffline": Op(
        "mutation($s: ID, $c: [OfflineCustomerInput!]!) { customerSyncOffline(storeId: $s, "
        "customers: $c) { results { status } errors { code field } } }",
        lambda s: {
            "s": s.store_id,
            "c": [
                {
                    "clientId": str(uuid.uuid4()),
                    "customer": {"name": "Off", "phone": "+19175550123"},
                }
            ],
        },
        P.CUSTOMER_ADD,
    ),
    "offlineCustomerResolve": Op(
        "mutation($o: ID!, $c: ID!) { offlineCustomerResolve(clientId: $o, customerId: $c) "
        "{ results { status } errors { code field } } }",
        lambda s: {"o": s.conflict_client_id, "c": s.customer_id},
        P.CUSTOMER_MODIFY,
    ),
    "loyaltyCardIssue": Op(
        "mutation($c: ID!, $input: LoyaltyCardInput!) { loyaltyCardIssue(customerId: $c, "
        "input: $input) { customer { id } errors { code field } } }",
        lambda s: {
            "c": s.other_customer_id,
            "input": {"cardNumber": f"NEW-{s.tag}", "discountPercent": "5"},
        },
        P.LOYALTY_ADJUST,
    ),
    "loyaltyCardReplace": Op(
        "mutation($c: ID!, $input: LoyaltyCardReplaceInput!) { loyaltyCardReplace(customerId: $c, "
        "input: $input) { customer { id } errors { code field } } }",
        lambda s: {
            "c": s.customer_id,
            "input": {"newCardNumber": f"NEW-{s.tag}", "reason": "Lost"},
        },
        P.CUSTOMER_MODIFY,
    ),
    "loyaltyPointsAdjust": Op(
        "mutation($c: ID!, $input: LoyaltyPointsAdjustInput!) { loyaltyPointsAdjust("
        "customerId: $c, input: $input) { customer { id } errors { code field } } }",
        lambda s: {"c": s.customer_id, "input": {"points": 10, "reason": "Goodwill"}},
        P.LOYALTY_ADJUST,
    ),
    "discountCodeCreate": Op(
        "mutation($input: DiscountCodeInput!) { discountCodeCreate(input: $input) "
        "{ discountCode { id } errors { code field } } }",
        lambda s: {"input": {"code": f"NEW{s.tag}", "percent": "5"}},
        P.DISCOUNT_MANAGE,
    ),
    "discountCodeUpdate": Op(
        "mutation($id: ID!, $input: DiscountCodeUpdateInput!) { discountCodeUpdate(id: $id, "
        "input: $input) { discountCode { id } errors { code field } } }",
        lambda s: {"id": s.discount_code_id, "input": {"percent": "12.5"}},
        P.DISCOUNT_MANAGE,
    ),
    "loyaltyTierCreate": Op(
        "mutation($input: LoyaltyTierInput!) { loyaltyTierCreate(input: $input) "
        "{ tier { id } errors { code field } } }",
        lambda s: {
            "input": {
                "name": f"Tier {s.tag}",
                "rank": 2,
                "basis": "SPEND",
                "threshold": "500",
                "windowDays": 365,
            }
        },
        P.DISCOUNT_MANAGE,
    ),
    "loyaltyTierUpdate": Op(
        "mutation($id: ID!, $input: LoyaltyTierUpdateInput!) { loyaltyTierUpdate(id: $id, "
        "input: $input) { tier { id } errors { code field } } }",
        lambda s: {"id": s.tier_id, "input": {"discountPercent": "7.5"}},
        P.DISCOUNT_MANAGE,
    ),
    "loyaltyTierDelete": Op(
        "mutation($id: ID!) { loyaltyTierDelete(id: $id) { deletedId errors { code field } } }",
        lambda s: {"id": s.tier_id},
        P.DISCOUNT_MANAGE,
    ),
    "appointmentCreate": Op(
        "mutation($c: ID!, $input: AppointmentCreateInput!) { appointmentCreate(customerId: $c, "
        "input: $input) { appointment { id } errors { code field } } }",
        lambda s: {
            "c": s.customer_id,
            "input": {"service": "Haircut", "startsAt": _days_ahead(3), "idempotencyKey": s.tag},
        },
        P.CUSTOMER_MODIFY,
    ),
    "appointmentReschedule": Op(
        "mutation($id: ID!, $input: AppointmentRescheduleInput!) { appointmentReschedule(id: $id, "
        "input: $input) { appointment { id } errors { code field } } }",
        lambda s: {
            "id": s.appointment_id,
            "input": {"expectedVersion": 1, "startsAt": _days_ahead(4)},
        },
        P.CUSTOMER_MODIFY,
    ),
    "appointmentCancel": Op(
        'mutation($id: ID!) { appointmentCancel(id: $id, reason: "Ill") '
        "{ appointment { id } errors { code field } } }",
        lambda s: {"id": s.appointment_id},
        P.CUSTOMER_MODIFY,
    ),
    "appointmentComplete": Op(
        "mutation($id: ID!) { appointmentComplete(id: $id) "
        "{ appointment { id } errors { code field } } }",
        lambda s: {"id": s.appointment_id},
        P.CUSTOMER_MODIFY,
    ),
    "customerDiscountAssign": Op(
        "mutation($c: ID!, $code: String!) { customerDiscountAssign(customerId: $c, code: $code) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"c": s.other_customer_id, "code": s.discount_code},
        P.DISCOUNT_MANAGE,
    ),
    "customerDiscountRemove": Op(
        "mutation($c: ID!) { customerDiscountRemove(customerId: $c) "
        "{ customer { id } errors { code field } } }",
        lambda s: {"c": s.customer_id},
        P.DISCOUNT_MANAGE,
    ),
    "productCreate": Op(
        "mutation($input: ProductInput!) { productCreate(input: $input) "
        "{ product { id } errors { code field } } }",
        lambda s: {"input": {"sku": f"NEW-{s.tag}", "name": "New product", "price": "2.50"}},
        P.SETTINGS_MANAGE,
    ),
    "productUpdate": Op(
        "mutation($id: ID!, $input: ProductUpdateInput!) { productUpdate(id: $id, input: $input) "
        "{ product { id } errors { code field } } }",
        lambda s: {"id": s.product_id, "input": {"price": "3.75"}},
        P.SETTINGS_MANAGE,
    ),
    "productStockSet": Op(
        "mutation($p: ID!, $s: ID) { productStockSet(productId: $p, storeId: $s, onHand: 7) "
        "{ product { id } errors { code field } } }",
        lambda s: {"p": s.product_id, "s": s.store_id},
        P.SETTINGS_MANAGE,
    ),
    "productStockAdjust": Op(
        "mutation($p: ID!, $s: ID) { productStockAdjust(productId: $p, storeId: $s, delta: 12, "
        'reason: "Delivery") { product { id } errors { code field } } }',
        lambda s: {"p": s.product_id, "s": s.store_id},
        P.SETTINGS_MANAGE,
    ),
    "saleCreate": Op(
        "mutation($input: SaleCreateInput!) { saleCreate(input: $input) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"input": {"lines": [{"sku": s.sku}], "idempotencyKey": s.tag}},
        P.SALE_CREATE,
    ),
    "saleAddLines": Op(
        "mutation($s: ID!, $l: [SaleLineInput!]!) { saleAddLines(saleId: $s, lines: $l) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id, "l": [{"sku": s.sku, "quantity": 2}]},
        P.SALE_CREATE,
    ),
    "saleUpdateLine": Op(
        "mutation($s: ID!, $l: ID!) { saleUpdateLine(saleId: $s, lineId: $l, "
        "input: {quantity: 3}) { sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id, "l": s.open_line_id},
        P.SALE_CREATE,
    ),
    "saleRemoveLine": Op(
        "mutation($s: ID!, $l: ID!) { saleRemoveLine(saleId: $s, lineId: $l) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id, "l": s.open_line_id},
        P.SALE_CREATE,
    ),
    "saleAssignCustomer": Op(
        "mutation($s: ID!, $c: ID!) { saleAssignCustomer(saleId: $s, customerId: $c) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id, "c": s.other_customer_id},
        P.SALE_CREATE,
    ),
    "saleRemoveCustomer": Op(
        "mutation($s: ID!) { saleRemoveCustomer(saleId: $s) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id},
        P.SALE_CREATE,
    ),
    "saleComplete": Op(
        "mutation($s: ID!) { saleComplete(saleId: $s, input: {payment: CARD}) "
        "{ sale { id } errors { code field } } }",
        lambda s: {"s": s.open_sale_id},
        P.SALE_CREATE,
    ),
    "saleVoid": Op(
        "mutation($s: ID!) { saleVoid(saleId: $s) { sale { id } errors { code field } } }",
        lambda s: {"s": s.completed_sale_id},
        P.SALE_VOID,
    ),
    "customerAccountPayment": Op(
        "mutation($c: ID!) { customerAccountPayment(customerId: $c, "
        'input: {amount: "1.00", payment: CASH}) { customer { id } errors { code field } } }',
        lambda s: {"c": s.debtor_id},
        P.SALE_CREATE,
    ),
    "saleReturn": Op(
        "mutation($s: ID!, $l: ID!) { saleReturn(saleId: $s, input: {lines: [{lineId: $l}]}) "
        "{ saleReturn { id } errors { code field } } }",
        lambda s: {"s": s.completed_sale_id, "l": s.completed_line_id},
        P.SALE_VOID,
    ),
    # A literal public address: saving never connects, and no name is looked up.
    "webhookEndpointCreate": Op(
        "mutation($input: WebhookEndpointInput!) { webhookEndpointCreate(input: $input) "
        "{ webhookEndpoint { id secret } errors { code field } } }",
        lambda s: {"input": {"url": "https://93.184.215.14/hooks", "events": ["sale.completed"]}},
        P.WEBHOOK_MANAGE,
    ),
    "webhookEndpointUpdate": Op(
        'mutation($id: ID!) { webhookEndpointUpdate(id: $id, input: {events: ["sale.voided"]}) '
        "{ webhookEndpoint { id } errors { code field } } }",
        lambda s: {"id": s.webhook_endpoint_id},
        P.WEBHOOK_MANAGE,
    ),
    "marketingMessageSend": Op(
        "mutation($input: MarketingMessageInput!) { marketingMessageSend(input: $input) "
        "{ campaignId recipients skipped errors { code field } } }",
        lambda s: {"input": {"channel": "EMAIL", "subject": "Sale", "body": "All -20%"}},
        P.SETTINGS_MANAGE,
    ),
    "smsCreditsAdd": Op(
        'mutation { smsCreditsAdd(amount: 10, reference: "INV-1") '
        "{ smsCredits { available } errors { code field } } }",
        _no_vars,
        P.SETTINGS_MANAGE,
    ),
    "discountAuditFindingUpdate": Op(
        "mutation($id: ID!) { discountAuditFindingUpdate(id: $id, status: CONFIRMED, "
        'note: "seen") { finding { id status } errors { code field } } }',
        lambda s: {"id": s.finding_id},
        P.AUDIT_VIEW,
    ),
    "webhookEndpointDelete": Op(
        "mutation($id: ID!) { webhookEndpointDelete(id: $id) { deletedId errors { code field } } }",
        lambda s: {"id": s.webhook_endpoint_id},
        P.WEBHOOK_MANAGE,
    ),
}

# Inputs that need a permission beyond their operation's (issue 9 §7): a line priced below
# its product's list price (10.00 in the seed), down to "0", needs SALE_PRICE_OVERRIDE; the
# refusal names the line's price. test_every_priced_input_is_in_the_override_table keeps
# this complete.
LINE_FIELDS = "sale { lines { unitPrice priceOverride { listPrice by staffUserId tillId } } }"
PRICE_OVERRIDES: dict[str, tuple[Op, list[str]]] = {
    "saleCreate": (
        Op(
            "mutation($input: SaleCreateInput!) { saleCreate(input: $input) "
            f"{{ {LINE_FIELDS} errors {{ code field }} }} }}",
            lambda s: {"input": {"lines": [{"sku": s.sku, "unitPrice": "0"}]}},
            P.SALE_CREATE,
        ),
        ["input", "lines", "0", "unitPrice"],
    ),
    "saleAddLines": (
        Op(
            "mutation($s: ID!, $l: [SaleLineInput!]!) { saleAddLines(saleId: $s, lines: $l) "
            f"{{ {LINE_FIELDS} errors {{ code field }} }} }}",
            lambda s: {"s": s.open_sale_id, "l": [{"sku": s.sku, "unitPrice": "0.00"}]},
            P.SALE_CREATE,
        ),
        ["lines", "0", "unitPrice"],
    ),
    "saleUpdateLine": (
        Op(
            "mutation($s: ID!, $l: ID!) { saleUpdateLine(saleId: $s, lineId: $l, "
            f'input: {{unitPrice: "9.99"}}) {{ {LINE_FIELDS} errors {{ code field }} }} }}',
            lambda s: {"s": s.open_sale_id, "l": s.open_line_id},
            P.SALE_CREATE,
        ),
        ["input", "unitPrice"],
    ),
}

# Every query field, and whether it is nullable (a refused non-null field nulls all of data).
QUERIES: dict[str, tuple[str, Callable[[Seed], dict[str, Any]], bool]] = {
    "me": ("{ me { id } }", _no_vars, True),
    "viewer": ("{ viewer { kind } }", _no_vars, True),
    "customerMe": ("{ customerMe { id } }", _no_vars, True),
    "jobRuns": ("{ jobRuns { totalCount } }", _no_vars, False),
    "discountAuditFindings": (
        "{ discountAuditFindings { totalCount edges { node { id rule sale { id } } } } }",
        _no_vars,
        False,
    ),
    "stores": ("{ stores { id } }", _no_vars, False),
    "roles": ("{ roles { id } }", _no_vars, False),
    "mySessions": ("{ mySessions { id } }", _no_vars, False),
    "customer": (
        "query($id: ID!) { customer(id: $id) { id } }",
        lambda s: {"id": s.customer_id},
        True,
    ),
    "customers": ("{ customers { totalCount } }", _no_vars, False),
    "customerGroups": ("{ customerGroups { totalCount } }", _no_vars, False),
    "businessSettings": ("{ businessSettings { defaultPhoneRegion } }", _no_vars, False),
    "customerGroup": (
        "query($id: ID!) { customerGroup(id: $id) { id } }",
        lambda s: {"id": s.group_id},
        True,
    ),
    "customerChanges": (
        "query($s: ID) { customerChanges(storeId: $s) { endCursor } }",
        lambda s: {"s": s.store_id},
        False,
    ),
    "customerDuplicates": (
        "query($id: ID!) { customerDuplicates(id: $id) { reasons } }",
        lambda s: {"id": s.customer_id},
        False,
    ),
    "offlineCustomerConflicts": ("{ offlineCustomerConflicts { clientId } }", _no_vars, False),
    "discountCodes": ("{ discountCodes { totalCount } }", _no_vars, False),
    "loyaltyTiers": ("{ loyaltyTiers { id } }", _no_vars, False),
    "appointment": (
        "query($id: ID!) { appointment(id: $id) { id } }",
        lambda s: {"id": s.appointment_id},
        True,
    ),
    "appointments": ("{ appointments { totalCount } }", _no_vars, False),
    "product": (
        "query($id: ID!) { product(id: $id) { id } }",
        lambda s: {"id": s.product_id},
        True,
    ),
    "products": ("{ products { totalCount } }", _no_vars, False),
    "sale": (
        "query($id: ID!) { sale(id: $id) { id } }",
        lambda s: {"id": s.completed_sale_id},
        True,
    ),
    "sales": ("{ sales { totalCount } }", _no_vars, False),
    "smsCredits": ("{ smsCredits { available } }", _no_vars, False),
    "webhookEndpoints": ("{ webhookEndpoints { id } }", _no_vars, False),
    "webhookDeliveries": (
        "query($e: ID!) { webhookDeliveries(endpointId: $e) { totalCount } }",
        lambda s: {"e": s.webhook_endpoint_id},
        False,
    ),
    "notifications": ("{ notifications { totalCount } }", _no_vars, False),
    "demandForecast": (
        "query($p: ID!, $s: ID!) { demandForecast(productId: $p, storeId: $s) { method } }",
        lambda s: {"p": s.product_id, "s": s.store_id},
        True,
    ),
    "reorderSuggestions": ("{ reorderSuggestions { totalCount } }", _no_vars, False),
    "salesReport": (
        '{ salesReport(from: "2026-01-01", to: "2026-01-31", groupBy: [DAY]) { sales } }',
        _no_vars,
        False,
    ),
    "customerSegments": ("{ customerSegments { segment customers } }", _no_vars, False),
    "discountUsage": (
        '{ discountUsage(from: "2026-01-01", to: "2026-01-31") { source } }',
        _no_vars,
        False,
    ),
    "pointsLiability": ("{ pointsLiability { points } }", _no_vars, False),
    "consentRates": ("{ consentRates { channel rate } }", _no_vars, False),
}

# Query fields any one of several permissions opens (RequiresAny); the rest need all theirs.
ANY_OF_QUERIES = {
    "sale": frozenset({P.SALE_CREATE, P.REPORT_VIEW}),
    "sales": frozenset({P.SALE_CREATE, P.REPORT_VIEW}),
}

# Mutations taking a file: their control call is a multipart request (tests/uploads.py).
UPLOADS = {"customerPhotoSet"}

PERMISSION_MUTATIONS = sorted(name for name, op in MUTATIONS.items() if op.permission is not None)


def _graphql_fields(type_name: str) -> set[str]:
    schema = build_schema()
    graphql_type = schema._schema.get_type(type_name)  # the graphql-core schema strawberry built
    assert graphql_type is not None
    return set(graphql_type.fields)  # type: ignore[union-attr]


def _requires(field: Any) -> list[Requires]:
    return [e for e in field.extensions if isinstance(e, Requires)]


def _strawberry_fields(cls: type) -> dict[str, Any]:
    schema = build_schema()
    converter = schema.config.name_converter
    return {converter.get_graphql_name(f): f for f in cls.__strawberry_definition__.fields}  # type: ignore[attr-defined]


async def _seed(factory: Any) -> Seed:
    customer = await factory.customer(email="guarded@example.com")
    # Empty roles: a caller holding only STAFF_MANAGE can grant, change or delete them
    # without escalating (app/services/grants.py); each has one use so none is "in use".
    role = await factory.auth().create_role(f"seed-role-{uuid.uuid4().hex[:8]}", [])
    assert role.value
    store = await factory.store()
    staff_role = await factory.auth().create_role(f"seed-staff-{uuid.uuid4().hex[:8]}", [])
    assert staff_role.value
    staff_user = await factory.auth().create_staff_user(
        f"seed-user-{uuid.uuid4().hex[:8]}", "long-enough-password", staff_role.value.id, None
    )
    assert staff_user.value
    till_role = await factory.auth().create_role(f"seed-till-{uuid.uuid4().hex[:8]}", [])
    assert till_role.value
    till = await factory.auth().create_till(
        store.id, f"Seed till {uuid.uuid4().hex[:8]}", till_role.value.id
    )
    assert till.value
    other = await factory.customer()
    group = await GroupService(factory.runtime.tx, None).create(
        f"seed-group-{uuid.uuid4().hex[:8]}", None, None
    )
    assert group.value
    await GroupService(factory.runtime.tx, None).change_members(
        group.value.id, [customer.id], add=True
    )
    conflict = uuid.uuid4()
    offline = await StoreSyncService(factory.runtime.tx, factory.settings, None).sync_offline(
        store.id, [(conflict, CustomerCreate(name="Unreadable", phone="12"))]
    )
    assert offline.value
    assert offline.value[0].status == "CONFLICT"
    # A picture to remove (customerPhotoRemove).
    assert (await PhotoService(factory.runtime.tx, None).set(customer.id, picture("PNG"))).ok
    # A card to replace (loyaltyCardReplace); the other customer has none to be issued one.
    await factory.loyalty_card(customer.id, f"SEED-{uuid.uuid4().hex[:12]}")
    code = await factory.discount_code(f"SEED{uuid.uuid4().hex[:8]}")
    assigned = await factory.discounts().assign(customer.id, code.code, None)
    assert assigned.errors == []
    appointment = await factory.appointment(customer.id)
    product = await factory.product()
    # An open sale of the first customer to edit; a completed walk-in sale to void or return.
    sales = factory.sales()
    opened = await sales.create(
        SaleCreate(lines=(LineDraft(product.sku, 2),), customer_id=customer.id)
    )
    assert opened.value
    completed = await factory.completed_sale(None, [(product.sku, 2)])
    open_lines = await sales.lines_for([opened.value.id])
    completed_lines = await sales.lines_for([completed.id])
    # A customer who owes 20.00 from a credit sale, to pay towards (customerAccountPayment).
    debtor = await factory.customer(allow_credit_sale=True, credit_limit=Decimal("100.00"))
    await factory.completed_sale(debtor.id, [(product.sku, 2)], payment="CREDIT")
    # Made last, subscribed to an event no operation here causes: no delivery is queued.
    # Behind the address guard's back (a settings copy): only ever 127.0.0.1's discard port.
    local = factory.settings.model_copy(update={"webhook_allow_private": True})
    endpoint = await WebhookEndpointService(factory.runtime.tx, local, None).create(
        "http://127.0.0.1:9/never", ["consent.changed"]
    )
    assert endpoint.value
    # A finding to triage (discountAuditFindingUpdate), on the completed sale.
    finding_id = await audit_finding(
        factory.runtime.db, store_id=completed.store_id, sale_id=completed.id
    )
    tier = await LoyaltyTierService(factory.runtime.tx, None).create(
        TierDraft(f"seed-tier-{uuid.uuid4().hex[:8]}", 1, TierBasis.SPEND, Decimal(100), 365)
    )
    assert tier.value, tier.errors
    return Seed(
        tier_id=str(tier.value.id),
        finding_id=str(finding_id),
        webhook_endpoint_id=str(endpoint.value.id),
        debtor_id=str(debtor.id),
        staff_user_id=str(staff_user.value.id),
        till_id=str(till.value.till.id),
        sku=product.sku,
        open_sale_id=str(opened.value.id),
        open_line_id=str(open_lines[opened.value.id][0].id),
        completed_sale_id=str(completed.id),
        completed_line_id=str(completed_lines[completed.id][0].id),
        product_id=str(product.id),
        appointment_id=str(appointment.id),
        discount_code=code.code,
        discount_code_id=str(code.id),
        conflict_client_id=str(conflict),
        group_id=str(group.value.id),
        other_customer_id=str(other.id),
        customer_id=str(customer.id),
        customer_version=customer.version,
        role_id=str(role.value.id),
        store_id=str(store.id),
        tag=uuid.uuid4().hex[:8].upper(),
    )


async def _snapshot(raw_sql: Any) -> dict[str, list[str]]:
    """Every row of every table, so an update (not only an insert) shows up too."""
    state: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        rows = await raw_sql(f"SELECT * FROM {table.name}")  # noqa: S608
        state[table.name] = sorted(repr(tuple(r)) for r in rows)
    return state


async def _counts(raw_sql: Any) -> dict[str, int]:
    return {
        t.name: int((await raw_sql(f"SELECT COUNT(*) FROM {t.name}"))[0][0])  # noqa: S608
        for t in Base.metadata.sorted_tables
    }


def _payload(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    return payload


# --- the tables cover the schema -----------------------------------------------------------


def test_the_mutation_table_covers_every_mutation() -> None:
    # A new mutation must be added to MUTATIONS (with its permission) or this fails.
    assert set(MUTATIONS) | PUBLIC_OPERATIONS == _graphql_fields("Mutation")
    assert set(MUTATIONS).isdisjoint(PUBLIC_OPERATIONS)


def test_the_query_table_covers_every_query_field() -> None:
    assert set(QUERIES) == _graphql_fields("Query")


def test_the_mutation_table_matches_the_declared_permissions() -> None:
    fields = _strawberry_fields(Mutation)
    for name, op in MUTATIONS.items():
        (requires,) = _requires(fields[name])
        expected = frozenset({op.permission}) if op.permission else frozenset()
        assert requires.permissions == expected, name


# --- structural: every operation but login carries Requires --------------------------------


def test_every_operation_but_sign_in_requires_authentication() -> None:
    # marketingUnsubscribe: the customer's link, whose signed token is the authority.
    assert {
        "login",
        "customerAccountLogin",
        "customerPasswordResetRequest",
        "customerPasswordReset",
        "marketingUnsubscribe",
    } == PUBLIC_OPERATIONS
    for cls in (Query, Mutation):
        for name, field in _strawberry_fields(cls).items():
            guards = _requires(field)
            if name in PUBLIC_OPERATIONS:
                assert guards == [], name
            else:
                assert len(guards) == 1, f"{cls.__name__}.{name} has no Requires extension"


def test_every_mutation_refuses_as_payload_data() -> None:
    # Requires.apply() finds from_errors() on the payload: refusals are data, not exceptions.
    build_schema()
    for name, field in _strawberry_fields(Mutation).items():
        if name in PUBLIC_OPERATIONS:
            continue
        (requires,) = _requires(field)
        assert requires.payload is not None, name
        assert hasattr(requires.payload, "from_errors"), name


def test_any_of_queries_declare_their_permissions() -> None:
    fields = _strawberry_fields(Query)
    for name, permissions in ANY_OF_QUERIES.items():
        (requires,) = _requires(fields[name])
        assert isinstance(requires, RequiresAny), name
        assert requires.permissions == permissions, name


def test_audit_trail_requires_audit_view() -> None:
    fields = _strawberry_fields(Customer)
    (requires,) = _requires(fields["auditTrail"])
    assert requires.permissions == frozenset({P.AUDIT_VIEW})


def test_a_customer_s_notifications_require_audit_view() -> None:
    fields = _strawberry_fields(Customer)
    (requires,) = _requires(fields["notifications"])
    assert requires.permissions == frozenset({P.AUDIT_VIEW})


# --- anonymous callers ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_anonymous_query_fields_are_unauthenticated(gql, factory, name: str) -> None:
    document, variables, nullable = QUERIES[name]
    seed = await _seed(factory)
    body = await gql(document, variables(seed))
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
    assert codes == ["UNAUTHENTICATED"], body
    assert body["errors"][0]["path"] == [name]
    if nullable:
        assert body["data"] == {name: None}
    else:
        assert body["data"] is None


async def test_anonymous_callers_see_no_data_with_all_fields_at_once(gql, factory) -> None:
    seed = await _seed(factory)
    body = await gql(
        "query($id: ID!) { me { id } viewer { kind } customer(id: $id) { id name } }",
        {"id": seed.customer_id},
    )
    assert body["data"] == {"me": None, "viewer": None, "customer": None}
    codes = sorted(e["extensions"]["code"] for e in body["errors"])
    assert codes == ["UNAUTHENTICATED"] * 3


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_anonymous_mutations_are_unauthenticated(gql, factory, raw_sql, name: str) -> None:
    op = MUTATIONS[name]
    seed = await _seed(factory)
    before = await _snapshot(raw_sql)
    body = await gql(op.document, op.variables(seed))
    payload = _payload(body, name)
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]
    assert payload["errors"][0]["field"] is None
    for key, value in payload.items():
        if key != "errors":
            assert value in (None, False), (key, value)
    assert await _snapshot(raw_sql) == before


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_a_revoked_or_unknown_token_is_anonymous(gql, factory, raw_sql, name: str) -> None:
    op = MUTATIONS[name]
    seed = await _seed(factory)
    before = await _snapshot(raw_sql)
    body = await gql(op.document, op.variables(seed), token="not-a-real-token")
    assert [e["code"] for e in _payload(body, name)["errors"]] == ["UNAUTHENTICATED"]
    assert await _snapshot(raw_sql) == before


# --- missing permission: FORBIDDEN and nothing changes ---------------------------------------


@pytest.mark.parametrize("name", PERMISSION_MUTATIONS)
async def test_mutation_without_its_permission_is_forbidden(
    gql, factory, raw_sql, name: str
) -> None:
    op = MUTATIONS[name]
    assert op.permission is not None
    seed = await _seed(factory)
    # Every permission but the one needed: only that one can be the reason.
    token = await factory.token(*(p for p in Permission if p is not op.permission))
    before = await _snapshot(raw_sql)
    counts = await _counts(raw_sql)

    body = await gql(op.document, op.variables(seed), token=token)
    payload = _payload(body, name)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FORBIDDEN", None)]
    assert op.permission.value in payload["errors"][0].get("message", op.permission.value)
    for key, value in payload.items():
        if key != "errors":
            assert value is None, (key, value)

    assert await _counts(raw_sql) == counts
    assert await _snapshot(raw_sql) == before


@pytest.mark.parametrize("name", PERMISSION_MUTATIONS)
async def test_mutation_with_no_permissions_at_all_is_forbidden(
    gql, factory, raw_sql, name: str
) -> None:
    op = MUTATIONS[name]
    seed = await _seed(factory)
    token = await factory.token()
    before = await _snapshot(raw_sql)
    body = await gql(op.document, op.variables(seed), token=token)
    assert [e["code"] for e in _payload(body, name)["errors"]] == ["FORBIDDEN"]
    assert await _snapshot(raw_sql) == before


@pytest.mark.parametrize("name", PERMISSION_MUTATIONS)
async def test_table_inputs_succeed_with_the_permission(gql, factory, raw_sql, name: str) -> None:
    """The control: with only the permission the same call goes through and changes data."""
    op = MUTATIONS[name]
    assert op.permission is not None
    seed = await _seed(factory)
    token = await factory.token(op.permission)
    before = await _snapshot(raw_sql)
    if name in UPLOADS:
        sent = await post_upload(
            gql.http, op.document, op.variables(seed), picture("PNG"), token=token
        )
        body = sent.json()
    else:
        body = await gql(op.document, op.variables(seed), token=token)
    assert _payload(body, name)["errors"] == []
    assert await _snapshot(raw_sql) != before


def _input_fields(graphql_type: Any, seen: set[str]) -> set[str]:
    """Every input field name reachable from an argument type (lists and nesting included)."""
    from graphql import GraphQLInputObjectType, get_named_type

    named = get_named_type(graphql_type)
    if not isinstance(named, GraphQLInputObjectType) or named.name in seen:
        return set()
    seen.add(named.name)
    names = set(named.fields)
    for field in named.fields.values():
        names |= _input_fields(field.type, seen)
    return names


def test_every_priced_input_is_in_the_override_table() -> None:
    # A new mutation that takes a line price must be added to PRICE_OVERRIDES.
    mutation = build_schema()._schema.mutation_type
    assert mutation is not None
    priced = {
        name
        for name, field in mutation.fields.items()
        if any("unitPrice" in _input_fields(arg.type, set()) for arg in field.args.values())
    }
    assert priced == set(PRICE_OVERRIDES)


@pytest.mark.parametrize("name", sorted(PRICE_OVERRIDES))
async def test_a_price_below_the_list_needs_price_override(
    gql, factory, raw_sql, name: str
) -> None:
    op, path = PRICE_OVERRIDES[name]
    seed = await _seed(factory)
    token = await factory.token(*(p for p in Permission if p is not P.SALE_PRICE_OVERRIDE))
    before = await _snapshot(raw_sql)
    payload = _payload(await gql(op.document, op.variables(seed), token=token), name)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FORBIDDEN", path)]
    assert payload["sale"] is None
    assert await _snapshot(raw_sql) == before


@pytest.mark.parametrize("name", sorted(PRICE_OVERRIDES))
async def test_a_price_override_is_recorded_on_the_line(gql, factory, name: str) -> None:
    op, _ = PRICE_OVERRIDES[name]
    seed = await _seed(factory)
    username, token = await factory.staff(P.SALE_CREATE, P.SALE_PRICE_OVERRIDE)
    payload = _payload(await gql(op.document, op.variables(seed), token=token), name)
    assert payload["errors"] == []
    [overridden] = [line for line in payload["sale"]["lines"] if line["priceOverride"]]
    assert overridden["unitPrice"] in {"0.00", "9.99"}
    override = overridden["priceOverride"]
    assert override["listPrice"] == "10.00"
    assert username in override["by"]
    assert override["staffUserId"] is not None
    assert override["tillId"] is None


async def test_logout_needs_only_a_session(gql, factory) -> None:
    token = await factory.token()
    body = await gql(MUTATIONS["logout"].document, token=token)
    assert _payload(body, "logout") == {"revoked": True, "errors": []}


# --- query fields without their permission ---------------------------------------------------


async def test_customers_without_customer_view_is_forbidden(gql, factory) -> None:
    await factory.customer()
    token = await factory.token(*(p for p in Permission if p is not P.CUSTOMER_VIEW))
    body = await gql("{ customers { totalCount edges { node { id } } } }", token=token)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["customers"]
    assert "CUSTOMER_VIEW" in body["errors"][0]["message"]


async def test_customer_without_customer_view_is_forbidden(gql, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(*(p for p in Permission if p is not P.CUSTOMER_VIEW))
    body = await gql(
        "query($id: ID!) { customer(id: $id) { id name } }", {"id": str(customer.id)}, token=token
    )
    assert body["data"] == {"customer": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_fields_for_any_authenticated_caller(gql, factory) -> None:
    username, token = await factory.staff()
    body = await gql(
        "{ me { username } viewer { kind permissions } stores { isHeadOffice } }", token=token
    )
    assert "errors" not in body, body
    assert body["data"]["me"] == {"username": username}
    assert body["data"]["viewer"] == {"kind": "SESSION", "permissions": []}
    assert body["data"]["stores"] == [{"isHeadOffice": True}]


AUDIT_QUERY = """
query($id: ID!) {
  customer(id: $id) { id name auditTrail { totalCount edges { node { action actor } } } }
}
"""


async def test_audit_trail_needs_audit_view(gql, factory) -> None:
    customer = await factory.customer(name="Audited")
    token = await factory.token(P.CUSTOMER_VIEW)
    body = await gql(AUDIT_QUERY, {"id": str(customer.id)}, token=token)
    # The customer is there; only its audit trail is refused.
    assert body["data"]["customer"]["id"] == str(customer.id)
    assert body["data"]["customer"]["name"] == "Audited"
    assert body["data"]["customer"]["auditTrail"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["customer", "auditTrail"]


async def test_audit_trail_with_audit_view(gql, factory) -> None:
    customer = await factory.customer(name="Audited")
    token = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)
    body = await gql(AUDIT_QUERY, {"id": str(customer.id)}, token=token)
    assert "errors" not in body, body
    trail = body["data"]["customer"]["auditTrail"]
    assert trail["totalCount"] >= 1
    assert "create" in [e["node"]["action"] for e in trail["edges"]]
