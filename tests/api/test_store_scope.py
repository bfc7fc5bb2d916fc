"""Store scope (issue 9): a caller bound to a store acts only at that store.

The sweep: every store-scoped operation is called by store HB's till and by HB's manager
(a staff user without STORE_ALL) with store DT's objects and ids. Each must answer
FORBIDDEN and change nothing. Every other operation is listed in CHAIN_WIDE with the
reason it is not store-scoped, so a new operation fails the coverage test until someone
decides which it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.domain.permissions import Permission
from app.domain.tiers import TierBasis
from app.schema.schema import build_schema
from app.services.customers import CustomerCreate
from app.services.loyalty_tiers import LoyaltyTierService, TierDraft
from app.services.sales import LineDraft, SaleCreate
from app.services.store_sync import StoreSyncService
from app.services.webhooks.endpoints import WebhookEndpointService
from tests.api.test_permissions import _snapshot
from tests.discount_audit_world import finding as audit_finding

P = Permission
# A public address written as a literal: the guard accepts it without a DNS query; the
# endpoint is made for an event nothing here causes, and no worker runs to deliver.
PUBLIC_HOOK = "https://93.184.215.14/hooks"
EVERYTHING_BUT_STORE_ALL = [p for p in Permission if p is not P.STORE_ALL]


@dataclass(frozen=True)
class Other:
    """Store DT's objects, which HB's callers must not touch."""

    store_id: str
    till_id: str
    customer_id: str
    product_id: str
    sku: str
    open_sale_id: str
    open_line_id: str
    completed_sale_id: str
    appointment_id: str
    appointment_version: int
    conflict_client_id: str
    role_id: str
    spare_role_id: str
    webhook_endpoint_id: str
    finding_id: str
    tier_id: str


@dataclass(frozen=True)
class Scoped:
    document: str
    variables: Callable[[Other], dict[str, Any]]
    # Where the payload is (mutations) or None for a query field refused at the top level.
    payload: str | None = None
    # Only staff users can name a till; a till's token always sells at its own.
    staff_only: bool = False


def _soon() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _mutation(name: str, args: str, variables: Callable[[Other], dict[str, Any]]) -> Scoped:
    declared, passed = args.split("|")
    head = f"mutation({declared})" if declared else "mutation"
    return Scoped(
        f"{head} {{ {name}({passed}) {{ errors {{ code field }} }} }}",
        variables,
        payload=name,
    )


SCOPED_MUTATIONS: dict[str, Scoped] = {
    "saleCreate": _mutation(
        "saleCreate",
        "$s: ID!, $sku: String!|input: {storeId: $s, lines: [{sku: $sku}]}",
        lambda o: {"s": o.store_id, "sku": o.sku},
    ),
    "saleAddLines": _mutation(
        "saleAddLines",
        "$id: ID!, $sku: String!|saleId: $id, lines: [{sku: $sku}]",
        lambda o: {"id": o.open_sale_id, "sku": o.sku},
    ),
    "saleUpdateLine": _mutation(
        "saleUpdateLine",
        "$id: ID!, $line: ID!|saleId: $id, lineId: $line, input: {quantity: 5}",
        lambda o: {"id": o.open_sale_id, "line": o.open_line_id},
    ),
    "saleRemoveLine": _mutation(
        "saleRemoveLine",
        "$id: ID!, $line: ID!|saleId: $id, lineId: $line",
        lambda o: {"id": o.open_sale_id, "line": o.open_line_id},
    ),
    "saleAssignCustomer": _mutation(
        "saleAssignCustomer",
        "$id: ID!, $c: ID!|saleId: $id, customerId: $c",
        lambda o: {"id": o.open_sale_id, "c": o.customer_id},
    ),
    "saleRemoveCustomer": _mutation(
        "saleRemoveCustomer", "$id: ID!|saleId: $id", lambda o: {"id": o.open_sale_id}
    ),
    "saleComplete": _mutation(
        "saleComplete",
        "$id: ID!|saleId: $id, input: {payment: CASH}",
        lambda o: {"id": o.open_sale_id},
    ),
    "saleVoid": _mutation(
        "saleVoid", "$id: ID!|saleId: $id", lambda o: {"id": o.completed_sale_id}
    ),
    "productStockSet": _mutation(
        "productStockSet",
        "$p: ID!, $s: ID!|productId: $p, onHand: 3, storeId: $s",
        lambda o: {"p": o.product_id, "s": o.store_id},
    ),
    "productStockAdjust": _mutation(
        "productStockAdjust",
        '$p: ID!, $s: ID!|productId: $p, delta: 5, reason: "delivery", storeId: $s',
        lambda o: {"p": o.product_id, "s": o.store_id},
    ),
    "appointmentCreate": _mutation(
        "appointmentCreate",
        "$c: ID!, $s: ID!, $at: DateTime!|customerId: $c, "
        'input: {service: "Cut", startsAt: $at, storeId: $s}',
        lambda o: {"c": o.customer_id, "s": o.store_id, "at": _soon()},
    ),
    "appointmentReschedule": _mutation(
        "appointmentReschedule",
        "$id: ID!, $v: Int!, $at: DateTime!|id: $id, input: {expectedVersion: $v, startsAt: $at}",
        lambda o: {"id": o.appointment_id, "v": o.appointment_version, "at": _soon()},
    ),
    "appointmentCancel": _mutation(
        "appointmentCancel", "$id: ID!|id: $id", lambda o: {"id": o.appointment_id}
    ),
    "appointmentComplete": _mutation(
        "appointmentComplete", "$id: ID!|id: $id", lambda o: {"id": o.appointment_id}
    ),
    "offlineCustomerResolve": _mutation(
        "offlineCustomerResolve",
        "$k: ID!, $c: ID!|clientId: $k, customerId: $c",
        lambda o: {"k": o.conflict_client_id, "c": o.customer_id},
    ),
    # Customers are read chain-wide, but all of a person goes only to the stores holding
    # them (issue 13): this one's home is the head office, and HB never downloaded them.
    "customerDataExport": _mutation(
        "customerDataExport", "$c: ID!|id: $c", lambda o: {"c": o.customer_id}
    ),
    "customerErase": _mutation(
        "customerErase",
        '$c: ID!|id: $c, reason: "asked in writing"',
        lambda o: {"c": o.customer_id},
    ),
    "customerDownloadToStore": _mutation(
        "customerDownloadToStore",
        "$c: ID!, $s: ID!|customerId: $c, storeId: $s",
        lambda o: {"c": o.customer_id, "s": o.store_id},
    ),
    "customerSyncOffline": _mutation(
        "customerSyncOffline",
        "$s: ID!, $k: ID!|storeId: $s, customers: [{clientId: $k, "
        'customer: {name: "Offline", phone: "+12125550111"}}]',
        lambda o: {"s": o.store_id, "k": str(uuid.uuid4())},
    ),
    # The chain's set-up: shared by every store, so only a chain-wide caller changes it.
    "storeCreate": _mutation(
        "storeCreate", '|input: {code: "ZZ", name: "Elsewhere"}', lambda o: {}
    ),
    "roleCreate": _mutation(
        "roleCreate", '|input: {name: "Stock", permissions: [CUSTOMER_VIEW]}', lambda o: {}
    ),
    "roleUpdate": _mutation(
        "roleUpdate",
        '$id: ID!|id: $id, input: {name: "dt-till", permissions: [SALE_CREATE, SALE_VOID]}',
        lambda o: {"id": o.role_id},
    ),
    "roleDelete": _mutation("roleDelete", "$id: ID!|id: $id", lambda o: {"id": o.spare_role_id}),
    "businessSettingsUpdate": _mutation(
        "businessSettingsUpdate",
        '|input: {pointsPerCurrencyUnit: "2.5"}',
        lambda o: {},
    ),
    "webhookEndpointCreate": _mutation(
        "webhookEndpointCreate",
        f'|input: {{url: "{PUBLIC_HOOK}", events: ["consent.changed"]}}',
        lambda o: {},
    ),
    "webhookEndpointUpdate": _mutation(
        "webhookEndpointUpdate",
        '$id: ID!|id: $id, input: {events: ["customer.created"]}',
        lambda o: {"id": o.webhook_endpoint_id},
    ),
    "webhookEndpointDelete": _mutation(
        "webhookEndpointDelete", "$id: ID!|id: $id", lambda o: {"id": o.webhook_endpoint_id}
    ),
    "discountAuditFindingUpdate": _mutation(
        "discountAuditFindingUpdate",
        "$id: ID!|id: $id, status: DISMISSED",
        lambda o: {"id": o.finding_id},
    ),
    # Chain-wide set-up (the tiers apply in every store): refused to store-bound callers.
    "loyaltyTierCreate": _mutation(
        "loyaltyTierCreate",
        '|input: {name: "Silver", rank: 1, basis: SPEND, threshold: "50", windowDays: 365}',
        lambda o: {},
    ),
    "loyaltyTierUpdate": _mutation(
        "loyaltyTierUpdate",
        "$id: ID!|id: $id, input: {windowDays: 30}",
        lambda o: {"id": o.tier_id},
    ),
    "loyaltyTierDelete": _mutation(
        "loyaltyTierDelete", "$id: ID!|id: $id", lambda o: {"id": o.tier_id}
    ),
    "smsCreditsAdd": _mutation("smsCreditsAdd", '|amount: 5, reference: "INV-1"', lambda o: {}),
    "marketingMessageSend": _mutation(
        "marketingMessageSend",
        '|input: {channel: EMAIL, subject: "Sale", body: "All -20%"}',
        lambda o: {},
    ),
}

# A staff user naming another store's till: the till decides the store.
TILL_OF_ANOTHER_STORE = Scoped(
    "mutation($t: ID!, $sku: String!) { saleCreate(input: {tillId: $t, lines: [{sku: $sku}]}) "
    "{ errors { code field } } }",
    lambda o: {"t": o.till_id, "sku": o.sku},
    payload="saleCreate",
    staff_only=True,
)

SCOPED_QUERIES: dict[str, Scoped] = {
    "discountAuditFindings": Scoped(
        "query($s: ID!) { discountAuditFindings(filter: {storeId: $s}) { totalCount } }",
        lambda o: {"s": o.store_id},
    ),
    "salesReport": Scoped(
        'query($s: ID!) { salesReport(from: "2026-01-01", to: "2026-01-31", groupBy: [STORE], '
        "filter: {storeId: $s}) { sales } }",
        lambda o: {"s": o.store_id},
    ),
    "customerSegments": Scoped(
        "query($s: ID!) { customerSegments(storeId: $s) { customers } }",
        lambda o: {"s": o.store_id},
    ),
    "discountUsage": Scoped(
        'query($s: ID!) { discountUsage(from: "2026-01-01", to: "2026-01-31", storeId: $s) '
        "{ sales } }",
        lambda o: {"s": o.store_id},
    ),
    "sales": Scoped(
        "query($s: ID!) { sales(filter: {storeId: $s}) { totalCount } }",
        lambda o: {"s": o.store_id},
    ),
    "appointments": Scoped(
        "query($s: ID!) { appointments(storeId: $s) { totalCount edges { node { note } } } }",
        lambda o: {"s": o.store_id},
    ),
    "offlineCustomerConflicts": Scoped(
        "query($s: ID!) { offlineCustomerConflicts(storeId: $s) { clientId } }",
        lambda o: {"s": o.store_id},
    ),
    "customerChanges": Scoped(
        "query($s: ID!) { customerChanges(storeId: $s) { endCursor } }",
        lambda o: {"s": o.store_id},
    ),
    "demandForecast": Scoped(
        "query($p: ID!, $s: ID!) { demandForecast(productId: $p, storeId: $s) { method } }",
        lambda o: {"p": o.product_id, "s": o.store_id},
    ),
    "reorderSuggestions": Scoped(
        "query($s: ID!) { reorderSuggestions(storeId: $s) { totalCount } }",
        lambda o: {"s": o.store_id},
    ),
}

# Not store-scoped, and why. A new operation must be put here or in a table above.
CHAIN_WIDE_MUTATIONS = {
    "login": "anonymous; no store yet",
    "customerAccountLogin": "an online-store customer; no store",
    "customerPasswordResetRequest": "an online-store customer; no store",
    "customerPasswordReset": "an online-store customer; no store",
    "customerMeUpdate": "the signed-in customer's own profile",
    "customerMeConsentUpdate": "the signed-in customer's own consent",
    "customerLogout": "the signed-in customer's own session",
    "customerAccountInvite": "customers and their accounts are chain-wide",
    "marketingUnsubscribe": "anonymous: the customer's own link",
    "logout": "ends the caller's own session",
    "tillCreate": "staff management; its store rule is tested in test_staff_management",
    "staffUserUpdate": "staff management; its store rule is tested in test_staff_management",
    "tillRevoke": "staff management; its store rule is tested in test_staff_management",
    "staffPasswordChange": "the caller's own password",
    "sessionEnd": "the caller's own session",
    "staffUserCreate": "staff management; its store rule is tested in test_staff_management",
    "customerCreate": "customers are chain-wide: a customer shops anywhere",
    "customerUpdate": "customers are chain-wide",
    "customerSetStatus": "customers are chain-wide",
    "customerDelete": "customers are chain-wide",
    "marketingConsentUpdate": "customers are chain-wide",
    "customerPhotoSet": "customers are chain-wide, their pictures with them",
    "customerPhotoRemove": "customers are chain-wide, their pictures with them",
    "customerMerge": "customers are chain-wide",
    "customerGroupCreate": "groups are chain-wide programmes",
    "customerGroupUpdate": "groups are chain-wide programmes",
    "customerGroupDelete": "groups are chain-wide programmes",
    "customerGroupAddCustomers": "groups are chain-wide programmes",
    "customerGroupRemoveCustomers": "groups are chain-wide programmes",
    "discountCodeCreate": "codes are chain-wide programmes",
    "discountCodeUpdate": "codes are chain-wide programmes",
    "customerDiscountAssign": "customers are chain-wide",
    "customerDiscountRemove": "customers are chain-wide",
    "loyaltyCardIssue": "cards work at every store",
    "loyaltyCardReplace": "cards work at every store",
    "loyaltyPointsAdjust": "points belong to the customer, not a store",
    "customerAccountPayment": "a customer's account is paid off at any store",
    "saleReturn": "goods come back at any store; refunded at the caller's (tested below)",
    "productCreate": "the catalogue is chain-wide",
    "productUpdate": "the catalogue is chain-wide",
}
CHAIN_WIDE_QUERIES = {
    "me": "the caller",
    "customerMe": "the signed-in customer",
    "jobRuns": "the chain's scheduled jobs; AUDIT_VIEW",
    "viewer": "the caller",
    "stores": "names and codes of the chain's stores",
    "roles": "roles are chain-wide",
    "mySessions": "the caller's own sessions",
    "customer": "customers are chain-wide",
    "customers": "customers are chain-wide",
    "businessSettings": "chain-wide settings",
    "customerGroups": "groups are chain-wide",
    "loyaltyTiers": "the tiers are chain-wide, as groups",
    "customerGroup": "groups are chain-wide",
    "customerDuplicates": "customers are chain-wide",
    "appointment": "one booking by id, as the customer's history shows it",
    "discountCodes": "codes are chain-wide",
    "sale": "one sale by id: a receipt is looked up for a return at any store",
    "product": "the catalogue, with stock per store to send a customer elsewhere",
    "products": "the catalogue",
    "smsCredits": "credits are bought for the whole chain",
    "webhookEndpoints": "integrations are chain-wide set-up",
    "webhookDeliveries": "integrations are chain-wide set-up",
    "notifications": "customers are chain-wide, and their messages with them",
    "pointsLiability": "a chain-wide figure; store-bound callers are refused (chain_wide)",
    "consentRates": "a chain-wide figure; store-bound callers are refused (chain_wide)",
}


def _fields(type_name: str) -> set[str]:
    graphql_type = build_schema()._schema.get_type(type_name)
    assert graphql_type is not None
    return set(graphql_type.fields)  # type: ignore[union-attr]


def test_every_mutation_is_scoped_or_declared_chain_wide() -> None:
    assert set(SCOPED_MUTATIONS).isdisjoint(CHAIN_WIDE_MUTATIONS)
    assert set(SCOPED_MUTATIONS) | set(CHAIN_WIDE_MUTATIONS) == _fields("Mutation")


def test_every_query_field_is_scoped_or_declared_chain_wide() -> None:
    assert set(SCOPED_QUERIES).isdisjoint(CHAIN_WIDE_QUERIES)
    assert set(SCOPED_QUERIES) | set(CHAIN_WIDE_QUERIES) == _fields("Query")


# --- the stores and their callers ------------------------------------------------------------


@pytest.fixture
async def other(factory: Any) -> Other:
    """Store DT with a till, an open and a completed sale, a booking and an offline conflict."""
    dt = await factory.store("DT")
    role = await factory.auth().create_role("dt-till", [P.SALE_CREATE])
    till = await factory.auth().create_till(dt.id, "DT 1", role.value.id)
    assert till.value
    customer = await factory.customer()
    product = await factory.product("MUG", "5.00", stock={dt.id: 10})
    sales = factory.sales()
    opened = await sales.create(
        SaleCreate(lines=(LineDraft("MUG", 1),), store_id=dt.id, customer_id=customer.id)
    )
    assert opened.value
    lines = await sales.lines_for([opened.value.id])
    completed = await factory.completed_sale(customer.id, [("MUG", 1)], store_id=dt.id)
    appointment = await factory.appointment(customer.id, store_id=dt.id)
    conflict = uuid.uuid4()
    synced = await StoreSyncService(factory.runtime.tx, factory.settings, None).sync_offline(
        dt.id, [(conflict, CustomerCreate(name="Unreadable", phone="12"))]
    )
    assert synced.value
    assert synced.value[0].status == "CONFLICT"
    spare = await factory.auth().create_role("spare", [P.CUSTOMER_VIEW])
    # Subscribed to an event no operation here causes; behind the address guard's back (a
    # settings copy), to 127.0.0.1's discard port only.
    local = factory.settings.model_copy(update={"webhook_allow_private": True})
    endpoint = await WebhookEndpointService(factory.runtime.tx, local, None).create(
        "http://127.0.0.1:9/never", ["consent.changed"]
    )
    assert endpoint.value
    tier = await LoyaltyTierService(factory.runtime.tx, None).create(
        TierDraft("Gold", 9, TierBasis.SPEND, Decimal("500"), 365)
    )
    assert tier.value, tier.errors
    finding = await audit_finding(factory.runtime.db, store_id=dt.id, sale_id=completed.id)
    return Other(
        finding_id=str(finding),
        store_id=str(dt.id),
        till_id=str(till.value.till.id),
        customer_id=str(customer.id),
        product_id=str(product.id),
        sku="MUG",
        open_sale_id=str(opened.value.id),
        open_line_id=str(lines[opened.value.id][0].id),
        completed_sale_id=str(completed.id),
        appointment_id=str(appointment.id),
        appointment_version=appointment.version,
        conflict_client_id=str(conflict),
        role_id=str(role.value.id),
        spare_role_id=str(spare.value.id),
        webhook_endpoint_id=str(endpoint.value.id),
        tier_id=str(tier.value.id),
    )


@pytest.fixture
async def hb(factory: Any) -> uuid.UUID:
    return (await factory.store("HB")).id  # type: ignore[no-any-return]


async def _caller(factory: Any, kind: str, store_id: uuid.UUID) -> str:
    if kind == "till":
        # Even a till whose role holds STORE_ALL is bound to its store.
        return await factory.till(store_id, *Permission)  # type: ignore[no-any-return]
    return await factory.token(*EVERYTHING_BUT_STORE_ALL, store_id=store_id)  # type: ignore[no-any-return]


CALLERS = ["till", "manager"]
SWEEP = [
    *((name, kind) for name in sorted(SCOPED_MUTATIONS) for kind in CALLERS),
    ("saleCreate(tillId)", "manager"),
]


def _op(name: str) -> Scoped:
    return TILL_OF_ANOTHER_STORE if name == "saleCreate(tillId)" else SCOPED_MUTATIONS[name]


@pytest.mark.parametrize(("name", "kind"), SWEEP)
async def test_another_stores_objects_are_forbidden_and_unchanged(
    gql, factory, raw_sql, other: Other, hb: uuid.UUID, name: str, kind: str
) -> None:
    op = _op(name)
    token = await _caller(factory, kind, hb)
    before = await _snapshot(raw_sql)
    body = await gql(op.document, op.variables(other), token=token)
    assert "errors" not in body, body
    errors = body["data"][op.payload]["errors"]
    assert [e["code"] for e in errors] == ["FORBIDDEN"], (name, errors)
    assert await _snapshot(raw_sql) == before


@pytest.mark.parametrize(("name", "kind"), SWEEP)
async def test_a_chain_wide_caller_gets_past_the_store_rule(
    gql, factory, other: Other, hb: uuid.UUID, name: str, kind: str
) -> None:
    """The control: the same calls from a STORE_ALL user at HB are not refused for the store."""
    op = _op(name)
    token = await factory.token(*Permission, store_id=hb)
    body = await gql(op.document, op.variables(other), token=token)
    assert "errors" not in body, body
    assert body["data"][op.payload]["errors"] == [], (name, kind)


@pytest.mark.parametrize("name", sorted(SCOPED_QUERIES))
@pytest.mark.parametrize("kind", CALLERS)
async def test_another_stores_lists_are_forbidden(
    gql, factory, other: Other, hb: uuid.UUID, name: str, kind: str
) -> None:
    op = SCOPED_QUERIES[name]
    token = await _caller(factory, kind, hb)
    body = await gql(op.document, op.variables(other), token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert body["data"] is None or body["data"][name] is None
    chain_wide = await factory.token(*Permission, store_id=hb)
    allowed = await gql(op.document, op.variables(other), token=chain_wide)
    assert "errors" not in allowed, allowed


LISTS = """
{
  sales { edges { node { id } } }
  appointments { edges { node { id } } }
  offlineCustomerConflicts { clientId }
}
"""


@pytest.mark.parametrize("kind", CALLERS)
async def test_lists_without_a_store_show_the_callers_own(
    gql, factory, other: Other, hb: uuid.UUID, kind: str
) -> None:
    token = await _caller(factory, kind, hb)
    own = await factory.completed_sale(None, [("MUG", 1)], store_id=hb)
    body = await gql(LISTS, token=token)
    assert "errors" not in body, body
    assert [e["node"]["id"] for e in body["data"]["sales"]["edges"]] == [str(own.id)]
    assert body["data"]["appointments"]["edges"] == []
    assert body["data"]["offlineCustomerConflicts"] == []
    chain = await gql(LISTS, token=await factory.token(*Permission))
    assert len(chain["data"]["sales"]["edges"]) == 3
    assert [c["clientId"] for c in chain["data"]["offlineCustomerConflicts"]] == [
        other.conflict_client_id
    ]


async def test_a_receipt_from_another_store_is_read_and_returned_here(
    gql, factory, raw_sql, other: Other, hb: uuid.UUID
) -> None:
    token = await factory.till(hb, P.SALE_CREATE, P.SALE_VOID)
    sale = await gql(
        "query($id: ID!) { sale(id: $id) { id storeId lines { id } } }",
        {"id": other.completed_sale_id},
        token=token,
    )
    assert "errors" not in sale, sale
    assert sale["data"]["sale"]["storeId"] == other.store_id
    line_id = sale["data"]["sale"]["lines"][0]["id"]
    body = await gql(
        "mutation($id: ID!, $line: ID!) { saleReturn(saleId: $id, "
        "input: {lines: [{lineId: $line, quantity: 1}]}) { errors { code } } }",
        {"id": other.completed_sale_id, "line": line_id},
        token=token,
    )
    assert body["data"]["saleReturn"]["errors"] == [], body
    # Refunded at this store and till, and the mug goes onto this store's shelf.
    [(store_id, till_id)] = await raw_sql("SELECT store_id, till_id FROM sale_returns")
    assert uuid.UUID(str(store_id)) == hb
    assert till_id is not None
    stock = {
        str(uuid.UUID(str(s))): n
        for p, s, n in await raw_sql("SELECT product_id, store_id, on_hand FROM product_stock")
        if uuid.UUID(str(p)) == uuid.UUID(other.product_id)
    }
    assert stock[str(hb)] == 1
    assert stock[other.store_id] == 9  # one sold there (an open sale holds none back)


async def test_a_till_acts_at_its_own_store(gql, factory, other: Other) -> None:
    """Bound is not barred: DT's own till edits and completes DT's open sale."""
    token = await factory.till(uuid.UUID(other.store_id), P.SALE_CREATE)
    op = SCOPED_MUTATIONS["saleComplete"]
    body = await gql(op.document, op.variables(other), token=token)
    assert body["data"]["saleComplete"]["errors"] == []
