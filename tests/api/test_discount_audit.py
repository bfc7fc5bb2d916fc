"""Findings for analysts over GraphQL (issue 11 §6): list, filter, page, triage, store scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.domain.discount_audit import FindingRule, FindingSeverity
from app.domain.permissions import Permission as P
from app.services.auth import resolve_actor
from tests.discount_audit_world import finding

FINDINGS = """query($f: DiscountAuditFilter, $after: String) {
  discountAuditFindings(filter: $f, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id rule severity status detectedAt explanation amount
                   sale { id } customer { id } cashier { id } storeId } } } }"""
UPDATE = """mutation($id: ID!, $status: FindingStatus!, $note: String) {
  discountAuditFindingUpdate(id: $id, status: $status, note: $note) {
    finding { id status note triagedBy triagedAt } errors { code field } } }"""
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


async def test_findings_newest_first_filtered_and_paged(gql, factory, runtime) -> None:
    customer = await factory.customer()
    sale = await factory.sale(customer.id)
    head_office = await factory.head_office()
    branch = await factory.store()
    ids = [
        await finding(runtime.db, store_id=head_office.id, sale_id=sale, customer_id=customer.id,
                      detected_at=T0),
        await finding(runtime.db, store_id=head_office.id, rule=FindingRule.CASHIER_OUTLIER,
                      severity=FindingSeverity.MEDIUM, detected_at=T0 + timedelta(hours=1)),
        await finding(runtime.db, store_id=branch.id, detected_at=T0 + timedelta(hours=2)),
    ]  # fmt: skip
    token = await factory.token(P.AUDIT_VIEW, P.CUSTOMER_VIEW)

    first = await gql(FINDINGS, token=token)
    assert "errors" not in first, first
    page = first["data"]["discountAuditFindings"]
    assert page["totalCount"] == 3
    assert [e["node"]["id"] for e in page["edges"]] == [str(ids[2]), str(ids[1])]
    rest = await gql(FINDINGS, {"after": page["pageInfo"]["endCursor"]}, token=token)
    [oldest] = [e["node"] for e in rest["data"]["discountAuditFindings"]["edges"]]
    assert oldest["id"] == str(ids[0])
    assert oldest["sale"] == {"id": str(sale)}
    assert oldest["customer"] == {"id": str(customer.id)}
    assert (oldest["rule"], oldest["severity"], oldest["status"]) == (
        "INVALID_CODE",
        "HIGH",
        "OPEN",
    )
    assert oldest["amount"] == "1.50"

    async def only(f: dict[str, object]) -> list[str]:
        body = await gql(FINDINGS.replace("first: 2", "first: 10"), {"f": f}, token=token)
        assert "errors" not in body, body
        return [e["node"]["id"] for e in body["data"]["discountAuditFindings"]["edges"]]

    assert await only({"rule": "CASHIER_OUTLIER"}) == [str(ids[1])]
    assert await only({"severity": "HIGH", "storeId": str(head_office.id)}) == [str(ids[0])]
    assert await only({"from": (T0 + timedelta(minutes=30)).isoformat(),
                       "to": (T0 + timedelta(hours=2)).isoformat()}) == [str(ids[1])]  # fmt: skip
    assert await only({"status": "CONFIRMED"}) == []
    cashier = await resolve_actor(runtime.tx, await factory.token(P.SALE_CREATE))
    assert cashier is not None
    theirs = await finding(runtime.db, store_id=branch.id, cashier_id=cashier.staff_user_id,
                           detected_at=T0)  # fmt: skip
    assert await only({"cashierId": str(cashier.staff_user_id)}) == [str(theirs)]
    body = await gql(FINDINGS, {"f": {"cashierId": str(cashier.staff_user_id)}}, token=token)
    [edge] = body["data"]["discountAuditFindings"]["edges"]
    assert edge["node"]["cashier"] == {"id": str(cashier.staff_user_id)}


async def test_triage_confirms_with_a_note_and_is_audited(gql, factory, runtime, raw_sql) -> None:
    found = await finding(runtime.db, detected_at=T0)
    username, token = await factory.staff(P.AUDIT_VIEW)
    body = await gql(UPDATE, {"id": str(found), "status": "CONFIRMED", "note": " refunded "},
                     token=token)  # fmt: skip
    payload = body["data"]["discountAuditFindingUpdate"]
    assert payload["errors"] == []
    assert payload["finding"]["status"] == "CONFIRMED"
    assert payload["finding"]["note"] == "refunded"
    assert username in payload["finding"]["triagedBy"]
    assert payload["finding"]["triagedAt"] is not None
    [(action, before, after)] = await raw_sql(
        "SELECT action, before, after FROM audit_entries "
        "WHERE entity_type = 'discount_audit_finding'"
    )
    assert action == "triage"
    assert "OPEN" in str(before)
    assert "CONFIRMED" in str(after)

    missing = await gql(UPDATE, {"id": "00000000-0000-0000-0000-000000000000",
                                 "status": "DISMISSED"}, token=token)  # fmt: skip
    assert missing["data"]["discountAuditFindingUpdate"]["errors"] == [
        {"code": "NOT_FOUND", "field": ["id"]}
    ]
    long = await gql(UPDATE, {"id": str(found), "status": "DISMISSED", "note": "x" * 2001},
                     token=token)  # fmt: skip
    assert long["data"]["discountAuditFindingUpdate"]["errors"] == [
        {"code": "INVALID", "field": ["note"]}
    ]


async def test_a_store_bound_caller_sees_only_their_store_s_findings(gql, factory, runtime) -> None:
    own, other = await factory.store(), await factory.store()
    mine = await finding(runtime.db, store_id=own.id, detected_at=T0)
    await finding(runtime.db, store_id=other.id, detected_at=T0)
    token = await factory.token(P.AUDIT_VIEW, store_id=own.id)
    body = await gql(FINDINGS.replace("customer { id } ", ""), token=token)
    assert "errors" not in body, body
    edges = body["data"]["discountAuditFindings"]["edges"]
    assert [e["node"]["id"] for e in edges] == [str(mine)]
    chain = await gql(FINDINGS, token=await factory.token(P.AUDIT_VIEW, P.CUSTOMER_VIEW))
    assert chain["data"]["discountAuditFindings"]["totalCount"] == 2


async def test_the_customer_on_a_finding_needs_customer_view(gql, factory, runtime) -> None:
    customer = await factory.customer()
    await finding(runtime.db, customer_id=customer.id, detected_at=T0)
    body = await gql(FINDINGS, token=await factory.token(P.AUDIT_VIEW))
    [edge] = body["data"]["discountAuditFindings"]["edges"]
    assert edge["node"]["customer"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
