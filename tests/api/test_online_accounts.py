"""Online-store accounts (issue 10 §3, seed 003): initial password, sign-in, reset, customerMe."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update

from app.db.base import Base
from app.db.models import Notification, OnlineAccount
from app.domain.permissions import Permission as P
from app.services.account_secrets import RESET_CODE_MAX_FAILURES
from app.services.customer_merge import CustomerMergeService
from app.services.gateways import DeliveryFailed, OutgoingMessage
from tests.jobs.test_outbox_pipeline import RecordingGateway, run_worker

LOGIN = """mutation($login: String!, $password: String!) {
  customerAccountLogin(login: $login, password: $password) { token errors { field code } } }"""
RESET_REQUEST = """mutation($login: String!) {
  customerPasswordResetRequest(login: $login) { errors { field code } } }"""
RESET = """mutation($login: String!, $code: String!, $password: String!) {
  customerPasswordReset(login: $login, code: $code, newPassword: $password) {
    token errors { field code } } }"""
ME = "{ customerMe { id name email phone emailSubscribed smsSubscribed onlineAccount { state } } }"
ACCOUNT = "query($id: ID!) { customer(id: $id) { onlineAccount { state createdAt lastLoginAt } } }"
INVITE = """mutation($id: ID!) { customerAccountInvite(customerId: $id) {
  customer { id } errors { field code } } }"""


@pytest.fixture(autouse=True)
async def _credits(factory: Any) -> None:
    await factory.sms_credits(100)


def password_in(message: OutgoingMessage) -> str:
    found = re.search(r"password: (\S+)$", message.body)
    assert found, message.body
    return found.group(1)


def code_in(message: OutgoingMessage) -> str:
    found = re.search(r"code is (\d{8})\.", message.body)
    assert found, message.body
    return found.group(1)


async def login(gql: Any, name: str, password: str) -> dict[str, Any]:
    body = await gql(LOGIN, {"login": name, "password": password})
    return body["data"]["customerAccountLogin"]  # type: ignore[no-any-return]


async def registered(factory: Any, runtime: Any, **fields: Any) -> tuple[Any, str]:
    """A customer registered at the till, and the initial password their message carried."""
    customer = await factory.customer(**fields)
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    [message] = [m for m in gateway.sent if m.notification_id]
    return customer, password_in(message)


async def set_accounts(runtime: Any, **values: Any) -> None:
    """What time or other callers would do to every account (a test's shortcut)."""
    async with runtime.db.write() as session:
        await session.execute(update(OnlineAccount).values(**values))


async def dump(raw_sql: Any) -> str:
    """Every row of every table, as text: where a secret must not be."""
    rows = []
    for table in Base.metadata.sorted_tables:
        rows.extend(await raw_sql(f"SELECT * FROM {table.name}"))  # noqa: S608
    return repr(rows)


async def test_the_registration_message_carries_an_initial_password_kept_only_as_a_hash(
    gql, factory, runtime, raw_sql, caplog
) -> None:
    customer, password = await registered(
        factory, runtime, name="Ada", phone="+12125550111", email="ada@example.com"
    )
    assert len(password) == 10
    assert password not in await dump(raw_sql)
    assert password not in caplog.text
    [(stored,)] = await raw_sql("SELECT password_hash FROM online_accounts")
    assert stored.startswith("$argon2id$")
    staff = await factory.token(P.CUSTOMER_VIEW)
    account = (await gql(ACCOUNT, {"id": str(customer.id)}, token=staff))["data"]["customer"]
    assert account["onlineAccount"]["state"] == "INVITED"
    assert account["onlineAccount"]["lastLoginAt"] is None

    # The email in any case, the phone in any format.
    for name in ("ADA@example.com", "(212) 555-0111"):
        signed_in = await login(gql, name, password)
        assert signed_in["errors"] == [], name
        assert signed_in["token"].startswith("pcc_")
    account = (await gql(ACCOUNT, {"id": str(customer.id)}, token=staff))["data"]["customer"]
    assert account["onlineAccount"]["state"] == "ACTIVE"
    assert account["onlineAccount"]["lastLoginAt"] is not None


async def test_a_retried_send_carries_a_new_password_and_only_that_one_works(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Bo", phone="+12125550112", email="bo@example.com")

    class FailsAfterSeeing(RecordingGateway):
        """Keeps the first message, then says it failed: a send that may have arrived."""

        async def send(self, message: OutgoingMessage) -> None:
            self.sent.append(message)
            if len(self.sent) == 1:
                raise DeliveryFailed("timeout")

    gateway = FailsAfterSeeing()
    runtime.settings = runtime.settings.model_copy(update={"notification_retry_base_seconds": 0.01})
    await run_worker(runtime, gateway)
    first, second = (password_in(m) for m in gateway.sent)
    assert first != second
    assert (await login(gql, "bo@example.com", first))["errors"] == [
        {"field": None, "code": "INVALID_CREDENTIALS"}
    ]
    assert (await login(gql, "bo@example.com", second))["errors"] == []


async def test_wrong_passwords_and_unknown_names_answer_alike_and_are_throttled(
    gql, factory, runtime
) -> None:
    _, password = await registered(factory, runtime, name="Cy", email="cy@example.com")
    wrong = {"field": None, "code": "INVALID_CREDENTIALS"}
    assert (await login(gql, "cy@example.com", "not-it"))["errors"] == [wrong]
    assert (await login(gql, "nobody@example.com", password))["errors"] == [wrong]
    assert (await login(gql, "not a phone", password))["errors"] == [wrong]
    for _ in range(runtime.settings.login_max_failures):
        await login(gql, "cy@example.com", "guess")
    throttled = await login(gql, "cy@example.com", password)
    assert throttled == {"token": None, "errors": [{"field": None, "code": "TOO_MANY_ATTEMPTS"}]}


async def test_a_customer_token_reads_and_changes_only_its_own_profile(
    gql, factory, runtime, raw_sql
) -> None:
    customer, password = await registered(
        factory, runtime, name="Di", phone="+12125550114", email="di@example.com"
    )
    other = await factory.customer(name="Someone Else")
    token = (await login(gql, "di@example.com", password))["token"]

    me = (await gql(ME, token=token))["data"]["customerMe"]
    assert me == {
        "id": str(customer.id),
        "name": "Di",
        "email": "di@example.com",
        "phone": "+12125550114",
        "emailSubscribed": False,
        "smsSubscribed": False,
        "onlineAccount": {"state": "ACTIVE"},
    }
    # No staff operation knows a customer token.
    for query, variables in (
        ("{ customers(first: 5) { totalCount } }", {}),
        ("query($id: ID!) { customer(id: $id) { name } }", {"id": str(other.id)}),
        ("{ businessSettings { pointValue } }", {}),
    ):
        body = await gql(query, variables, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], query
    refused = await gql(
        "mutation($id: ID!) { customerDelete(id: $id) { errors { code } } }",
        {"id": str(other.id)},
        token=token,
    )
    assert refused["data"]["customerDelete"]["errors"] == [{"code": "UNAUTHENTICATED"}]
    # And no staff token is a customer.
    staff = await factory.token(*P)
    body = await gql(ME, token=staff)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]

    changed = await gql(
        "mutation($input: CustomerSelfInput!) { customerMeUpdate(input: $input) "
        "{ me { name version } errors { field code } } }",
        {"input": {"expectedVersion": customer.version, "name": "Diana"}},
        token=token,
    )
    assert changed["data"]["customerMeUpdate"]["errors"] == []
    assert changed["data"]["customerMeUpdate"]["me"]["name"] == "Diana"
    subscribed = await gql(
        "mutation { customerMeConsentUpdate(channel: EMAIL, subscribed: true) "
        "{ me { emailSubscribed } errors { code } } }",
        token=token,
    )
    assert subscribed["data"]["customerMeConsentUpdate"] == {
        "me": {"emailSubscribed": True},
        "errors": [],
    }
    assert await raw_sql("SELECT source, actor_label FROM marketing_consent_history") == [
        ("ONLINE_STORE", "customer (online store)")
    ]
    [(label,)] = await raw_sql(
        f"SELECT actor_label FROM audit_entries WHERE entity_id = '{customer.id}' "  # noqa: S608
        "AND action = 'update'"
    )
    assert label == "customer (online store)"
    assert await raw_sql("SELECT name FROM customers ORDER BY name") == [
        ("Diana",),
        ("Someone Else",),
    ]

    out = await gql("mutation { customerLogout { revoked errors { code } } }", token=token)
    assert out["data"]["customerLogout"] == {"revoked": True, "errors": []}
    body = await gql(ME, token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def reset_code(gql: Any, runtime: Any, name: str) -> tuple[str, OutgoingMessage]:
    assert (await gql(RESET_REQUEST, {"login": name}))["data"]["customerPasswordResetRequest"] == {
        "errors": []
    }
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    [message] = gateway.sent
    return code_in(message), message


async def test_a_reset_code_sets_a_new_password_once_and_ends_other_sessions(
    gql, factory, runtime, raw_sql
) -> None:
    _, initial = await registered(factory, runtime, name="Ed", email="ed@example.com")
    old_session = (await login(gql, "ed@example.com", initial))["token"]
    code, message = await reset_code(gql, runtime, "ED@example.com")
    assert message.channel == "EMAIL"
    assert code not in await dump(raw_sql)

    short = await gql(RESET, {"login": "ed@example.com", "code": code, "password": "short"})
    assert short["data"]["customerPasswordReset"]["errors"] == [
        {"field": ["newPassword"], "code": "INVALID"}
    ]
    wrong = await gql(RESET, {"login": "ed@example.com", "code": "00000000", "password": "x" * 9})
    assert wrong["data"]["customerPasswordReset"]["errors"] == [
        {"field": ["code"], "code": "INVALID_RESET_CODE"}
    ]
    done = await gql(RESET, {"login": "ed@example.com", "code": code, "password": "new secret 1"})
    assert done["data"]["customerPasswordReset"]["errors"] == []
    assert done["data"]["customerPasswordReset"]["token"].startswith("pcc_")
    again = await gql(RESET, {"login": "ed@example.com", "code": code, "password": "new secret 2"})
    assert again["data"]["customerPasswordReset"]["errors"] == [
        {"field": ["code"], "code": "INVALID_RESET_CODE"}
    ]
    assert (await login(gql, "ed@example.com", initial))["token"] is None
    assert (await login(gql, "ed@example.com", "new secret 1"))["errors"] == []
    body = await gql(ME, token=old_session)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_the_reset_answer_is_the_same_for_a_name_nobody_has(gql, factory, raw_sql) -> None:
    for name in ("nobody@example.com", "+12125550199", "garbage", ""):
        body = await gql(RESET_REQUEST, {"login": name})
        assert body["data"] == {"customerPasswordResetRequest": {"errors": []}}
    assert await raw_sql("SELECT count(*) FROM notifications") == [(0,)]


async def test_without_an_email_the_code_goes_by_sms(gql, factory, runtime) -> None:
    await factory.customer(name="Flo", phone="+12125550116")
    await run_worker(runtime, RecordingGateway())
    code, message = await reset_code(gql, runtime, "212 555 0116")
    assert message.channel == "SMS"
    done = await gql(RESET, {"login": "+12125550116", "code": code, "password": "flo secret"})
    assert done["data"]["customerPasswordReset"]["errors"] == []


async def test_a_code_dies_after_too_many_wrong_guesses_from_anywhere(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Gil", email="gil@example.com")
    await run_worker(runtime, RecordingGateway())
    code, _ = await reset_code(gql, runtime, "gil@example.com")
    # Guesses from many addresses: the throttle counts per address, the code per account.
    await set_accounts(runtime, reset_code_failures=RESET_CODE_MAX_FAILURES)
    dead = await gql(RESET, {"login": "gil@example.com", "code": code, "password": "gil secret"})
    assert dead["data"]["customerPasswordReset"]["errors"][0]["code"] == "INVALID_RESET_CODE"


async def test_an_expired_code_is_refused(gql, factory, runtime, raw_sql) -> None:
    await factory.customer(name="Hal", email="hal@example.com")
    await run_worker(runtime, RecordingGateway())
    code, _ = await reset_code(gql, runtime, "hal@example.com")
    await set_accounts(runtime, reset_code_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    late = await gql(RESET, {"login": "hal@example.com", "code": code, "password": "hal secret"})
    assert late["data"]["customerPasswordReset"]["errors"][0]["code"] == "INVALID_RESET_CODE"


async def test_wrong_codes_count_against_the_code(gql, factory, runtime, raw_sql) -> None:
    await factory.customer(name="Ida", email="ida@example.com")
    await run_worker(runtime, RecordingGateway())
    await reset_code(gql, runtime, "ida@example.com")
    await gql(RESET, {"login": "ida@example.com", "code": "11111111", "password": "ida secret"})
    assert await raw_sql("SELECT reset_code_failures FROM online_accounts") == [(1,)]


async def test_an_invitation_is_resent_until_the_customer_signs_in(
    gql, factory, runtime, raw_sql
) -> None:
    customer, password = await registered(factory, runtime, name="Jo", email="jo@example.com")
    staff = await factory.token(P.CUSTOMER_MODIFY)
    again = await gql(INVITE, {"id": str(customer.id)}, token=staff)
    assert again["data"]["customerAccountInvite"]["errors"] == []
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    new_password = password_in(gateway.sent[0])
    assert (await login(gql, "jo@example.com", password))["token"] is None
    assert (await login(gql, "jo@example.com", new_password))["errors"] == []
    active = await gql(INVITE, {"id": str(customer.id)}, token=staff)
    assert active["data"]["customerAccountInvite"]["errors"] == [
        {"field": ["customerId"], "code": "ACCOUNT_ACTIVE"}
    ]


async def test_an_invitation_needs_a_channel(gql, factory) -> None:
    staff = await factory.token(P.CUSTOMER_MODIFY, P.SETTINGS_MANAGE)
    customer = await factory.customer(name="Kim", phone="+12125550117")
    await gql(
        "mutation { businessSettingsUpdate(input: {smsScenarios: []}) { errors { code } } }",
        token=staff,
    )
    refused = await gql(INVITE, {"id": str(customer.id)}, token=staff)
    assert refused["data"]["customerAccountInvite"]["errors"] == [
        {"field": ["customerId"], "code": "NO_MESSAGE_CHANNEL"}
    ]


async def test_a_password_chosen_meanwhile_is_not_overwritten_by_a_late_invitation(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Lu", email="lu@example.com")
    # The invitation waits in the queue while the customer resets and signs in.
    await gql(RESET_REQUEST, {"login": "lu@example.com"})
    await set_accounts(runtime, state="ACTIVE", password_hash="chosen-by-customer")
    gateway = RecordingGateway()
    await run_worker(runtime, gateway)
    assert await raw_sql("SELECT password_hash FROM online_accounts") == [("chosen-by-customer",)]
    statuses = await raw_sql(
        "SELECT scenario, status FROM notifications WHERE channel = 'EMAIL' ORDER BY scenario"
    )
    assert statuses == [("PASSWORD_RESET", "SENT"), ("REGISTRATION", "SKIPPED")]
    assert [m.subject for m in gateway.sent] == ["Your password reset code"]


async def test_a_merge_keeps_the_survivors_account_and_ends_the_others_sessions(
    gql, factory, runtime, raw_sql
) -> None:
    survivor, _ = await registered(factory, runtime, name="Mo", email="mo@example.com")
    merged, password = await registered(factory, runtime, name="Mo B", email="mob@example.com")
    token = (await login(gql, "mob@example.com", password))["token"]
    result = await CustomerMergeService(runtime.tx, None).merge(merged.id, survivor.id)
    assert result.errors == []
    rows = await raw_sql("SELECT customer_id, state FROM online_accounts")
    assert {uuid.UUID(str(r[0])): r[1] for r in rows} == {
        survivor.id: "INVITED",
        merged.id: "DISABLED",
    }
    body = await gql(ME, token=token)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


async def test_a_survivor_without_an_account_takes_the_merged_ones(
    factory, runtime, raw_sql
) -> None:
    survivor_id = (await factory.customer(name="No Account")).id
    async with runtime.db.write() as session:
        await session.execute(delete(OnlineAccount))
    merged, _ = await registered(factory, runtime, name="Has One", email="one@example.com")
    result = await CustomerMergeService(runtime.tx, None).merge(merged.id, survivor_id)
    assert result.errors == []
    rows = await raw_sql("SELECT customer_id, state FROM online_accounts")
    assert [(uuid.UUID(str(r[0])), r[1]) for r in rows] == [(survivor_id, "INVITED")]


async def test_reset_requests_from_many_addresses_send_at_most_one_a_minute(
    gql, factory, runtime, raw_sql
) -> None:
    await factory.customer(name="Nia", phone="+12125550118")
    await run_worker(runtime, RecordingGateway())
    for _ in range(2):
        body = await gql(RESET_REQUEST, {"login": "+12125550118"})
        assert body["data"]["customerPasswordResetRequest"] == {"errors": []}
    resets = await raw_sql("SELECT count(*) FROM notifications WHERE scenario = 'PASSWORD_RESET'")
    assert resets == [(1,)]
    # A minute on, one more may go.
    async with runtime.db.write() as session:
        await session.execute(
            update(Notification).values(created_at=datetime.now(UTC) - timedelta(minutes=2))
        )
    later = await gql(RESET_REQUEST, {"login": "+12125550118"})
    assert later["data"]["customerPasswordResetRequest"] == {"errors": []}
    assert await raw_sql(
        "SELECT count(*) FROM notifications WHERE scenario = 'PASSWORD_RESET'"
    ) == [(2,)]
