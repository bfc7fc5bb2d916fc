"""The full customer profile (seeds 001, 002): every field, its checks, its audit, its masking."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.services.customers import AddressDraft, PhoneDraft

PROFILE = """
  id name firstName lastName phone email customerCode birthDate gender
  pan gstin state stateName regNo vatNo allowCreditSale creditLimit
  preferredChannel willingToReceive remarks version
  addresses { label line1 line2 city region postalCode country }
  otherPhones { phone label }
"""
CREATE = f"""
mutation($input: CustomerCreateInput!) {{
  customerCreate(input: $input) {{ customer {{ {PROFILE} }} errors {{ field code message }} }}
}}"""
UPDATE = f"""
mutation($id: ID!, $input: CustomerUpdateInput!) {{
  customerUpdate(id: $id, input: $input) {{ customer {{ {PROFILE} }} errors {{ field code }} }}
}}"""
READ = f"query($id: ID!) {{ customer(id: $id) {{ {PROFILE} }} }}"
AUDIT = """query($id: ID!) {
  customer(id: $id) { auditTrail(first: 5) { edges { node { action before after } } } }
}"""
SEARCH = "query($q: String!) { customers(search: $q) { edges { node { id phone } } } }"
MANAGER = (
    P.CUSTOMER_VIEW,
    P.CUSTOMER_VIEW_PII,
    P.CUSTOMER_ADD,
    P.CUSTOMER_MODIFY,
    P.AUDIT_VIEW,
)
GSTIN = "27AAPFU0939F1ZV"  # Maharashtra, PAN AAPFU0939F

FULL = {
    "firstName": " Priya ",
    "lastName": "Sharma",
    "phone": "+91 98200 12345",
    "email": "Priya@Example.com",
    "customerCode": "C-001",
    "birthDate": "1990-04-01",
    "gender": "FEMALE",
    "pan": "aapfu 0939 f",
    "gstin": "27 AAPFU0939F 1ZV",
    "state": "maharashtra",
    "regNo": " u12345mh2020ptc123456 ",
    "vatNo": "gb 123 4567 89",
    "allowCreditSale": True,
    "creditLimit": "2500.50",
    "preferredChannel": "EMAIL",
    "willingToReceive": True,
    "remarks": "  Prefers morning deliveries.\nAllergic to nuts.  ",
    "addresses": [
        {"label": "Home", "line1": "12 Marine Drive", "city": "Mumbai", "country": "in"},
        {"line1": "4 Park Street", "postalCode": "700016"},
    ],
    "otherPhones": [{"number": "+91 22 2202 1234", "label": "Office"}],
}


@pytest.fixture
async def token(factory: Any) -> str:
    return str(await factory.token(*MANAGER))


async def create(gql: Any, token: str, **fields: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": fields}, token=token)
    return body["data"]["customerCreate"]  # type: ignore[no-any-return]


async def customer_count(raw_sql: Any) -> int:
    return (await raw_sql("SELECT COUNT(*) FROM customers"))[0][0]  # type: ignore[no-any-return]


async def test_every_profile_field_is_saved_normalised(gql: Any, token: str) -> None:
    made = await create(gql, token, **FULL)
    assert made["errors"] == []
    customer = made["customer"]
    assert customer | {"id": None} == {
        "id": None,
        "name": "Priya Sharma",  # seed 001: first and last name are enough
        "firstName": "Priya",
        "lastName": "Sharma",
        "phone": "+919820012345",
        "email": "Priya@example.com",
        "customerCode": "C-001",
        "birthDate": "1990-04-01",
        "gender": "FEMALE",
        "pan": "AAPFU0939F",
        "gstin": GSTIN,
        "state": "27",
        "stateName": "Maharashtra",
        "regNo": "U12345MH2020PTC123456",
        "vatNo": "GB123456789",
        "allowCreditSale": True,
        "creditLimit": "2500.50",
        "preferredChannel": "EMAIL",
        "willingToReceive": True,
        "remarks": "Prefers morning deliveries.\nAllergic to nuts.",
        "version": 1,
        "addresses": [
            {
                "label": "Home",
                "line1": "12 Marine Drive",
                "line2": None,
                "city": "Mumbai",
                "region": None,
                "postalCode": None,
                "country": "IN",
            },
            {
                "label": None,
                "line1": "4 Park Street",
                "line2": None,
                "city": None,
                "region": None,
                "postalCode": "700016",
                "country": None,
            },
        ],
        "otherPhones": [{"phone": "+912222021234", "label": "Office"}],
    }


async def test_a_name_or_a_first_or_last_name_is_required(gql: Any, token: str) -> None:
    made = await create(gql, token, phone="+12125550100")
    assert [(e["field"], e["code"]) for e in made["errors"]] == [(["input", "name"], "REQUIRED")]
    made = await create(gql, token, phone="+12125550100", lastName="Okafor")
    assert made["customer"]["name"] == "Okafor"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("pan", "ABCDE1234", "PAN_INVALID"),
        ("pan", "ABCXE1234F", "PAN_INVALID"),  # X is no holder type
        ("gstin", "27AAPFU0939F1ZW", "GSTIN_INVALID"),  # wrong check character
        ("gstin", "28AAPFU0939F1ZV", "GSTIN_INVALID"),  # 28 is no longer a state code
        ("state", "Atlantis", "STATE_INVALID"),
        ("state", "25", "STATE_INVALID"),  # merged into 26 in 2020
        ("regNo", "ABC", "REG_NO_INVALID"),  # no digit
        ("regNo", "12#4", "REG_NO_INVALID"),
        ("vatNo", "GB12", "VAT_NO_INVALID"),
        ("birthDate", (date.today() + timedelta(days=1)).isoformat(), "INVALID"),
        ("birthDate", "1899-12-31", "INVALID"),
        ("creditLimit", "-1", "INVALID"),
        ("creditLimit", "10.001", "INVALID"),
        ("remarks", "x" * 2001, "INVALID"),
        ("firstName", "y" * 101, "INVALID"),
    ],
)
async def test_each_field_is_checked_and_nothing_is_saved(
    gql: Any, token: str, raw_sql: Any, field: str, value: str, code: str
) -> None:
    made = await create(gql, token, name="Ann", phone="+12125550100", **{field: value})
    assert made["customer"] is None
    assert [(e["field"], e["code"]) for e in made["errors"]] == [(["input", field], code)]
    assert await customer_count(raw_sql) == 0


async def test_all_bad_fields_are_reported_at_once(gql: Any, token: str) -> None:
    made = await create(gql, token, name="Ann", phone="x", pan="1", vatNo="2")
    assert {e["code"] for e in made["errors"]} == {"PHONE_INVALID", "PAN_INVALID", "VAT_NO_INVALID"}


async def test_the_gstin_must_agree_with_state_and_pan(gql: Any, token: str) -> None:
    made = await create(gql, token, name="A", phone="+12125550100", gstin=GSTIN, state="29")
    assert [e["code"] for e in made["errors"]] == ["GSTIN_INVALID"]
    assert "state 27" in made["errors"][0]["message"]
    made = await create(gql, token, name="A", phone="+12125550100", gstin=GSTIN, pan="AAPFU0939G")
    assert [e["code"] for e in made["errors"]] == ["GSTIN_INVALID"]
    # Without a state, the GSTIN's own state is recorded.
    made = await create(gql, token, name="A", phone="+12125550100", gstin=GSTIN)
    assert (made["customer"]["state"], made["customer"]["stateName"]) == ("27", "Maharashtra")


async def test_credit_sale_needs_a_limit(gql: Any, token: str) -> None:
    made = await create(gql, token, name="A", phone="+12125550100", allowCreditSale=True)
    assert [(e["field"], e["code"]) for e in made["errors"]] == [
        (["input", "creditLimit"], "REQUIRED")
    ]
    made = await create(
        gql, token, name="A", phone="+12125550100", allowCreditSale=True, creditLimit="0"
    )
    assert made["customer"]["creditLimit"] == "0.00"


async def test_a_preferred_channel_needs_its_address(gql: Any, token: str) -> None:
    made = await create(gql, token, name="A", phone="+12125550100", preferredChannel="EMAIL")
    assert [(e["field"], e["code"]) for e in made["errors"]] == [
        (["input", "preferredChannel"], "INVALID")
    ]
    made = await create(gql, token, name="A", phone="+12125550100", preferredChannel="POST")
    assert [e["code"] for e in made["errors"]] == ["INVALID"]
    made = await create(
        gql, token, name="A", phone="+12125550100", email="a@example.com", preferredChannel="EMAIL"
    )
    customer = made["customer"]
    # Removing the email drops the preference with it, as it unsubscribes email marketing.
    body = await gql(
        UPDATE, {"id": customer["id"], "input": {"expectedVersion": 1, "email": None}}, token=token
    )
    assert body["data"]["customerUpdate"]["customer"]["preferredChannel"] is None
    trail = await gql(AUDIT, {"id": customer["id"]}, token=token)
    last = trail["data"]["customer"]["auditTrail"]["edges"][0]["node"]
    assert last["after"] == {"email": None, "preferredChannel": None}


@pytest.mark.parametrize(
    ("address", "path", "code"),
    [
        ({"line1": " "}, ["input", "addresses", "0", "line1"], "REQUIRED"),
        (
            {"line1": "1 Main St", "country": "XX"},
            ["input", "addresses", "0", "country"],
            "INVALID",
        ),
        (
            {"line1": "1 Main St", "postalCode": "9" * 21},
            ["input", "addresses", "0", "postalCode"],
            "INVALID",
        ),
    ],
)
async def test_addresses_are_checked_per_line(
    gql: Any, token: str, address: dict[str, str], path: list[str], code: str
) -> None:
    made = await create(gql, token, name="A", phone="+12125550100", addresses=[address])
    assert [(e["field"], e["code"]) for e in made["errors"]] == [(path, code)]


async def test_other_phones_are_unique_and_found_by_search(
    gql: Any, token: str, factory: Any
) -> None:
    other = await factory.customer(phone="+12125550199")
    made = await create(
        gql,
        token,
        name="Ann",
        phone="+12125550100",
        otherPhones=[{"number": "(646) 555-0111"}, {"number": "+1 212 555 0199"}],
    )
    assert [(e["field"], e["code"]) for e in made["errors"]] == [
        (["input", "otherPhones", "1", "number"], "PHONE_TAKEN")
    ]
    made = await create(
        gql, token, name="Ann", phone="+12125550100", otherPhones=[{"number": "6465550111"}]
    )
    ann = made["customer"]
    # A national number, a prefix, any format: the extra phone finds its customer.
    for term in ("646-555-0111", "+1646555", "(646) 555"):
        found = await gql(SEARCH, {"q": term}, token=token)
        assert [e["node"]["id"] for e in found["data"]["customers"]["edges"]] == [ann["id"]], term
    # The other way round: nobody may take Ann's extra number as a main phone.
    body = await gql(
        UPDATE,
        {"id": str(other.id), "input": {"expectedVersion": 1, "phone": "+16465550111"}},
        token=token,
    )
    assert [e["code"] for e in body["data"]["customerUpdate"]["errors"]] == ["PHONE_TAKEN"]


@pytest.mark.parametrize(
    "phones",
    [
        [{"number": "+12125550100"}],  # repeats the main phone
        [{"number": "+16465550111"}, {"number": "646 555 0111"}],  # listed twice
    ],
)
async def test_other_phones_cannot_repeat(gql: Any, token: str, phones: list[Any]) -> None:
    made = await create(gql, token, name="Ann", phone="+12125550100", otherPhones=phones)
    assert [e["code"] for e in made["errors"]] == ["DUPLICATE"]


async def test_every_field_is_editable_and_audited(gql: Any, token: str) -> None:
    made = await create(gql, token, name="Ann", phone="+12125550100")
    customer_id = made["customer"]["id"]
    changes = {k: v for k, v in FULL.items() if k != "phone"}
    body = await gql(
        UPDATE, {"id": customer_id, "input": {"expectedVersion": 1, **changes}}, token=token
    )
    updated = body["data"]["customerUpdate"]
    assert updated["errors"] == []
    assert updated["customer"]["version"] == 2
    assert updated["customer"]["pan"] == "AAPFU0939F"
    assert updated["customer"]["otherPhones"] == [{"phone": "+912222021234", "label": "Office"}]
    trail = await gql(AUDIT, {"id": customer_id}, token=token)
    entry = trail["data"]["customer"]["auditTrail"]["edges"][0]["node"]
    assert entry["action"] == "update"
    audited = set(entry["after"])
    assert {
        "firstName", "lastName", "email", "customerCode", "birthDate", "gender", "pan",
        "gstin", "state", "regNo", "vatNo", "allowCreditSale", "creditLimit",
        "preferredChannel", "willingToReceive", "remarks", "addresses", "otherPhones",
    } <= audited  # fmt: skip
    assert entry["before"]["pan"] is None
    assert entry["after"]["pan"] == "AAPFU0939F"
    # Clearing works field by field; the lists are replaced whole.
    body = await gql(
        UPDATE,
        {
            "id": customer_id,
            "input": {
                "expectedVersion": 2,
                "gstin": None,
                "pan": None,
                "addresses": [],
                "allowCreditSale": False,
            },
        },
        token=token,
    )
    cleared = body["data"]["customerUpdate"]["customer"]
    assert (cleared["pan"], cleared["gstin"], cleared["addresses"]) == (None, None, [])
    assert cleared["allowCreditSale"] is False


async def test_a_rejected_update_changes_nothing(gql: Any, token: str) -> None:
    made = await create(gql, token, **FULL)
    customer_id = made["customer"]["id"]
    body = await gql(
        UPDATE,
        {
            "id": customer_id,
            "input": {"expectedVersion": 1, "remarks": "new", "otherPhones": [], "pan": "bad"},
        },
        token=token,
    )
    assert [e["code"] for e in body["data"]["customerUpdate"]["errors"]] == ["PAN_INVALID"]
    again = await gql(READ, {"id": customer_id}, token=token)
    assert again["data"]["customer"] == made["customer"]


async def test_a_cashier_without_pii_sees_masked_personal_data(
    gql: Any, token: str, factory: Any
) -> None:
    made = await create(gql, token, **FULL)
    cashier = await factory.token(P.CUSTOMER_VIEW)
    seen = (await gql(READ, {"id": made["customer"]["id"]}, token=cashier))["data"]["customer"]
    assert seen["phone"] == "+9•••••••2345"
    assert seen["email"] == "P•••@example.com"
    assert seen["otherPhones"] == [{"phone": "+9•••••••1234", "label": "Office"}]
    for hidden in ("birthDate", "pan", "gstin", "regNo", "vatNo"):
        assert seen[hidden] is None, hidden
    assert seen["addresses"] == []
    # What a cashier needs at the till stays: the name, the code, the credit terms.
    assert (seen["name"], seen["customerCode"], seen["creditLimit"]) == (
        "Priya Sharma",
        "C-001",
        "2500.50",
    )
    # A search by the full number still finds the customer, and still masks it.
    found = await gql(SEARCH, {"q": "+919820012345"}, token=cashier)
    assert found["data"]["customers"]["edges"][0]["node"]["phone"] == "+9•••••••2345"


async def test_the_profile_list_takes_a_constant_number_of_statements(
    gql: Any, token: str, factory: Any, count_statements: Any
) -> None:
    screen = """{ customers(first: 20) { edges { node {
        id name pan addresses { line1 } otherPhones { phone } groups { name }
        marketingConsent { email { state } history { state } } } } } }"""
    counts = []
    for target in (5, 20):
        while len((await gql(screen, token=token))["data"]["customers"]["edges"]) < target:
            n = len((await gql(screen, token=token))["data"]["customers"]["edges"])
            await factory.customer(
                addresses=(AddressDraft(line1=f"{n} High St"),),
                phones=(PhoneDraft(f"+1917555{n:04d}"),),
            )
        with count_statements() as counter:
            body = await gql(screen, token=token)
        assert len(body["data"]["customers"]["edges"]) == target
        counts.append(counter.count)
    assert counts[0] == counts[1]
    # token, count, page, addresses, phones, groups, consents, consent history
    assert counts[1] <= 8


async def test_the_audit_trail_is_masked_like_the_fields(
    gql: Any, token: str, factory: Any
) -> None:
    made = await create(gql, token, **FULL)
    customer_id = made["customer"]["id"]
    await gql(
        UPDATE,
        {"id": customer_id, "input": {"expectedVersion": 1, "phone": "+91 98200 54321"}},
        token=token,
    )
    auditor = await factory.token(P.CUSTOMER_VIEW, P.AUDIT_VIEW)
    body = await gql(AUDIT, {"id": customer_id}, token=auditor)
    entries = [e["node"] for e in body["data"]["customer"]["auditTrail"]["edges"]]
    update, created = entries[0], entries[-1]
    assert (update["before"]["phone"], update["after"]["phone"]) == (
        "+9•••••••2345",
        "+9•••••••4321",
    )
    snapshot = created["after"]
    assert snapshot["email"] == "P•••@example.com"
    for hidden in ("birthDate", "pan", "gstin", "regNo", "vatNo"):
        assert snapshot[hidden] is None, hidden
    assert snapshot["addresses"] == []
    assert snapshot["otherPhones"] == [{"phone": "+9•••••••1234", "label": "Office"}]
    assert snapshot["firstName"] == "Priya"  # what is not personal data stays
    # With the permission, the history is whole.
    full = await gql(AUDIT, {"id": customer_id}, token=token)
    assert full["data"]["customer"]["auditTrail"]["edges"][0]["node"]["after"]["phone"] == (
        "+919820054321"
    )


async def test_one_number_is_never_taken_twice_as_main_and_other_phone(
    gql: Any, token: str, factory: Any, raw_sql: Any, monkeypatch: Any
) -> None:
    """No index spans the two tables, so racing transactions must take turns on a number."""
    import asyncio

    from app.db.repositories.customers import CustomerRepository

    number = "+13055550001"
    holder = await factory.customer()
    original = CustomerRepository.owners_of_phones
    checked, release = asyncio.Event(), asyncio.Event()

    async def paused(self: Any, phones: list[str]) -> Any:
        found = await original(self, phones)
        if number in phones and not checked.is_set():
            checked.set()  # the first transaction has seen the number free
            await release.wait()
        return found

    monkeypatch.setattr(CustomerRepository, "owners_of_phones", paused)
    update = asyncio.create_task(
        gql(
            UPDATE,
            {
                "id": str(holder.id),
                "input": {"expectedVersion": 1, "otherPhones": [{"number": number}]},
            },
            token=token,
        )
    )
    await checked.wait()
    made = asyncio.create_task(create(gql, token, name="New", phone=number))
    await asyncio.sleep(0.2)
    release.set()
    updated, created = await update, await made
    assert updated["data"]["customerUpdate"]["errors"] == []
    assert [e["code"] for e in created["errors"]] == ["PHONE_TAKEN"]
    main = await raw_sql("SELECT COUNT(*) FROM customers WHERE phone = :p", p=number)
    assert main[0][0] == 0


async def test_an_update_that_changes_nothing_keeps_the_version(gql: Any, token: str) -> None:
    made = await create(gql, token, **FULL)
    customer = made["customer"]
    same = {
        "expectedVersion": 1,
        "name": customer["name"],
        "phone": "+91 98200 12345",
        "pan": "aapfu0939f",
        "addresses": FULL["addresses"],
        "otherPhones": FULL["otherPhones"],
    }
    body = await gql(UPDATE, {"id": customer["id"], "input": same}, token=token)
    assert body["data"]["customerUpdate"]["customer"]["version"] == 1
    trail = await gql(AUDIT, {"id": customer["id"]}, token=token)
    actions = [e["node"]["action"] for e in trail["data"]["customer"]["auditTrail"]["edges"]]
    assert actions == ["create"]
