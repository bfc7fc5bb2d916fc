"""Customer groups (seed 004): create, rename, note, discount, delete, bulk membership."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.permissions import Permission as P

CREATE = """mutation($input: CustomerGroupInput!) { customerGroupCreate(input: $input) {
  group { id name note discountPercent memberCount } errors { field code } } }"""
UPDATE = """mutation($id: ID!, $input: CustomerGroupUpdateInput!) {
  customerGroupUpdate(id: $id, input: $input) {
  group { id name note discountPercent } errors { field code } } }"""
ADD = """mutation($g: ID!, $c: [ID!]!) { customerGroupAddCustomers(groupId: $g, customerIds: $c) {
  group { memberCount } errors { field code } } }"""
REMOVE = """mutation($g: ID!, $c: [ID!]!) {
  customerGroupRemoveCustomers(groupId: $g, customerIds: $c) {
  group { memberCount } errors { field code } } }"""


@pytest.fixture
async def token(factory) -> str:  # type: ignore[no-untyped-def]
    return await factory.token(P.CUSTOMER_GROUP_MANAGE, P.CUSTOMER_VIEW, P.AUDIT_VIEW)


async def make_group(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    return (await gql(CREATE, {"input": fields}, token=token))["data"]["customerGroupCreate"]  # type: ignore[no-any-return]


def codes(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_create_with_note_and_discount(gql, token) -> None:
    made = await make_group(
        gql, token, name=" VIP  club ", note="Best buyers", discountPercent="7.5"
    )
    assert made["errors"] == []
    assert made["group"] == {
        "id": made["group"]["id"],
        "name": "VIP club",
        "note": "Best buyers",
        "discountPercent": "7.50",  # one scale: two decimals
        "memberCount": 0,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "  "}, [("REQUIRED", ["input", "name"])]),
        ({"name": "x" * 101}, [("INVALID", ["input", "name"])]),
        ({"name": "A", "discountPercent": "100.01"}, [("INVALID", ["input", "discountPercent"])]),
        ({"name": "A", "discountPercent": "-1"}, [("INVALID", ["input", "discountPercent"])]),
        ({"name": "A", "discountPercent": "2.555"}, [("INVALID", ["input", "discountPercent"])]),
        ({"name": "vip CLUB"}, [("DUPLICATE", ["input", "name"])]),
    ],
)
async def test_create_refuses_bad_input(gql, token, raw_sql, fields, expected) -> None:
    await make_group(gql, token, name="VIP club")
    made = await make_group(gql, token, **fields)
    assert made["group"] is None
    assert codes(made) == expected
    assert await raw_sql("SELECT count(*) FROM customer_groups") == [(1,)]


async def test_rename_renote_reprice_and_clear(gql, token) -> None:
    group = (await make_group(gql, token, name="Staff", discountPercent="10"))["group"]
    body = await gql(
        UPDATE, {"id": group["id"], "input": {"name": "Team", "note": "Employees"}}, token=token
    )
    assert body["data"]["customerGroupUpdate"]["group"]["name"] == "Team"
    assert body["data"]["customerGroupUpdate"]["group"]["discountPercent"] == "10.00"
    cleared = await gql(
        UPDATE, {"id": group["id"], "input": {"discountPercent": None, "note": None}}, token=token
    )
    assert cleared["data"]["customerGroupUpdate"]["group"]["discountPercent"] is None
    assert cleared["data"]["customerGroupUpdate"]["group"]["note"] is None
    unknown = await gql(UPDATE, {"id": "nope", "input": {"name": "X"}}, token=token)
    assert codes(unknown["data"]["customerGroupUpdate"]) == [("NOT_FOUND", ["groupId"])]


async def test_bulk_membership_is_all_or_nothing_and_repeats_are_harmless(
    gql, token, factory, raw_sql
) -> None:
    group = (await make_group(gql, token, name="Regulars"))["group"]
    people = [str((await factory.customer()).id) for _ in range(3)]
    added = await gql(ADD, {"g": group["id"], "c": people + people[:1]}, token=token)
    assert added["data"]["customerGroupAddCustomers"] == {"group": {"memberCount": 3}, "errors": []}
    again = await gql(ADD, {"g": group["id"], "c": people}, token=token)
    assert again["data"]["customerGroupAddCustomers"]["group"] == {"memberCount": 3}

    other = str((await factory.customer()).id)
    refused = await gql(
        ADD, {"g": group["id"], "c": [other, "00000000-0000-4000-8000-000000000000"]}, token=token
    )
    assert codes(refused["data"]["customerGroupAddCustomers"]) == [("NOT_FOUND", ["customerIds"])]
    assert await raw_sql("SELECT count(*) FROM customer_group_members") == [(3,)]

    removed = await gql(REMOVE, {"g": group["id"], "c": people[:2]}, token=token)
    assert removed["data"]["customerGroupRemoveCustomers"]["group"] == {"memberCount": 1}


async def test_members_are_listed_paged_and_customers_filter_by_group(gql, token, factory) -> None:
    group = (await make_group(gql, token, name="Members"))["group"]
    inside = [await factory.customer(name=f"In {n:02d}") for n in range(5)]
    await factory.customer(name="Outside")
    await gql(ADD, {"g": group["id"], "c": [str(c.id) for c in inside]}, token=token)

    page = await gql(
        "query($id: ID!) { customerGroup(id: $id) { members(first: 3) { totalCount "
        "pageInfo { hasNextPage } edges { node { name } } } } }",
        {"id": group["id"]},
        token=token,
    )
    members = page["data"]["customerGroup"]["members"]
    assert members["totalCount"] == 5
    assert members["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in members["edges"]] == ["In 00", "In 01", "In 02"]

    filtered = await gql(
        "query($g: ID) { customers(filter: {groupId: $g}) { totalCount } }",
        {"g": group["id"]},
        token=token,
    )
    assert filtered["data"]["customers"]["totalCount"] == 5


async def test_deleting_a_group_keeps_its_customers(gql, token, factory, raw_sql) -> None:
    group = (await make_group(gql, token, name="Temporary"))["group"]
    customer = await factory.customer()
    await gql(ADD, {"g": group["id"], "c": [str(customer.id)]}, token=token)
    deleted = await gql(
        "mutation($id: ID!) { customerGroupDelete(id: $id) { deletedId errors { code } } }",
        {"id": group["id"]},
        token=token,
    )
    assert deleted["data"]["customerGroupDelete"] == {"deletedId": group["id"], "errors": []}
    assert await raw_sql("SELECT count(*) FROM customers") == [(1,)]
    assert await raw_sql("SELECT count(*) FROM customer_group_members") == [(0,)]


async def test_customer_groups_load_without_n_plus_1_and_changes_are_audited(
    gql, token, factory, count_statements
) -> None:
    a = (await make_group(gql, token, name="A"))["group"]
    b = (await make_group(gql, token, name="B"))["group"]
    screen = "{ customers(first: 50) { edges { node { name groups { name discountPercent } } } } }"
    counts = []
    for size in (3, 12):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < size:
            customer = await factory.customer()
            await gql(ADD, {"g": a["id"], "c": [str(customer.id)]}, token=token)
            await gql(ADD, {"g": b["id"], "c": [str(customer.id)]}, token=token)
        with count_statements() as counter:
            body = await gql(screen, token=token)
        assert all(
            [g["name"] for g in e["node"]["groups"]] == ["A", "B"]
            for e in body["data"]["customers"]["edges"]
        )
        counts.append(counter.count)
    assert counts[0] == counts[1]

    trail = await gql(
        "{ customers(first: 1) { edges { node { "
        "auditTrail { edges { node { action after } } } } } } }",
        token=token,
    )
    actions = [
        e["node"]["action"]
        for e in trail["data"]["customers"]["edges"][0]["node"]["auditTrail"]["edges"]
    ]
    assert actions[:2] == ["add_to_group", "add_to_group"]


GROUP_MEMBERS = """query($n: Int!, $m: Int!, $after: String) { customerGroups(first: $n) { edges {
  node { name members(first: $m, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { name groups { name } } } } } } } }"""


def members_by_group(body: dict[str, Any]) -> dict[str, list[str]]:
    return {
        e["node"]["name"]: [m["node"]["name"] for m in e["node"]["members"]["edges"]]
        for e in body["data"]["customerGroups"]["edges"]
    }


async def test_members_of_a_list_of_groups_load_in_a_constant_number_of_statements(
    gql, token, factory, count_statements
) -> None:
    # Issue 9 §3: members ran two statements per group, so a list of groups (or every
    # group of every customer in a list) cost one round trip pair per row.
    for g in range(7):
        group = (await make_group(gql, token, name=f"G{g}"))["group"]
        people = [await factory.customer(name=f"G{g} m{n}") for n in range(4)]
        await gql(ADD, {"g": group["id"], "c": [str(c.id) for c in people]}, token=token)
    counts = []
    for size in (2, 7):
        with count_statements() as counter:
            body = await gql(GROUP_MEMBERS, {"n": size, "m": 3}, token=token)
        assert len(body["data"]["customerGroups"]["edges"]) == size
        for edge in body["data"]["customerGroups"]["edges"]:
            node = edge["node"]
            assert node["members"]["totalCount"] == 4
            assert node["members"]["pageInfo"]["hasNextPage"] is True
            assert [m["node"]["name"] for m in node["members"]["edges"]] == [
                f"{node['name']} m{n}" for n in range(3)
            ]
            assert all(
                m["node"]["groups"] == [{"name": node["name"]}] for m in node["members"]["edges"]
            )
        counts.append(counter.count)
    assert counts[0] == counts[1]


async def test_members_of_several_groups_page_as_one_groups_members_do(
    gql, token, factory, runtime
) -> None:
    from sqlalchemy import update

    from app.db.models import Customer

    a = (await make_group(gql, token, name="A"))["group"]
    b = (await make_group(gql, token, name="B"))["group"]
    await make_group(gql, token, name="C")  # no members: an empty page, not a missing one
    people = {name: await factory.customer(name=name) for name in ("Ann", "Bo", "Cy", "Di", "Ed")}
    in_a = [str(people[n].id) for n in ("Ann", "Bo", "Cy", "Di")]
    await gql(ADD, {"g": a["id"], "c": in_a}, token=token)
    await gql(
        ADD, {"g": b["id"], "c": [str(people[n].id) for n in ("Bo", "Di", "Ed")]}, token=token
    )
    # A merged customer is a pointer: never listed, never counted, on either path.
    async with runtime.db.write() as session:
        await session.execute(
            update(Customer).where(Customer.id == people["Cy"].id).values(status="MERGED")
        )

    first = await gql(GROUP_MEMBERS, {"n": 10, "m": 2}, token=token)
    assert members_by_group(first) == {"A": ["Ann", "Bo"], "B": ["Bo", "Di"], "C": []}
    totals = {
        e["node"]["name"]: e["node"]["members"]["totalCount"]
        for e in first["data"]["customerGroups"]["edges"]
    }
    assert totals == {"A": 3, "B": 3, "C": 0}

    # One cursor for every group of the list, as `after` means on a nested page.
    cursor = first["data"]["customerGroups"]["edges"][0]["node"]["members"]["pageInfo"]["endCursor"]
    after = await gql(GROUP_MEMBERS, {"n": 10, "m": 2, "after": cursor}, token=token)
    assert members_by_group(after) == {"A": ["Di"], "B": ["Di", "Ed"], "C": []}

    single = await gql(
        "query($id: ID!, $after: String) { customerGroup(id: $id) { "
        "members(first: 2, after: $after) { totalCount edges { node { name } } } } }",
        {"id": b["id"], "after": cursor},
        token=token,
    )
    assert single["data"]["customerGroup"]["members"] == {
        "totalCount": 3,
        "edges": [{"node": {"name": "Di"}}, {"node": {"name": "Ed"}}],
    }
