from __future__ import annotations

from app.domain.permissions import Permission


async def test_create_and_find_customer(gql, factory) -> None:  # type: ignore[no-untyped-def]
    token = await factory.token(Permission.CUSTOMER_ADD, Permission.CUSTOMER_VIEW)
    created = await gql(
        'mutation { customerCreate(input: {name: "Ada Lovelace", phone: "(212) 555-0100"}) '
        "{ customer { id phone } errors { code } } }",
        token=token,
    )
    assert created["data"]["customerCreate"]["errors"] == []
    assert created["data"]["customerCreate"]["customer"]["phone"] == "+12125550100"
    found = await gql('{ customers(search: "2125550") { totalCount } }', token=token)
    assert found["data"]["customers"]["totalCount"] == 1
