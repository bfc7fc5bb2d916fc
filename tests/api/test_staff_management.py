"""Staff management (issue 9 §2): no escalation, store binding, and changes that bite at once."""

from __future__ import annotations

from typing import Any

from app.domain.permissions import Permission

P = Permission

ROLE_CREATE = (
    'mutation($p: [Permission!]!) { roleCreate(input: {name: "Boss", permissions: $p}) '
    "{ role { id } errors { code field } } }"
)
USER_CREATE = (
    'mutation($r: ID!, $s: ID) { staffUserCreate(input: {username: "newbie", '
    'password: "long-enough-password", roleId: $r, storeId: $s}) '
    "{ staffUser { id } errors { code field } } }"
)
USER_UPDATE = (
    "mutation($id: ID!, $input: StaffUserUpdateInput!) { staffUserUpdate(id: $id, input: $input) "
    "{ staffUser { isActive } errors { code field } } }"
)
LOGIN = (
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) "
    "{ token errors { code } } }"
)
ME = "{ me { username } }"


async def test_staff_manage_alone_cannot_grant_what_it_lacks(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    token = await factory.token(P.STAFF_MANAGE)
    body = await gql(ROLE_CREATE, {"p": ["CUSTOMER_VIEW_PII"]}, token=token)
    assert body["data"]["roleCreate"]["errors"] == [
        {"code": "FORBIDDEN", "field": ["input", "permissions"]}
    ]
    assert await raw_sql("SELECT id FROM roles WHERE name = 'Boss'") == []
    strong = await factory.auth().create_role("strong", list(Permission))
    body = await gql(USER_CREATE, {"r": str(strong.value.id)}, token=token)
    assert body["data"]["staffUserCreate"]["errors"] == [
        {"code": "FORBIDDEN", "field": ["input", "roleId"]}
    ]
    assert await raw_sql("SELECT id FROM staff_users WHERE username = 'newbie'") == []


async def test_a_store_manager_places_staff_at_their_own_store_only(gql: Any, factory: Any) -> None:
    home, other = await factory.store(), await factory.store()
    token = await factory.token(P.STAFF_MANAGE, store_id=home.id)
    empty = await factory.auth().create_role("nothing", [])
    for store in (str(other.id), None):
        body = await gql(USER_CREATE, {"r": str(empty.value.id), "s": store}, token=token)
        assert [e["code"] for e in body["data"]["staffUserCreate"]["errors"]] == ["FORBIDDEN"]
    body = await gql(USER_CREATE, {"r": str(empty.value.id), "s": str(home.id)}, token=token)
    assert body["data"]["staffUserCreate"]["errors"] == []


async def test_deactivation_and_a_new_password_end_sessions_at_once(gql: Any, factory: Any) -> None:
    admin = await factory.token(*Permission)
    username, session = await factory.staff(P.CUSTOMER_VIEW, password="first-password")
    assert (await gql(ME, token=session))["data"]["me"]["username"] == username
    user_id = (await gql("{ me { id } }", token=session))["data"]["me"]["id"]
    body = await gql(
        USER_UPDATE, {"id": user_id, "input": {"password": "second-password"}}, token=admin
    )
    assert body["data"]["staffUserUpdate"]["errors"] == []
    assert (await gql(ME, token=session))["data"]["me"] is None
    fresh = (await gql(LOGIN, {"u": username, "p": "second-password"}))["data"]["login"]["token"]
    assert fresh
    body = await gql(USER_UPDATE, {"id": user_id, "input": {"isActive": False}}, token=admin)
    assert body["data"]["staffUserUpdate"]["errors"] == []
    assert (await gql(ME, token=fresh))["data"]["me"] is None


async def test_a_role_in_use_is_not_deleted(gql: Any, factory: Any) -> None:
    admin = await factory.token(*Permission)
    role = await factory.auth().create_role("in-use", [])
    await factory.auth().create_staff_user("holder", "long-enough-password", role.value.id, None)
    body = await gql(
        "mutation($id: ID!) { roleDelete(id: $id) { deletedId errors { code } } }",
        {"id": str(role.value.id)},
        token=admin,
    )
    assert body["data"]["roleDelete"] == {"deletedId": None, "errors": [{"code": "ROLE_IN_USE"}]}


async def test_a_revoked_till_is_anonymous_on_its_next_request(gql: Any, factory: Any) -> None:
    store = await factory.store()
    role = await factory.auth().create_role("till-role", [P.CUSTOMER_VIEW])
    till = (await factory.auth().create_till(store.id, "Front", role.value.id)).value
    viewer = "{ viewer { kind } }"
    assert (await gql(viewer, token=till.device_token))["data"]["viewer"]["kind"] == "DEVICE"
    admin = await factory.token(*Permission)
    body = await gql(
        "mutation($id: ID!) { tillRevoke(id: $id) { till { id } errors { code } } }",
        {"id": str(till.till.id)},
        token=admin,
    )
    assert body["data"]["tillRevoke"]["errors"] == []
    assert (await gql(viewer, token=till.device_token))["data"]["viewer"] is None


async def test_a_store_manager_cannot_manage_another_stores_staff_or_tills(
    gql: Any, factory: Any, raw_sql: Any
) -> None:
    home, other = await factory.store(), await factory.store()
    token = await factory.token(P.STAFF_MANAGE, store_id=home.id)
    empty = await factory.auth().create_role("powerless", [])
    there = await factory.auth().create_staff_user(
        "there", "long-enough-password", empty.value.id, other.id
    )
    till = (await factory.auth().create_till(other.id, "Back", empty.value.id)).value
    body = await gql(
        USER_UPDATE, {"id": str(there.value.id), "input": {"isActive": False}}, token=token
    )
    assert body["data"]["staffUserUpdate"]["errors"] == [{"code": "FORBIDDEN", "field": ["id"]}]
    body = await gql(
        "mutation($id: ID!) { tillRevoke(id: $id) { till { id } errors { code field } } }",
        {"id": str(till.till.id)},
        token=token,
    )
    assert body["data"]["tillRevoke"]["errors"] == [{"code": "FORBIDDEN", "field": ["id"]}]
    assert await raw_sql("SELECT COUNT(*) FROM auth_tokens WHERE revoked_at IS NOT NULL") == [(0,)]
    [(active,)] = await raw_sql("SELECT is_active FROM staff_users WHERE username = 'there'")
    assert active


async def test_null_for_a_field_that_needs_a_value_is_refused(gql: Any, factory: Any) -> None:
    admin = await factory.token(*Permission)
    empty = await factory.auth().create_role("plain", [])
    user = await factory.auth().create_staff_user(
        "plain", "long-enough-password", empty.value.id, None
    )
    body = await gql(
        USER_UPDATE, {"id": str(user.value.id), "input": {"roleId": None}}, token=admin
    )
    assert body["data"]["staffUserUpdate"]["errors"] == [
        {"code": "REQUIRED", "field": ["input", "roleId"]}
    ]


PASSWORD_CHANGE = (
    "mutation($c: String!, $n: String!) { staffPasswordChange(currentPassword: $c, "
    "newPassword: $n) { done errors { code field } } }"
)


async def test_own_password_change_ends_the_other_sessions(gql: Any, factory: Any) -> None:
    username, session = await factory.staff(P.CUSTOMER_VIEW, password="first-password")
    other = (await gql(LOGIN, {"u": username, "p": "first-password"}))["data"]["login"]["token"]
    wrong = await gql(PASSWORD_CHANGE, {"c": "not-it", "n": "second-password"}, token=session)
    assert wrong["data"]["staffPasswordChange"] == {
        "done": False,
        "errors": [{"code": "INVALID_CREDENTIALS", "field": ["currentPassword"]}],
    }
    assert (await gql(ME, token=other))["data"]["me"]["username"] == username
    body = await gql(
        PASSWORD_CHANGE, {"c": "first-password", "n": "second-password"}, token=session
    )
    assert body["data"]["staffPasswordChange"] == {"done": True, "errors": []}
    assert (await gql(ME, token=session))["data"]["me"]["username"] == username
    assert (await gql(ME, token=other))["data"]["me"] is None
    assert (await gql(LOGIN, {"u": username, "p": "first-password"}))["data"]["login"][
        "token"
    ] is None
    assert (await gql(LOGIN, {"u": username, "p": "second-password"}))["data"]["login"]["token"]


async def test_the_current_password_is_guessed_no_more_than_a_login(
    gql: Any, factory: Any, settings: Any, raw_sql: Any
) -> None:
    username, session = await factory.staff(P.CUSTOMER_VIEW, password="first-password")
    stored = "SELECT password_hash FROM staff_users WHERE username = :u"
    before = await raw_sql(stored, u=username)
    for n in range(settings.login_max_failures):
        wrong = await gql(PASSWORD_CHANGE, {"c": f"guess-{n}", "n": "mine-now-123"}, token=session)
        assert [e["code"] for e in wrong["data"]["staffPasswordChange"]["errors"]] == [
            "INVALID_CREDENTIALS"
        ]
    # Past the limit even the right password is not checked, and nothing changes.
    right = await gql(PASSWORD_CHANGE, {"c": "first-password", "n": "mine-now-123"}, token=session)
    assert [e["code"] for e in right["data"]["staffPasswordChange"]["errors"]] == [
        "TOO_MANY_ATTEMPTS"
    ]
    assert await raw_sql(stored, u=username) == before


SESSIONS = "{ mySessions { id current } }"
SESSION_END = "mutation($id: ID!) { sessionEnd(id: $id) { done errors { code field } } }"


async def test_a_session_is_listed_and_ended_by_its_owner_only(gql: Any, factory: Any) -> None:
    username, first = await factory.staff(P.CUSTOMER_VIEW, password="first-password")
    second = (await gql(LOGIN, {"u": username, "p": "first-password"}))["data"]["login"]["token"]
    sessions = (await gql(SESSIONS, token=first))["data"]["mySessions"]
    assert sorted(s["current"] for s in sessions) == [False, True]
    [other_id] = [s["id"] for s in sessions if not s["current"]]
    _, stranger = await factory.staff(P.STAFF_MANAGE)
    refused = await gql(SESSION_END, {"id": other_id}, token=stranger)
    assert refused["data"]["sessionEnd"]["errors"] == [{"code": "NOT_FOUND", "field": ["id"]}]
    assert (await gql(ME, token=second))["data"]["me"]["username"] == username
    ended = await gql(SESSION_END, {"id": other_id}, token=first)
    assert ended["data"]["sessionEnd"] == {"done": True, "errors": []}
    assert (await gql(ME, token=second))["data"]["me"] is None
    assert [s["current"] for s in (await gql(SESSIONS, token=first))["data"]["mySessions"]] == [
        True
    ]
