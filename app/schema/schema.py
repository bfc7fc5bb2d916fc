"""The schema object: every operation, its permission, and the extensions that guard execution."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)

from app.domain.permissions import Permission as P
from app.resolvers import (
    accounts,
    analytics,
    appointments,
    auth,
    business,
    customers,
    discount_audit,
    discounts,
    forecasts,
    groups,
    jobs,
    loyalty,
    loyalty_tiers,
    marketing,
    merge,
    notifications,
    photos,
    privacy,
    products,
    sales,
    sms_credits,
    staff,
    sync,
    webhooks,
)
from app.schema.account import (
    CustomerLoginPayload,
    CustomerLogoutPayload,
    CustomerPasswordResetRequestPayload,
    CustomerSelf,
    CustomerSelfPayload,
)
from app.schema.analytics import (
    ConsentRate,
    DiscountUsageRow,
    PointsLiability,
    SalesReportRow,
    SegmentCount,
)
from app.schema.appointment import Appointment, AppointmentConnection, AppointmentPayload
from app.schema.business import BusinessSettings, BusinessSettingsPayload
from app.schema.cost import CostCache, QueryCostLimit
from app.schema.customer import (
    Customer,
    CustomerConnection,
    CustomerDeletePayload,
    CustomerPayload,
    DuplicateCandidate,
)
from app.schema.discount import DiscountCodeConnection, DiscountCodePayload
from app.schema.discount_audit import DiscountAuditFindingConnection, DiscountAuditFindingPayload
from app.schema.forecast import DemandForecast, ReorderSuggestionConnection
from app.schema.group import (
    CustomerGroup,
    CustomerGroupConnection,
    CustomerGroupDeletePayload,
    CustomerGroupPayload,
)
from app.schema.introspection import IntrospectionNeedsLogin
from app.schema.job_run import JobRunConnection
from app.schema.limits import (
    MaskUnexpectedErrors,
    PageSizeLimit,
    RefuseLongNumbers,
    RefuseNulCharacters,
    Schema,
    depth_limit,
)
from app.schema.loyalty_tier import LoyaltyTier, LoyaltyTierDeletePayload, LoyaltyTierPayload
from app.schema.marketing import MarketingMessagePayload, MarketingUnsubscribePayload
from app.schema.notification import NotificationConnection
from app.schema.permissions import Requires, RequiresAny, RequiresCustomer
from app.schema.privacy import CustomerDataExportPayload
from app.schema.product import Product, ProductConnection, ProductPayload
from app.schema.sale import Sale, SaleConnection, SalePayload, SaleReturnPayload
from app.schema.scalars import FiniteDecimal
from app.schema.sms_credits import SmsCredits, SmsCreditsPayload
from app.schema.staff import (
    DonePayload,
    LoginPayload,
    LogoutPayload,
    Role,
    RoleDeletePayload,
    RolePayload,
    StaffSession,
    StaffUser,
    StaffUserPayload,
    Store,
    StorePayload,
    TillPayload,
    Viewer,
)
from app.schema.sync import CustomerChangeFeed, OfflineConflict, OfflineSyncPayload
from app.schema.webhook import (
    WebhookDeliveryConnection,
    WebhookEndpoint,
    WebhookEndpointDeletePayload,
    WebhookEndpointPayload,
)
from app.settings import Settings


@strawberry.type
class Query:
    me: StaffUser | None = strawberry.field(resolver=auth.me, extensions=[Requires()])
    viewer: Viewer | None = strawberry.field(resolver=auth.viewer, extensions=[Requires()])
    customer_me: CustomerSelf | None = strawberry.field(
        resolver=accounts.customer_me,
        description="The customer signed in to the online store (customerAccountLogin).",
        extensions=[RequiresCustomer()],
    )
    stores: list[Store] = strawberry.field(resolver=staff.stores, extensions=[Requires()])
    roles: list[Role] = strawberry.field(
        resolver=staff.roles, extensions=[Requires(P.STAFF_MANAGE)]
    )
    my_sessions: list[StaffSession] = strawberry.field(
        resolver=staff.my_sessions,
        description="The caller's own live login sessions.",
        extensions=[Requires()],
    )
    customer: Customer | None = strawberry.field(
        resolver=customers.customer, extensions=[Requires(P.CUSTOMER_VIEW)]
    )
    customers: CustomerConnection = strawberry.field(
        resolver=customers.customers, extensions=[Requires(P.CUSTOMER_VIEW)]
    )
    business_settings: BusinessSettings = strawberry.field(
        resolver=business.business_settings, extensions=[Requires()]
    )
    customer_groups: CustomerGroupConnection = strawberry.field(
        resolver=groups.customer_groups, extensions=[Requires(P.CUSTOMER_VIEW)]
    )
    customer_group: CustomerGroup | None = strawberry.field(
        resolver=groups.customer_group, extensions=[Requires(P.CUSTOMER_VIEW)]
    )
    customer_changes: CustomerChangeFeed = strawberry.field(
        resolver=sync.customer_changes,
        description="A store's change feed (default: the caller's store); tills read their own.",
        extensions=[Requires(P.CUSTOMER_VIEW)],
    )
    customer_duplicates: list[DuplicateCandidate] = strawberry.field(
        resolver=merge.customer_duplicates,
        description="Customers who are likely the same person as this one (seed 002: audits).",
        extensions=[Requires(P.CUSTOMER_VIEW)],
    )
    offline_customer_conflicts: list[OfflineConflict] = strawberry.field(
        resolver=sync.offline_customer_conflicts, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    appointment: Appointment | None = strawberry.field(
        resolver=appointments.appointment, extensions=[Requires(P.CUSTOMER_VIEW)]
    )
    appointments: AppointmentConnection = strawberry.field(
        resolver=appointments.appointments,
        description="A store's diary in start order, optionally between two moments.",
        extensions=[Requires(P.CUSTOMER_VIEW)],
    )
    discount_codes: DiscountCodeConnection = strawberry.field(
        resolver=discounts.discount_codes,
        description="All codes, or only active (true) / inactive (false) ones.",
        # Not CUSTOMER_VIEW: a till sees the code its customer holds (Customer.discount);
        # a list of every code would let a cashier pick one for anyone (seed 002: fraud).
        extensions=[Requires(P.DISCOUNT_MANAGE)],
    )
    # CUSTOMER_VIEW, as customerGroups: the ladder a customer climbs is no secret, and
    # nobody can hand a tier out (it is earned).
    loyalty_tiers: list[LoyaltyTier] = strawberry.field(
        resolver=loyalty_tiers.loyalty_tiers,
        description="The business's loyalty tiers, lowest rank first.",
        extensions=[Requires(P.CUSTOMER_VIEW)],
    )
    # A till looks up its sales (a receipt, a return); an analyst reports on them.
    sale: Sale | None = strawberry.field(
        resolver=sales.sale, extensions=[RequiresAny(P.SALE_CREATE, P.REPORT_VIEW)]
    )
    sales: SaleConnection = strawberry.field(
        resolver=sales.sales,
        description="Newest first, filtered by store, till, cashier, customer, status, dates.",
        extensions=[RequiresAny(P.SALE_CREATE, P.REPORT_VIEW)],
    )
    # Any caller: a till must find products to sell them; a price is no secret.
    product: Product | None = strawberry.field(resolver=products.product, extensions=[Requires()])
    products: ProductConnection = strawberry.field(
        resolver=products.products,
        description="Products in SKU order; search matches the start of a SKU or a name.",
        extensions=[Requires()],
    )
    webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
        resolver=webhooks.webhook_endpoints, extensions=[Requires(P.WEBHOOK_MANAGE)]
    )
    webhook_deliveries: WebhookDeliveryConnection = strawberry.field(
        resolver=webhooks.webhook_deliveries,
        description="What was sent to an endpoint and how it went, newest first.",
        extensions=[Requires(P.WEBHOOK_MANAGE)],
    )
    # AUDIT_VIEW: seeing what was sent and how it went is seeing what happened (issue 10
    # §6); managers hold it, cashiers do not, and it needs no new grant (no migration).
    # CUSTOMER_VIEW too, as Customer.notifications has through its customer: each row
    # names a customer and (masked) their address.
    # AUDIT_VIEW (DESIGN.md §3b); a store-bound caller sees only their store's findings.
    discount_audit_findings: DiscountAuditFindingConnection = strawberry.field(
        resolver=discount_audit.discount_audit_findings,
        description="What the discount-usage audit found, newest first (docs/analytics.md).",
        extensions=[Requires(P.AUDIT_VIEW)],
    )
    # Analysts' reports (issue 11 §5); a store-bound caller sees its own store only.
    demand_forecast: DemandForecast | None = strawberry.field(
        resolver=forecasts.demand_forecast,
        description="Last night's daily forecast of a product at a store, next `days` (1-28) "
        "days, with its backtest; null before the first nightly run or for a product the "
        "store never sold or stocked.",
        extensions=[Requires(P.REPORT_VIEW)],
    )
    reorder_suggestions: ReorderSuggestionConnection = strawberry.field(
        resolver=forecasts.reorder_suggestions,
        description="Products to order (suggested quantity above 0) from last night's "
        "forecasts, by store then product; all stores, or one.",
        extensions=[Requires(P.REPORT_VIEW)],
    )
    job_runs: JobRunConnection = strawberry.field(
        resolver=jobs.job_runs,
        description="Scheduled job runs, newest slot first: what ran, when, what it touched, "
        "and the error of a failed run.",
        extensions=[Requires(P.AUDIT_VIEW)],
    )
    notifications: NotificationConnection = strawberry.field(
        resolver=notifications.notifications,
        description="Emails and SMS to customers, newest first; filter by status, channel, "
        "scenario or customer.",
        extensions=[Requires(P.AUDIT_VIEW, P.CUSTOMER_VIEW)],
    )
    # Reports (issue 11 §4) read the daily aggregates; a store-bound caller gets their store.
    sales_report: list[SalesReportRow] = strawberry.field(
        resolver=analytics.sales_report,
        description="Sales from the daily aggregates, days `from` to `to` (both included), "
        "one row per combination of the dimensions in groupBy (none: one total row).",
        extensions=[Requires(P.REPORT_VIEW)],
    )
    customer_segments: list[SegmentCount] = strawberry.field(
        resolver=analytics.customer_segments,
        description="Customers and revenue per segment; with storeId, those who bought there.",
        extensions=[Requires(P.REPORT_VIEW)],
    )
    discount_usage: list[DiscountUsageRow] = strawberry.field(
        resolver=analytics.discount_usage,
        description="Discounts applied on days `from` to `to`, by source and cashier.",
        extensions=[Requires(P.REPORT_VIEW)],
    )
    # Chain-wide figures: points and consent belong to customers, who shop anywhere.
    points_liability: PointsLiability = strawberry.field(
        resolver=analytics.points_liability, extensions=[Requires(P.REPORT_VIEW, chain_wide=True)]
    )
    consent_rates: list[ConsentRate] = strawberry.field(
        resolver=analytics.consent_rates, extensions=[Requires(P.REPORT_VIEW, chain_wide=True)]
    )
    # SETTINGS_MANAGE, as DESIGN.md §3b says: buying credits is the shop's set-up.
    sms_credits: SmsCredits = strawberry.field(
        resolver=sms_credits.sms_credits, extensions=[Requires(P.SETTINGS_MANAGE)]
    )


@strawberry.type
class Mutation:
    # Open to anonymous callers (PUBLIC_OPERATIONS).
    login: LoginPayload = strawberry.mutation(resolver=auth.login)
    customer_account_login: CustomerLoginPayload = strawberry.mutation(
        resolver=accounts.customer_account_login,
        description="An online-store customer signs in with their email or phone; "
        "the token reads and changes only their own profile (customerMe).",
    )
    customer_password_reset_request: CustomerPasswordResetRequestPayload = strawberry.mutation(
        resolver=accounts.customer_password_reset_request,
        description="Send a single-use reset code by email, or by SMS where there is no email. "
        "The answer is the same whether or not the sign-in name exists.",
    )
    customer_password_reset: CustomerLoginPayload = strawberry.mutation(
        resolver=accounts.customer_password_reset,
        description="Set a new password with a reset code; signs the customer in.",
    )
    # The customer's own link (issue 10 §4): the signed token is the authority.
    marketing_unsubscribe: MarketingUnsubscribePayload = strawberry.mutation(
        resolver=marketing.marketing_unsubscribe,
        description="Unsubscribe with the token of a marketing message's link; anonymous.",
    )
    # The signed-in customer's own (RequiresCustomer): never a staff or till token.
    customer_me_update: CustomerSelfPayload = strawberry.mutation(
        resolver=accounts.customer_me_update, extensions=[RequiresCustomer()]
    )
    customer_me_consent_update: CustomerSelfPayload = strawberry.mutation(
        resolver=accounts.customer_me_consent_update,
        description="Subscribe to or unsubscribe from promotions on one channel.",
        extensions=[RequiresCustomer()],
    )
    customer_logout: CustomerLogoutPayload = strawberry.mutation(
        resolver=accounts.customer_logout, extensions=[RequiresCustomer()]
    )
    customer_account_invite: CustomerPayload = strawberry.mutation(
        resolver=accounts.customer_account_invite,
        description="(Re)send the registration message with a new initial password.",
        extensions=[Requires(P.CUSTOMER_MODIFY)],
    )
    logout: LogoutPayload = strawberry.mutation(resolver=auth.logout, extensions=[Requires()])
    store_create: StorePayload = strawberry.mutation(
        resolver=staff.store_create, extensions=[Requires(P.SETTINGS_MANAGE, chain_wide=True)]
    )
    till_create: TillPayload = strawberry.mutation(
        resolver=staff.till_create, extensions=[Requires(P.STAFF_MANAGE)]
    )
    role_create: RolePayload = strawberry.mutation(
        resolver=staff.role_create, extensions=[Requires(P.STAFF_MANAGE, chain_wide=True)]
    )
    staff_user_create: StaffUserPayload = strawberry.mutation(
        resolver=staff.staff_user_create, extensions=[Requires(P.STAFF_MANAGE)]
    )
    role_update: RolePayload = strawberry.mutation(
        resolver=staff.role_update, extensions=[Requires(P.STAFF_MANAGE, chain_wide=True)]
    )
    role_delete: RoleDeletePayload = strawberry.mutation(
        resolver=staff.role_delete,
        description="Refused (ROLE_IN_USE) while a staff user or a live till uses the role.",
        extensions=[Requires(P.STAFF_MANAGE, chain_wide=True)],
    )
    staff_user_update: StaffUserPayload = strawberry.mutation(
        resolver=staff.staff_user_update,
        description="Role, home store, active flag or a new password; takes effect at once.",
        extensions=[Requires(P.STAFF_MANAGE)],
    )
    till_revoke: TillPayload = strawberry.mutation(
        resolver=staff.till_revoke,
        description="A lost or stolen till: its device token stops working at once.",
        extensions=[Requires(P.STAFF_MANAGE)],
    )
    # Any staff session: everyone may change their own password and end their own sessions.
    staff_password_change: DonePayload = strawberry.mutation(
        resolver=staff.staff_password_change,
        description="Your own password; your other sessions end.",
        extensions=[Requires()],
    )
    session_end: DonePayload = strawberry.mutation(
        resolver=staff.session_end,
        description="End one of your own sessions (see mySessions).",
        extensions=[Requires()],
    )
    customer_create: CustomerPayload = strawberry.mutation(
        resolver=customers.customer_create,
        extensions=[Requires(P.CUSTOMER_ADD, when_given=("input", "sale_id", P.SALE_CREATE))],
    )
    customer_update: CustomerPayload = strawberry.mutation(
        resolver=customers.customer_update, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    customer_set_status: CustomerPayload = strawberry.mutation(
        resolver=customers.customer_set_status, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    customer_delete: CustomerDeletePayload = strawberry.mutation(
        resolver=customers.customer_delete, extensions=[Requires(P.CUSTOMER_DELETE)]
    )
    marketing_consent_update: CustomerPayload = strawberry.mutation(
        resolver=customers.marketing_consent_update,
        extensions=[Requires(P.CUSTOMER_MODIFY)],
    )
    customer_photo_set: CustomerPayload = strawberry.mutation(
        resolver=photos.customer_photo_set,
        description="Set the profile picture (seed 004) from a JPEG, PNG or WebP of at most "
        "5 MB, sent as a multipart request (GraphQL multipart request spec) with the header "
        "Apollo-Require-Preflight or X-Requested-With. Kept re-encoded, without metadata.",
        extensions=[Requires(P.CUSTOMER_MODIFY)],
    )
    customer_photo_remove: CustomerPayload = strawberry.mutation(
        resolver=photos.customer_photo_remove,
        description="Delete the profile picture; its URLs stop working at once.",
        extensions=[Requires(P.CUSTOMER_MODIFY)],
    )
    business_settings_update: BusinessSettingsPayload = strawberry.mutation(
        resolver=business.business_settings_update,
        extensions=[Requires(P.SETTINGS_MANAGE, chain_wide=True)],
    )
    customer_merge: CustomerPayload = strawberry.mutation(
        resolver=merge.customer_merge,
        description="Fold sourceId into targetId; the source stays as a MERGED pointer.",
        # Merging retires a customer record for good, as deleting does.
        extensions=[Requires(P.CUSTOMER_DELETE)],
    )
    customer_data_export: CustomerDataExportPayload = strawberry.mutation(
        resolver=privacy.customer_data_export,
        description="Everything held about one customer, as one JSON document (a privacy "
        "request; docs/privacy.md). Audited: who exported, never what.",
        extensions=[Requires(P.CUSTOMER_VIEW_PII)],
    )
    customer_erase: CustomerPayload = strawberry.mutation(
        resolver=privacy.customer_erase,
        description="Pseudonymise a customer for good (a privacy request): personal data "
        "goes from the profile, the audit trail, messages and feeds; sales, points and "
        "what they owe stay. Irreversible; docs/privacy.md.",
        # Erasing ends a person's record for good, as deleting does.
        extensions=[Requires(P.CUSTOMER_DELETE)],
    )
    customer_download_to_store: CustomerPayload = strawberry.mutation(
        resolver=sync.customer_download_to_store, extensions=[Requires(P.CUSTOMER_ADD)]
    )
    customer_sync_offline: OfflineSyncPayload = strawberry.mutation(
        resolver=sync.customer_sync_offline, extensions=[Requires(P.CUSTOMER_ADD)]
    )
    offline_customer_resolve: OfflineSyncPayload = strawberry.mutation(
        resolver=sync.offline_customer_resolve, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    customer_group_create: CustomerGroupPayload = strawberry.mutation(
        resolver=groups.customer_group_create, extensions=[Requires(P.CUSTOMER_GROUP_MANAGE)]
    )
    customer_group_update: CustomerGroupPayload = strawberry.mutation(
        resolver=groups.customer_group_update, extensions=[Requires(P.CUSTOMER_GROUP_MANAGE)]
    )
    customer_group_delete: CustomerGroupDeletePayload = strawberry.mutation(
        resolver=groups.customer_group_delete, extensions=[Requires(P.CUSTOMER_GROUP_MANAGE)]
    )
    customer_group_add_customers: CustomerGroupPayload = strawberry.mutation(
        resolver=groups.customer_group_add_customers,
        extensions=[Requires(P.CUSTOMER_GROUP_MANAGE)],
    )
    customer_group_remove_customers: CustomerGroupPayload = strawberry.mutation(
        resolver=groups.customer_group_remove_customers,
        extensions=[Requires(P.CUSTOMER_GROUP_MANAGE)],
    )
    # CUSTOMER_MODIFY: booking is customer service at the desk, like editing a profile;
    # no money or benefit changes hands, so it needs no permission of its own.
    appointment_create: AppointmentPayload = strawberry.mutation(
        resolver=appointments.appointment_create, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    appointment_reschedule: AppointmentPayload = strawberry.mutation(
        resolver=appointments.appointment_reschedule, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    appointment_cancel: AppointmentPayload = strawberry.mutation(
        resolver=appointments.appointment_cancel, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    appointment_complete: AppointmentPayload = strawberry.mutation(
        resolver=appointments.appointment_complete, extensions=[Requires(P.CUSTOMER_MODIFY)]
    )
    discount_code_create: DiscountCodePayload = strawberry.mutation(
        resolver=discounts.discount_code_create, extensions=[Requires(P.DISCOUNT_MANAGE)]
    )
    discount_code_update: DiscountCodePayload = strawberry.mutation(
        resolver=discounts.discount_code_update, extensions=[Requires(P.DISCOUNT_MANAGE)]
    )
    # DISCOUNT_MANAGE, not CUSTOMER_MODIFY: every cashier may edit a profile, but giving
    # a customer a preferential rate is the benefit seed 002 says must not be misused.
    customer_discount_assign: CustomerPayload = strawberry.mutation(
        resolver=discounts.customer_discount_assign,
        description="Give the customer an active code, replacing the one they held.",
        extensions=[Requires(P.DISCOUNT_MANAGE)],
    )
    customer_discount_remove: CustomerPayload = strawberry.mutation(
        resolver=discounts.customer_discount_remove, extensions=[Requires(P.DISCOUNT_MANAGE)]
    )
    # DISCOUNT_MANAGE, as discount codes: a tier gives discounts and points to everyone
    # who reaches it (seed 002: benefits set by those trusted with them); chain-wide, as
    # the tiers apply in every store.
    loyalty_tier_create: LoyaltyTierPayload = strawberry.mutation(
        resolver=loyalty_tiers.loyalty_tier_create,
        description="A new tier; customers reach it at their next sale or that night.",
        extensions=[Requires(P.DISCOUNT_MANAGE, chain_wide=True)],
    )
    loyalty_tier_update: LoyaltyTierPayload = strawberry.mutation(
        resolver=loyalty_tiers.loyalty_tier_update,
        description="Change a tier; its discount and multiplier apply to its holders at once.",
        extensions=[Requires(P.DISCOUNT_MANAGE, chain_wide=True)],
    )
    loyalty_tier_delete: LoyaltyTierDeletePayload = strawberry.mutation(
        resolver=loyalty_tiers.loyalty_tier_delete,
        description="Delete a tier; its holders hold none until re-evaluated (audited).",
        extensions=[Requires(P.DISCOUNT_MANAGE, chain_wide=True)],
    )
    loyalty_card_issue: CustomerPayload = strawberry.mutation(
        resolver=loyalty.loyalty_card_issue,
        description="Give the customer a card; a saved card never changes (seed 001).",
        # A card carries a discount: a benefit, handed out by those who run the program
        # (seed 002 warns against benefits given out by anyone).
        extensions=[Requires(P.LOYALTY_ADJUST)],
    )
    loyalty_card_replace: CustomerPayload = strawberry.mutation(
        resolver=loyalty.loyalty_card_replace,
        description="Replace a lost card: the old number stops working, the points stay.",
        extensions=[Requires(P.CUSTOMER_MODIFY)],
    )
    discount_audit_finding_update: DiscountAuditFindingPayload = strawberry.mutation(
        resolver=discount_audit.discount_audit_finding_update,
        description="Triage a finding: CONFIRMED, DISMISSED or back to OPEN, with a note.",
        extensions=[Requires(P.AUDIT_VIEW)],
    )
    # LOYALTY_ADJUST, not CUSTOMER_MODIFY: points are worth money at the till.
    loyalty_points_adjust: CustomerPayload = strawberry.mutation(
        resolver=loyalty.loyalty_points_adjust,
        description="Add or take points with a reason; the balance never goes below zero.",
        extensions=[Requires(P.LOYALTY_ADJUST)],
    )
    # SETTINGS_MANAGE: there is no PRODUCT_* permission, and the catalogue (prices above
    # all: a till charges what it says) is shop-wide set-up, like stores and settings.
    sale_create: SalePayload = strawberry.mutation(
        resolver=sales.sale_create,
        description="Open a sale with lines; no customer: a walk-in sale.",
        extensions=[Requires(P.SALE_CREATE)],
    )
    sale_add_lines: SalePayload = strawberry.mutation(
        resolver=sales.sale_add_lines, extensions=[Requires(P.SALE_CREATE)]
    )
    sale_update_line: SalePayload = strawberry.mutation(
        resolver=sales.sale_update_line, extensions=[Requires(P.SALE_CREATE)]
    )
    sale_remove_line: SalePayload = strawberry.mutation(
        resolver=sales.sale_remove_line, extensions=[Requires(P.SALE_CREATE)]
    )
    sale_assign_customer: SalePayload = strawberry.mutation(
        resolver=sales.sale_assign_customer,
        description="Put a customer on an open sale (or change them); re-prices at once.",
        extensions=[Requires(P.SALE_CREATE)],
    )
    sale_remove_customer: SalePayload = strawberry.mutation(
        resolver=sales.sale_remove_customer, extensions=[Requires(P.SALE_CREATE)]
    )
    sale_complete: SalePayload = strawberry.mutation(
        resolver=sales.sale_complete,
        description="Take payment; a retried idempotencyKey returns the first result.",
        extensions=[Requires(P.SALE_CREATE)],
    )
    sale_void: SalePayload = strawberry.mutation(
        resolver=sales.sale_void,
        description="Void an open or completed sale: points, stock and credit are restored.",
        extensions=[Requires(P.SALE_VOID)],
    )
    # SALE_CREATE: the cashier takes the money at the till, as for a sale.
    customer_account_payment: CustomerPayload = strawberry.mutation(
        resolver=sales.customer_account_payment,
        description="Take a payment towards what the customer owes from credit sales.",
        extensions=[Requires(P.SALE_CREATE)],
    )
    # SALE_VOID: a return takes money out of the till, as undoing a sale does.
    sale_return: SaleReturnPayload = strawberry.mutation(
        resolver=sales.sale_return,
        description="Take back goods of a completed sale; refunds their share.",
        extensions=[Requires(P.SALE_VOID)],
    )
    product_create: ProductPayload = strawberry.mutation(
        resolver=products.product_create, extensions=[Requires(P.SETTINGS_MANAGE)]
    )
    product_update: ProductPayload = strawberry.mutation(
        resolver=products.product_update, extensions=[Requires(P.SETTINGS_MANAGE)]
    )
    product_stock_set: ProductPayload = strawberry.mutation(
        resolver=products.product_stock_set,
        description="A stock take: on hand in the store becomes onHand.",
        extensions=[Requires(P.SETTINGS_MANAGE)],
    )
    product_stock_adjust: ProductPayload = strawberry.mutation(
        resolver=products.product_stock_adjust,
        description="Add delta to on hand (a delivery; negative: breakage), with a reason.",
        extensions=[Requires(P.SETTINGS_MANAGE)],
    )
    # WEBHOOK_MANAGE: an endpoint sends the shop's events out of the building (issue 10).
    webhook_endpoint_create: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.webhook_endpoint_create,
        description="A new endpoint; the answer shows its secret, the only time it is shown.",
        extensions=[Requires(P.WEBHOOK_MANAGE, chain_wide=True)],
    )
    webhook_endpoint_update: WebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.webhook_endpoint_update,
        description="Change URL, events or isActive (true re-enables), or rotate the secret.",
        extensions=[Requires(P.WEBHOOK_MANAGE, chain_wide=True)],
    )
    webhook_endpoint_delete: WebhookEndpointDeletePayload = strawberry.mutation(
        resolver=webhooks.webhook_endpoint_delete,
        description="Remove an endpoint with its delivery history; queued deliveries stop.",
        extensions=[Requires(P.WEBHOOK_MANAGE, chain_wide=True)],
    )
    # SETTINGS_MANAGE (DESIGN.md §3b), chain-wide: a send reaches every store's
    # customers and spends the chain's SMS credits, so a store-bound manager may not.
    marketing_message_send: MarketingMessagePayload = strawberry.mutation(
        resolver=marketing.marketing_message_send,
        description="Queue the shop's message to its subscribers on a channel, or a group of "
        "them; SMS credits for all recipients are reserved at once.",
        extensions=[Requires(P.SETTINGS_MANAGE, chain_wide=True)],
    )
    sms_credits_add: SmsCreditsPayload = strawberry.mutation(
        resolver=sms_credits.sms_credits_add,
        description="Top up SMS credits by amount segments; reference: what paid for them.",
        extensions=[Requires(P.SETTINGS_MANAGE, chain_wide=True)],
    )


# Open to anonymous callers: sign-in, for staff and for online-store customers, and the
# unsubscribe link of a marketing message (its signed token is the authority).
PUBLIC_OPERATIONS = frozenset(
    {
        "login",
        "customerAccountLogin",
        "customerPasswordResetRequest",
        "customerPasswordReset",
        "marketingUnsubscribe",
    }
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    settings = settings or Settings()
    # The rule classes are built once: ValidationCache keys on them, so a class per
    # request would make every validation a miss.
    rules = [
        depth_limit(settings.max_query_depth),
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    # One cache for the schema's life, shared by every request, like the rules above.
    costs = CostCache(maxsize=512)
    # Absent when public: nothing to check for the embedded single shop.
    introspection = [] if settings.public_introspection else [IntrospectionNeedsLogin]
    return Schema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={Decimal: FiniteDecimal},
        extensions=[
            # Factories: extensions hold per-operation state, so each request gets its own.
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=512),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=512),
            RefuseLongNumbers,
            lambda: PageSizeLimit(settings.max_page_size),
            *introspection,
            lambda: QueryCostLimit(settings.max_query_cost, costs),
            RefuseNulCharacters,
            MaskUnexpectedErrors,
        ],
    )
