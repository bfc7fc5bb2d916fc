"""Staff access over GraphQL: login, tokens, logout, roles, staff users, stores, tills, devices."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from app.db.models import StaffUser
from app.domain.permissions import Permission
from app.domain.records import TokenKind
from app.services.auth import hash_token
from app.services.unit_of_work import UnitOfWork

P = Permission

LOGIN = """
mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { token errors { field code message } }
}
"""
LOGOUT = "mutation { logout { revoked errors { code } } }"
WHO = "{ me { username } viewer { kind permissions } }"
ME = "{ me { id username roleId storeId isActive } }"
VIEWER = "{ viewer { kind label storeId tillId permissions } }"

ROLE_CREATE = """
mutation RoleCreate($input: RoleInput!) {
  roleCreate(input: $input) { role { id name permissions } errors { field code message } }
}
"""
STAFF_USER_CREATE = """
mutation StaffUserCreate($input: StaffUserInput!) {
  staffUserCreate(input: $input) {
    staffUser { id username roleId storeId isActive }
    errors { field code message }
  }
}
"""
STORE_CREATE = """
mutation StoreCreate($input: StoreInput!) {
  storeCreate(input: $input) { store { id code name isHeadOffice } errors { field code message } }
}
"""
TILL_CREATE = """
mutation TillCreate($input: TillInput!) {
  tillCreate(input: $input) {
    till { id storeId name }
    deviceToken
    errors { field code message }
  }
}
"""
CUSTOMER_CREATE = """
mutation CustomerCreate($input: CustomerCreateInput!) {
  customerCreate(input: $input) { customer { id homeStoreId } errors { field code } }
}
"""

MISSING_ID = str(uuid.uuid4())


async def _login(gql: Any, username: str, password: str) -> dict[str, Any]:
    body = await gql(LOGIN, {"username": username, "password": password})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["login"]
    return payload


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _top_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def _count(raw_sql: Any, table: str) -> int:
    return int((await raw_sql(f"SELECT COUNT(*) FROM {table}"))[0][0])  # noqa: S608


async def _head_office_id(gql: Any, token: str) -> str:
    body = await gql("{ stores { id isHeadOffice } }", token=token)
    (head,) = [s for s in body["data"]["stores"] if s["isHeadOffice"]]
    return str(head["id"])


# --- login -----------------------------------------------------------------------------


async def test_login_returns_a_bearer_token_for_me_and_viewer(gql, factory) -> None:
    username, _ = await factory.staff(P.CUSTOMER_VIEW, P.CUSTOMER_ADD, password="s3cret-pass")
    payload = await _login(gql, username, "s3cret-pass")
    assert payload["errors"] == []
    token = payload["token"]
    assert isinstance(token, str)
    assert len(token) >= 32

    body = await gql(WHO, token=token)
    assert "errors" not in body, body
    assert body["data"]["me"] == {"username": username}
    assert body["data"]["viewer"]["kind"] == "SESSION"
    assert sorted(body["data"]["viewer"]["permissions"]) == ["CUSTOMER_ADD", "CUSTOMER_VIEW"]

    # Each login is a new session token.
    again = await _login(gql, username, "s3cret-pass")
    assert again["token"]
    assert again["token"] != token


async def test_wrong_password_is_invalid_credentials(gql, factory) -> None:
    username, _ = await factory.staff(password="right-password")
    payload = await _login(gql, username, "wrong-password")
    assert payload["token"] is None
    assert _codes(payload) == ["INVALID_CREDENTIALS"]


async def test_unknown_user_is_invalid_credentials_like_a_wrong_password(gql, factory) -> None:
    username, _ = await factory.staff(password="right-password")
    unknown = await _login(gql, "nobody-here", "right-password")
    wrong = await _login(gql, username, "wrong-password")
    assert unknown["token"] is None
    assert _codes(unknown) == ["INVALID_CREDENTIALS"]
    # No way to tell an unknown user from a wrong password.
    assert unknown["errors"] == wrong["errors"]


async def test_login_is_throttled_after_max_failures(gql, factory, settings) -> None:
    assert settings.login_max_failures == 3
    username, _ = await factory.staff(password="right-password")
    for _ in range(3):
        failed = await _login(gql, username, "wrong-password")
        assert _codes(failed) == ["INVALID_CREDENTIALS"]
    locked = await _login(gql, username, "right-password")
    assert locked["token"] is None
    assert _codes(locked) == ["TOO_MANY_ATTEMPTS"]
    # The lock is per account: another user from the same client still logs in.
    other, _ = await factory.staff(password="other-password")
    assert (await _login(gql, other, "other-password"))["token"]


async def test_throttle_counts_the_username_case_insensitively(gql, factory) -> None:
    username, _ = await factory.staff(password="right-password")
    for variant in (username.upper(), username, f" {username.title()} "):
        assert _codes(await _login(gql, variant, "nope-nope")) == ["INVALID_CREDENTIALS"]
    assert _codes(await _login(gql, username, "right-password")) == ["TOO_MANY_ATTEMPTS"]


async def test_a_successful_login_resets_the_failure_count(gql, factory) -> None:
    username, _ = await factory.staff(password="right-password")
    for _ in range(2):
        await _login(gql, username, "wrong-password")
    assert (await _login(gql, username, "right-password"))["token"]
    for _ in range(2):
        await _login(gql, username, "wrong-password")
    ok = await _login(gql, username, "right-password")
    assert ok["errors"] == []
    assert ok["token"]


async def test_username_is_case_insensitive(gql, factory) -> None:
    await factory.staff(username="Alice", password="alice-password")
    for variant in ("alice", "ALICE", "  aLiCe "):
        payload = await _login(gql, variant, "alice-password")
        assert payload["errors"] == [], variant
        body = await gql(ME, token=payload["token"])
        assert body["data"]["me"]["username"] == "alice"


# --- tokens ----------------------------------------------------------------------------


async def test_logout_revokes_the_token(gql, factory) -> None:
    username, _ = await factory.staff(P.CUSTOMER_VIEW, password="right-password")
    token = (await _login(gql, username, "right-password"))["token"]
    other = (await _login(gql, username, "right-password"))["token"]

    body = await gql(LOGOUT, token=token)
    assert body["data"]["logout"] == {"revoked": True, "errors": []}

    refused = await gql(ME, token=token)
    assert refused["data"]["me"] is None
    assert _top_codes(refused) == ["UNAUTHENTICATED"]
    again = await gql(LOGOUT, token=token)
    assert again["data"]["logout"] == {"revoked": False, "errors": [{"code": "UNAUTHENTICATED"}]}
    # Only that session ends: the user's other session still works.
    still = await gql(ME, token=other)
    assert still["data"]["me"]["username"] == username


async def test_an_unknown_or_malformed_token_is_unauthenticated(gql, runtime) -> None:
    for token in ("not-a-token", "x" * 43):
        body = await gql(ME, token=token)
        assert body["data"]["me"] is None
        assert _top_codes(body) == ["UNAUTHENTICATED"]


async def test_an_expired_token_is_refused(gql, factory, runtime) -> None:
    username, live = await factory.staff(P.CUSTOMER_VIEW)
    expired = "expired-" + uuid.uuid4().hex

    async def issue(uow: UnitOfWork) -> None:
        credentials = await uow.staff.get_credentials(username)
        assert credentials is not None
        await uow.staff.insert_token(
            token_hash=hash_token(expired),
            kind=TokenKind.SESSION,
            expires_at=uow.now - timedelta(seconds=5),
            staff_user_id=credentials.user.id,
        )

    assert (await runtime.tx.run(None, issue)).ok
    body = await gql(ME, token=expired)
    assert body["data"]["me"] is None
    assert _top_codes(body) == ["UNAUTHENTICATED"]
    customers = await gql("{ customers { totalCount } }", token=expired)
    assert customers.get("data") is None
    assert _top_codes(customers) == ["UNAUTHENTICATED"]
    # The same user's live token works: only the expiry refused the other.
    assert (await gql(ME, token=live))["data"]["me"]["username"] == username


async def test_a_deactivated_users_token_is_refused(gql, factory, runtime) -> None:
    username, _ = await factory.staff(P.CUSTOMER_VIEW, password="right-password")
    token = (await _login(gql, username, "right-password"))["token"]
    assert (await gql(ME, token=token))["data"]["me"]["isActive"] is True

    async def deactivate(uow: UnitOfWork) -> None:
        # Through the repository, as every write path does: it tells the grant caches.
        user_id = await uow.session.scalar(
            select(StaffUser.id).where(StaffUser.username == username)
        )
        await uow.staff.update_user(user_id, {"is_active": False})

    assert (await runtime.tx.run(None, deactivate)).ok
    body = await gql(ME, token=token)
    assert body["data"]["me"] is None
    assert _top_codes(body) == ["UNAUTHENTICATED"]


async def test_a_deactivated_user_cannot_log_in(gql, factory, runtime) -> None:
    username, _ = await factory.staff(P.CUSTOMER_VIEW, password="right-password")
    assert (await _login(gql, username, "right-password"))["token"]

    async def deactivate(uow: UnitOfWork) -> None:
        await uow.session.execute(
            update(StaffUser).where(StaffUser.username == username).values(is_active=False)
        )

    assert (await runtime.tx.run(None, deactivate)).ok
    payload = await _login(gql, username, "right-password")
    assert payload["token"] is None
    assert _codes(payload) == ["INVALID_CREDENTIALS"]


async def test_tokens_are_stored_hashed(gql, factory, raw_sql) -> None:
    username, admin = await factory.staff(*P, password="right-password")
    token = (await _login(gql, username, "right-password"))["token"]
    role = await factory.auth().create_role("Till role", [P.CUSTOMER_ADD])
    till = await gql(
        TILL_CREATE, {"input": {"name": "Till 1", "roleId": str(role.value.id)}}, token=admin
    )
    device = till["data"]["tillCreate"]["deviceToken"]
    assert device

    rows = await raw_sql("SELECT * FROM auth_tokens")
    dump = repr(rows)
    for raw in (token, device):
        assert raw not in dump
    hashes = {r[0] for r in await raw_sql("SELECT token_hash FROM auth_tokens")}
    assert hash_token(token) in hashes
    assert hash_token(device) in hashes


# --- roles -----------------------------------------------------------------------------


async def test_role_create(gql, factory, raw_sql) -> None:
    token = await factory.token(*P)
    body = await gql(
        ROLE_CREATE,
        {
            "input": {
                "name": "  Cashier ",
                "permissions": ["CUSTOMER_VIEW", "CUSTOMER_ADD", "CUSTOMER_VIEW"],
            }
        },
        token=token,
    )
    payload = body["data"]["roleCreate"]
    assert payload["errors"] == []
    assert payload["role"]["name"] == "Cashier"
    assert sorted(payload["role"]["permissions"]) == ["CUSTOMER_ADD", "CUSTOMER_VIEW"]
    rows = await raw_sql("SELECT name FROM roles WHERE name = 'Cashier'")
    assert len(rows) == 1


async def test_role_create_errors(gql, factory, raw_sql) -> None:
    token = await factory.token(*P)
    first = await gql(ROLE_CREATE, {"input": {"name": "Cashier", "permissions": []}}, token=token)
    assert first["data"]["roleCreate"]["errors"] == []
    before = await _count(raw_sql, "roles")

    blank = await gql(ROLE_CREATE, {"input": {"name": "   ", "permissions": []}}, token=token)
    assert blank["data"]["roleCreate"]["role"] is None
    assert [(e["code"], e["field"]) for e in blank["data"]["roleCreate"]["errors"]] == [
        ("REQUIRED", ["input", "name"])
    ]
    dup = await gql(
        ROLE_CREATE, {"input": {"name": " Cashier", "permissions": ["CUSTOMER_VIEW"]}}, token=token
    )
    assert dup["data"]["roleCreate"]["role"] is None
    assert [(e["code"], e["field"]) for e in dup["data"]["roleCreate"]["errors"]] == [
        ("DUPLICATE", ["input", "name"])
    ]
    assert await _count(raw_sql, "roles") == before


# --- staff users -----------------------------------------------------------------------


async def test_staff_user_create_and_log_in(gql, factory) -> None:
    token = await factory.token(*P)
    role = await factory.auth().create_role("Clerk", [P.CUSTOMER_VIEW])
    store = await factory.store("BR9")
    body = await gql(
        STAFF_USER_CREATE,
        {
            "input": {
                "username": " Bob ",
                "password": "bob-password",
                "roleId": str(role.value.id),
                "storeId": str(store.id),
            }
        },
        token=token,
    )
    payload = body["data"]["staffUserCreate"]
    assert payload["errors"] == []
    user = payload["staffUser"]
    assert user["username"] == "bob"
    assert user["roleId"] == str(role.value.id)
    assert user["storeId"] == str(store.id)
    assert user["isActive"] is True

    session = (await _login(gql, "BOB", "bob-password"))["token"]
    viewer = await gql(VIEWER, token=session)
    assert viewer["data"]["viewer"]["permissions"] == ["CUSTOMER_VIEW"]
    assert viewer["data"]["viewer"]["storeId"] == str(store.id)
    assert viewer["data"]["viewer"]["label"] == "bob"


async def test_staff_user_create_without_store(gql, factory) -> None:
    token = await factory.token(*P)
    role = await factory.auth().create_role("Clerk", [P.CUSTOMER_VIEW])
    body = await gql(
        STAFF_USER_CREATE,
        {
            "input": {
                "username": "carol",
                "password": "carol-password",
                "roleId": str(role.value.id),
            }
        },
        token=token,
    )
    payload = body["data"]["staffUserCreate"]
    assert payload["errors"] == []
    assert payload["staffUser"]["storeId"] is None


async def test_staff_user_create_errors(gql, factory, raw_sql) -> None:
    token = await factory.token(*P)
    await factory.staff(username="Dave")
    role_id = str((await factory.auth().create_role("Clerk", [P.CUSTOMER_VIEW])).value.id)
    store_id = str((await factory.store()).id)
    good = {"username": "erin", "password": "erin-password", "roleId": role_id, "storeId": store_id}
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"username": "   "}, "REQUIRED", ["input", "username"]),
        ({"password": "short"}, "INVALID", ["input", "password"]),
        ({"password": "1234567"}, "INVALID", ["input", "password"]),
        ({"roleId": MISSING_ID}, "NOT_FOUND", ["input", "roleId"]),
        ({"roleId": "nope"}, "NOT_FOUND", ["input", "roleId"]),
        ({"storeId": MISSING_ID}, "NOT_FOUND", ["input", "storeId"]),
        ({"storeId": "nope"}, "NOT_FOUND", ["input", "storeId"]),
        ({"username": "dave"}, "DUPLICATE", ["input", "username"]),
        ({"username": " DAVE "}, "DUPLICATE", ["input", "username"]),
    ]
    before = await _count(raw_sql, "staff_users")
    for change, code, field in cases:
        body = await gql(STAFF_USER_CREATE, {"input": {**good, **change}}, token=token)
        assert "errors" not in body, (change, body)
        payload = body["data"]["staffUserCreate"]
        assert payload["staffUser"] is None, change
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], change
    assert await _count(raw_sql, "staff_users") == before
    # The baseline input itself is fine: the refusals came from the changes alone.
    ok = await gql(STAFF_USER_CREATE, {"input": {**good, "password": "12345678"}}, token=token)
    assert ok["data"]["staffUserCreate"]["errors"] == []


# --- stores ----------------------------------------------------------------------------


async def test_store_create(gql, factory) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    body = await gql(STORE_CREATE, {"input": {"code": " br1 ", "name": " Brooklyn "}}, token=token)
    payload = body["data"]["storeCreate"]
    assert payload["errors"] == []
    assert payload["store"]["code"] == "BR1"
    assert payload["store"]["name"] == "Brooklyn"
    assert payload["store"]["isHeadOffice"] is False
    listed = await gql("{ stores { id code isHeadOffice } }", token=token)
    stores = listed["data"]["stores"]
    assert {"id": payload["store"]["id"], "code": "BR1", "isHeadOffice": False} in stores
    assert sum(s["isHeadOffice"] for s in stores) == 1


async def test_store_create_errors(gql, factory, raw_sql) -> None:
    token = await factory.token(P.SETTINGS_MANAGE)
    await factory.store("BR1")
    before = await _count(raw_sql, "stores")
    cases = [
        ({"code": "  ", "name": "Somewhere"}, "REQUIRED", ["input", "code"]),
        ({"code": "BR2", "name": "  "}, "REQUIRED", ["input", "name"]),
        ({"code": "BR1", "name": "Again"}, "DUPLICATE", ["input", "code"]),
        ({"code": "br1", "name": "Again"}, "DUPLICATE", ["input", "code"]),
    ]
    for given, code, field in cases:
        body = await gql(STORE_CREATE, {"input": given}, token=token)
        payload = body["data"]["storeCreate"]
        assert payload["store"] is None, given
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], given
    assert await _count(raw_sql, "stores") == before


# --- tills and device tokens -----------------------------------------------------------


async def test_till_create_returns_a_device_token(gql, factory) -> None:
    token = await factory.token(*P)
    role = await factory.auth().create_role("Till", [P.CUSTOMER_ADD, P.CUSTOMER_VIEW])
    store = await factory.store()
    body = await gql(
        TILL_CREATE,
        {"input": {"name": " Till 1 ", "roleId": str(role.value.id), "storeId": str(store.id)}},
        token=token,
    )
    payload = body["data"]["tillCreate"]
    assert payload["errors"] == []
    assert payload["till"]["name"] == "Till 1"
    assert payload["till"]["storeId"] == str(store.id)
    assert isinstance(payload["deviceToken"], str)
    assert len(payload["deviceToken"]) >= 32

    viewer = await gql(VIEWER, token=payload["deviceToken"])
    assert viewer["data"]["viewer"]["kind"] == "DEVICE"
    assert viewer["data"]["viewer"]["storeId"] == str(store.id)
    assert viewer["data"]["viewer"]["tillId"] == payload["till"]["id"]
    assert sorted(viewer["data"]["viewer"]["permissions"]) == ["CUSTOMER_ADD", "CUSTOMER_VIEW"]


async def test_till_create_defaults_to_the_callers_store_or_head_office(gql, factory) -> None:
    role_id = str((await factory.auth().create_role("Till", [P.CUSTOMER_ADD])).value.id)
    branch = await factory.store()
    at_branch = await factory.token(*P, store_id=branch.id)
    anywhere = await factory.token(*P)

    body = await gql(TILL_CREATE, {"input": {"name": "T", "roleId": role_id}}, token=at_branch)
    assert body["data"]["tillCreate"]["till"]["storeId"] == str(branch.id)
    body = await gql(TILL_CREATE, {"input": {"name": "T", "roleId": role_id}}, token=anywhere)
    assert body["data"]["tillCreate"]["till"]["storeId"] == await _head_office_id(gql, anywhere)


async def test_till_create_errors(gql, factory, raw_sql) -> None:
    token = await factory.token(*P)
    role_id = str((await factory.auth().create_role("Till", [P.CUSTOMER_ADD])).value.id)
    store_id = str((await factory.store()).id)
    other_store_id = str((await factory.store()).id)
    first = await gql(
        TILL_CREATE,
        {"input": {"name": "Till 1", "roleId": role_id, "storeId": store_id}},
        token=token,
    )
    assert first["data"]["tillCreate"]["errors"] == []
    good = {"name": "Till 2", "roleId": role_id, "storeId": store_id}
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"name": "  "}, "REQUIRED", ["input", "name"]),
        ({"storeId": MISSING_ID}, "NOT_FOUND", ["input", "storeId"]),
        ({"storeId": "nope"}, "NOT_FOUND", ["input", "storeId"]),
        ({"roleId": MISSING_ID}, "NOT_FOUND", ["input", "roleId"]),
        ({"roleId": "nope"}, "NOT_FOUND", ["input", "roleId"]),
        ({"name": "Till 1"}, "DUPLICATE", ["input", "name"]),
        ({"name": " Till 1 "}, "DUPLICATE", ["input", "name"]),
    ]
    before = {t: await _count(raw_sql, t) for t in ("tills", "auth_tokens", "audit_entries")}
    for change, code, field in cases:
        body = await gql(TILL_CREATE, {"input": {**good, **change}}, token=token)
        payload = body["data"]["tillCreate"]
        assert payload["till"] is None, change
        assert payload["deviceToken"] is None, change
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], change
    assert {t: await _count(raw_sql, t) for t in before} == before
    # The same name at another store is fine.
    body = await gql(
        TILL_CREATE, {"input": {**good, "name": "Till 1", "storeId": other_store_id}}, token=token
    )
    assert body["data"]["tillCreate"]["errors"] == []


async def test_a_device_token_acts_with_its_role_at_its_store(gql, factory) -> None:
    admin = await factory.token(*P)
    role = await factory.auth().create_role("Till", [P.CUSTOMER_ADD])
    store = await factory.store()
    till = await gql(
        TILL_CREATE,
        {"input": {"name": "Front", "roleId": str(role.value.id), "storeId": str(store.id)}},
        token=admin,
    )
    device = till["data"]["tillCreate"]["deviceToken"]

    who = await gql(WHO, token=device)
    assert "errors" not in who, who
    assert who["data"]["me"] is None
    assert who["data"]["viewer"] == {"kind": "DEVICE", "permissions": ["CUSTOMER_ADD"]}

    created = await gql(
        CUSTOMER_CREATE, {"input": {"name": "Walk In", "phone": "+12125550199"}}, token=device
    )
    payload = created["data"]["customerCreate"]
    assert payload["errors"] == []
    assert payload["customer"]["homeStoreId"] == str(store.id)

    # The role has no CUSTOMER_VIEW, nor STAFF_MANAGE: the device may do only what it grants.
    listed = await gql("{ customers { totalCount } }", token=device)
    assert listed.get("data") is None
    assert _top_codes(listed) == ["FORBIDDEN"]
    refused = await gql(
        TILL_CREATE, {"input": {"name": "Back", "roleId": str(role.value.id)}}, token=device
    )
    assert _codes(refused["data"]["tillCreate"]) == ["FORBIDDEN"]
