"""Profile pictures (issue 13, seed 004): uploaded over multipart HTTP, checked by what they
decode as, re-encoded without metadata, served at signed URLs to PII roles only."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest
from PIL import Image

from app.domain.permissions import Permission
from app.domain.photos import MAX_BYTES, sign_photo_token, url_expiry
from app.services.photos import PhotoService, remove_customer_photo
from tests.uploads import (
    PHOTO_SET,
    camera_jpeg,
    picture,
    png_declaring,
    post_upload,
    set_photo,
)

P = Permission
EDITOR = (P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII, P.CUSTOMER_MODIFY)
PHOTO_QUERY = "query($id: ID!) { customer(id: $id) { photoUrl small: photoUrl(size: SMALL) } }"
REMOVE = """
mutation($id: ID!) {
  customerPhotoRemove(customerId: $id) { customer { id photoUrl } errors { field code } }
}"""


async def _photo_rows(raw_sql) -> list[tuple]:
    return await raw_sql("SELECT customer_id, size, content_type FROM customer_photos")


async def _served(client, url: str) -> Image.Image:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"].startswith("private")
    assert response.headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


@pytest.mark.parametrize(
    ("fmt", "mode", "filename"),
    [("JPEG", "RGB", "a.jpg"), ("PNG", "RGBA", "a.png"), ("WEBP", "RGB", "a.webp")],
)
async def test_jpeg_png_and_webp_are_kept_in_two_sizes(
    client, factory, raw_sql, fmt: str, mode: str, filename: str
) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(
        client, str(customer.id), picture(fmt, (1000, 800), mode), token, filename=filename
    )
    assert payload["errors"] == []
    large, small = payload["customer"]["photoUrl"], payload["customer"]["small"]
    assert large.startswith("/photos/")
    assert small.startswith("/photos/")
    assert large != small
    # Scaled to fit, the shape kept; served as JPEG whatever came in.
    assert (await _served(client, large)).size == (512, 410)
    assert (await _served(client, small)).size == (128, 102)
    assert sorted(r[1] for r in await _photo_rows(raw_sql)) == ["LARGE", "SMALL"]


async def test_transparency_lands_on_white(client, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    clear = picture("PNG", (64, 64), "RGBA")
    payload = await set_photo(client, str(customer.id), clear, token, filename="a.png")
    served = await _served(client, payload["customer"]["photoUrl"])
    red, green, _ = served.convert("RGB").getpixel((32, 32))  # type: ignore[misc]
    # Half-transparent red on white is pink, not the dark red a black backdrop would give.
    assert red > 200
    assert green > 100


async def test_exif_and_gps_are_stripped_after_the_orientation_is_applied(client, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(client, str(customer.id), camera_jpeg(), token)
    for url in (payload["customer"]["photoUrl"], payload["customer"]["small"]):
        response = await client.get(url)
        assert b"SpyCam" not in response.content
        assert b"Exif" not in response.content
        served = Image.open(io.BytesIO(response.content))
        assert dict(served.getexif()) == {}
        assert "exif" not in served.info
        assert "icc_profile" not in served.info
        # Upright as the camera meant it: 600x300 turned a quarter is tall.
        assert served.height > served.width
    assert (await _served(client, payload["customer"]["photoUrl"])).size == (256, 512)


async def test_the_picture_is_checked_by_its_content_not_its_name(client, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    # A PNG called .gif, sent as text/plain: it is a PNG, so it is kept.
    payload = await set_photo(
        client,
        str(customer.id),
        picture("PNG"),
        token,
        filename="cat.gif",
        content_type="text/plain",
    )
    assert payload["errors"] == []
    assert len(await _photo_rows(raw_sql)) == 2


def _truncated_jpeg() -> bytes:
    whole = picture("JPEG", (400, 400), quality=95)
    return whole[: len(whole) // 2]


def _truncated_png() -> bytes:
    whole = picture("PNG", (400, 400))
    return whole[: len(whole) - 30]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("gif", picture("GIF"), "UNSUPPORTED_IMAGE"),
        ("bmp", picture("BMP"), "UNSUPPORTED_IMAGE"),
        ("tiff", picture("TIFF"), "UNSUPPORTED_IMAGE"),
        ("text", b"just some text, not a picture\n" * 10, "UNSUPPORTED_IMAGE"),
        ("empty", b"", "UNSUPPORTED_IMAGE"),
        ("truncated jpeg", _truncated_jpeg(), "UNSUPPORTED_IMAGE"),
        ("truncated png", _truncated_png(), "UNSUPPORTED_IMAGE"),
        # Above our 40-megapixel limit, below Pillow's own bomb warning.
        ("48 megapixels", png_declaring(8000, 6000), "IMAGE_TOO_MANY_PIXELS"),
        # A PNG decodes whole: 16 MP is its limit (a tiny transparent file of 40 MP took
        # 0.8 GB to re-encode). The same pixels as a JPEG are kept (test below).
        ("16.8 MP png", png_declaring(4100, 4100), "IMAGE_TOO_MANY_PIXELS"),
        # Far beyond even Pillow's limits: refused on the header, before any decoding.
        ("bomb", png_declaring(100_000, 100_000), "IMAGE_TOO_MANY_PIXELS"),
        ("one byte too many", b"\xff\xd8" + b"\0" * (MAX_BYTES - 1), "IMAGE_TOO_LARGE"),
    ],
)
async def test_bad_files_are_refused_and_change_nothing(
    client, factory, raw_sql, name: str, data: bytes, code: str
) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    first = await set_photo(client, str(customer.id), picture("JPEG"), token)
    kept = first["customer"]["photoUrl"]
    before = await raw_sql("SELECT id, size FROM customer_photos ORDER BY size")
    audits = await raw_sql("SELECT count(*) FROM audit_entries")

    payload = await set_photo(client, str(customer.id), data, token)
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["file"], code)]
    assert payload["errors"][0]["message"]
    assert await raw_sql("SELECT id, size FROM customer_photos ORDER BY size") == before
    assert await raw_sql("SELECT count(*) FROM audit_entries") == audits
    assert (await client.get(kept)).status_code == 200


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_far_past_the_limit_is_refused_as_it_arrives(
    client, factory, raw_sql, streamed: bool
) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    data = b"\xff\xd8" + b"\0" * (2 * MAX_BYTES)
    if not streamed:
        response = await post_upload(client, PHOTO_SET, {"id": str(customer.id)}, data, token=token)
        assert response.status_code == 413
        return
    # The same multipart body without a declared length: the guard counts what arrives.
    request = client.build_request(
        "POST",
        "/graphql",
        data={
            "operations": json.dumps({"query": PHOTO_SET, "variables": {"id": str(customer.id)}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("a.jpg", data, "image/jpeg")},
    )
    body = request.read()

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await client.post(
        "/graphql",
        content=chunks(),
        headers={
            "content-type": request.headers["content-type"],
            "Apollo-Require-Preflight": "true",
            "Authorization": f"Bearer {token}",
        },
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert await _photo_rows(raw_sql) == []


# --- CSRF: multipart only with a header a cross-site page cannot send ------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Apollo-Require-Preflight": ""}, {"Origin": "https://evil.example"}],
    ids=["none", "empty", "origin only"],
)
async def test_multipart_without_a_preflight_header_is_refused(
    client, factory, raw_sql, headers: dict[str, str]
) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    response = await post_upload(
        client, PHOTO_SET, {"id": str(customer.id)}, picture("JPEG"), token=token, headers=headers
    )
    assert response.status_code == 400
    assert "Apollo-Require-Preflight" in response.json()["errors"][0]["message"]
    assert await _photo_rows(raw_sql) == []


@pytest.mark.parametrize(
    "headers", [{"Apollo-Require-Preflight": "true"}, {"X-Requested-With": "XMLHttpRequest"}]
)
async def test_multipart_with_a_preflight_header_works(
    client, factory, raw_sql, headers: dict[str, str]
) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(client, str(customer.id), picture("JPEG"), token, headers=headers)
    assert payload["errors"] == []
    assert len(await _photo_rows(raw_sql)) == 2


async def test_other_form_posts_stay_refused(client) -> None:
    response = await client.post(
        "/graphql",
        content=b"query=%7B__typename%7D",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "X-Requested-With": "XMLHttpRequest",
        },
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        ("not json", '{"0": ["variables.file"]}'),
        ('[{"query": "{ __typename }"}]', '{"0": ["variables.file"]}'),
        ('{"query": "{ __typename }", "variables": {"file": null}}', '{"0": ["variables.0.x"]}'),
        ('{"query": "{ __typename }", "variables": "x"}', '{"0": ["variables.file"]}'),
        ('{"query": "{ __typename }"}', '{"1": ["variables.file"]}'),
        ('{"query": "{ __typename }"}', '{"0": "variables.file"}'),
        ('{"query": "{ __typename }"}', "[1]"),
        ('{"query": "{ __typename }", "variables": {"a": NaN}}', "{}"),
    ],
)
async def test_malformed_multipart_is_a_400_not_a_500(
    client, operations: str, files_map: str
) -> None:
    response = await client.post(
        "/graphql",
        data={"operations": operations, "map": files_map},
        files={"0": ("a.jpg", b"x", "image/jpeg")},
        headers={"Apollo-Require-Preflight": "true"},
    )
    assert response.status_code == 400, response.text


async def test_a_multipart_query_is_held_to_the_envelope_not_the_upload_limit(client) -> None:
    """Only the file may use the upload's 5 MiB: a 900 KB query as the operations field
    is refused as a JSON body of that size is."""
    padding = " " * 900_000
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": "{ __typename }" + padding}), "map": "{}"},
        files={"0": ("a.jpg", b"x", "image/jpeg")},
        headers={"Apollo-Require-Preflight": "true"},
    )
    assert response.status_code == 413, response.text
    small = await client.post(
        "/graphql",
        data={"operations": json.dumps({"query": "{ __typename }"}), "map": "{}"},
        files={"0": ("a.jpg", b"x", "image/jpeg")},
        headers={"Apollo-Require-Preflight": "true"},
    )
    assert small.status_code == 200, small.text


async def test_a_json_request_cannot_pass_a_string_for_the_file(gql, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    body = await gql(PHOTO_SET, {"id": str(customer.id), "file": "/etc/passwd"}, token=token)
    payload = body["data"]["customerPhotoSet"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["file"], "INVALID")]
    assert await _photo_rows(raw_sql) == []


# --- the signed URL ----------------------------------------------------------------------------


async def _signing_key(raw_sql) -> bytes:
    [(key,)] = await raw_sql("SELECT key FROM marketing_signing_key")
    return bytes.fromhex(key)


async def test_urls_are_refused_without_a_valid_token(client, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(client, str(customer.id), picture("PNG"), token)
    url = payload["customer"]["photoUrl"]
    signed = url.removeprefix("/photos/")
    [(photo_id,)] = await raw_sql("SELECT id FROM customer_photos WHERE size = 'LARGE'")
    photo_id = uuid.UUID(str(photo_id))
    key = await _signing_key(raw_sql)
    flipped = ("B" if signed[30] == "A" else "A").join((signed[:30], signed[31:]))
    now = time.time()
    refused = [
        "/photos/",
        "/photos/x",
        f"/photos/{flipped}",
        f"/photos/{signed}A",
        f"/photos/{signed[:-1]}",
        "/photos/" + "A" * 48,
        # Right key, right picture, expired a second ago.
        "/photos/" + sign_photo_token(key, photo_id, int(now) - 1),
        # Another key's signature on a far expiry.
        "/photos/" + sign_photo_token(b"k" * 32, photo_id, url_expiry(now)),
        # Another picture id under the real key: nothing there.
        "/photos/" + sign_photo_token(key, uuid.uuid4(), url_expiry(now)),
    ]
    for bad in refused:
        response = await client.get(bad)
        assert response.status_code == 404, bad
        assert "image" not in response.headers.get("content-type", "")
    # The control: the same picture under a freshly signed token is served.
    fresh = "/photos/" + sign_photo_token(key, photo_id, url_expiry(now))
    assert (await client.get(fresh)).status_code == 200
    # A URL needs nothing but itself: no Authorization header was sent.
    assert (await client.get(url)).status_code == 200


def test_a_url_lasts_one_to_two_hours_and_is_the_same_within_the_hour() -> None:
    start = 1_800_000_000 - 1_800_000_000 % 3600  # a whole hour
    for now in (start, start + 1, start + 1800, start + 3599):
        assert url_expiry(now) == start + 7200
        assert 3600 < url_expiry(now) - now <= 7200
    assert url_expiry(start + 3600) == start + 10800


async def test_the_same_picture_gets_the_same_url_within_the_hour(client, gql, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    await set_photo(client, str(customer.id), picture("PNG"), token)
    hour = int(time.time()) // 3600
    first = await gql(PHOTO_QUERY, {"id": str(customer.id)}, token=token)
    again = await gql(PHOTO_QUERY, {"id": str(customer.id)}, token=token)
    if int(time.time()) // 3600 == hour:  # not across an hour's boundary
        assert first["data"]["customer"] == again["data"]["customer"]


async def test_a_replaced_picture_is_gone_from_its_old_urls(client, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    old = await set_photo(client, str(customer.id), picture("PNG"), token)
    new = await set_photo(client, str(customer.id), picture("WEBP"), token)
    assert (await client.get(old["customer"]["photoUrl"])).status_code == 404
    assert (await client.get(new["customer"]["photoUrl"])).status_code == 200
    assert len(await _photo_rows(raw_sql)) == 2


# --- remove ---------------------------------------------------------------------------------


async def test_remove_deletes_every_size_and_its_urls(client, gql, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(client, str(customer.id), picture("JPEG"), token)
    urls = [payload["customer"]["photoUrl"], payload["customer"]["small"]]

    body = await gql(REMOVE, {"id": str(customer.id)}, token=token)
    removed = body["data"]["customerPhotoRemove"]
    assert removed["errors"] == []
    assert removed["customer"] == {"id": str(customer.id), "photoUrl": None}
    assert await _photo_rows(raw_sql) == []
    for url in urls:
        assert (await client.get(url)).status_code == 404
    # Removing again is no error, and changes (and audits) nothing more.
    audits = await raw_sql("SELECT count(*) FROM audit_entries")
    again = await gql(REMOVE, {"id": str(customer.id)}, token=token)
    assert again["data"]["customerPhotoRemove"]["errors"] == []
    assert await raw_sql("SELECT count(*) FROM audit_entries") == audits


async def test_changes_are_audited_without_the_picture(client, gql, factory) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR, P.AUDIT_VIEW)
    await set_photo(client, str(customer.id), picture("JPEG", (1000, 500)), token)
    await gql(REMOVE, {"id": str(customer.id)}, token=token)
    body = await gql(
        "query($id: ID!) { customer(id: $id) { auditTrail { edges { node "
        "{ action before after } } } } }",
        {"id": str(customer.id)},
        token=token,
    )
    entries = [e["node"] for e in body["data"]["customer"]["auditTrail"]["edges"]]
    assert entries[:2] == [
        {
            "action": "photo_remove",
            "before": {"photo": ["LARGE", "SMALL"]},
            "after": {"photo": None},
        },
        {
            "action": "photo_set",
            "before": {"photo": None},
            "after": {"photo": {"LARGE": "512x256", "SMALL": "128x64"}},
        },
    ]
    assert len(json.dumps(entries)) < 1000


async def test_the_service_removes_a_photo_inside_another_unit_of_work(
    client, factory, runtime, raw_sql
) -> None:
    """The call an erasure (or any command that scrubs a customer) makes in its own
    transaction: the picture goes with that transaction, or not at all."""
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    await set_photo(client, str(customer.id), picture("JPEG"), token)

    async def rolled_back(uow) -> None:  # type: ignore[no-untyped-def]
        assert await remove_customer_photo(uow, customer.id)
        raise RuntimeError("the rest of the command failed")

    with pytest.raises(RuntimeError):
        await runtime.tx.run(None, rolled_back)
    assert len(await _photo_rows(raw_sql)) == 2

    async def committed(uow) -> bool:  # type: ignore[no-untyped-def]
        return await remove_customer_photo(uow, customer.id)

    assert (await runtime.tx.run(None, committed)).value is True
    assert await _photo_rows(raw_sql) == []
    assert (await runtime.tx.run(None, committed)).value is False
    assert (await PhotoService(runtime.tx, None).remove(customer.id)).errors == []


async def test_deleting_the_customer_deletes_the_picture(client, gql, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*EDITOR, P.CUSTOMER_DELETE)
    await set_photo(client, str(customer.id), picture("JPEG"), token)
    body = await gql(
        "mutation($id: ID!) { customerDelete(id: $id) { errors { code } } }",
        {"id": str(customer.id)},
        token=token,
    )
    assert body["data"]["customerDelete"]["errors"] == []
    assert await _photo_rows(raw_sql) == []


# --- who may -------------------------------------------------------------------------------


async def test_roles_without_pii_see_no_photo_url(client, gql, factory) -> None:
    customer = await factory.customer()
    await set_photo(client, str(customer.id), picture("JPEG"), await factory.token(*EDITOR))
    cashier = await factory.token(P.CUSTOMER_VIEW)
    body = await gql(PHOTO_QUERY, {"id": str(customer.id)}, token=cashier)
    assert body["data"]["customer"] == {"photoUrl": None, "small": None}
    # The control: a PII role sees both.
    viewer = await factory.token(P.CUSTOMER_VIEW, P.CUSTOMER_VIEW_PII)
    seen = await gql(PHOTO_QUERY, {"id": str(customer.id)}, token=viewer)
    assert seen["data"]["customer"]["photoUrl"].startswith("/photos/")


async def test_setting_a_photo_needs_customer_modify(client, factory, raw_sql) -> None:
    customer = await factory.customer()
    token = await factory.token(*(p for p in Permission if p is not P.CUSTOMER_MODIFY))
    payload = await set_photo(client, str(customer.id), picture("JPEG"), token)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FORBIDDEN", None)]
    assert "CUSTOMER_MODIFY" in payload["errors"][0]["message"]
    assert await _photo_rows(raw_sql) == []
    anonymous = await post_upload(client, PHOTO_SET, {"id": str(customer.id)}, picture("JPEG"))
    codes = [e["code"] for e in anonymous.json()["data"]["customerPhotoSet"]["errors"]]
    assert codes == ["UNAUTHENTICATED"]
    assert await _photo_rows(raw_sql) == []


async def test_a_store_bound_caller_sets_photos_of_the_chain_s_customers(
    client, factory, raw_sql
) -> None:
    """Customers are chain-wide (app/services/store_scope.py): a customer shops anywhere,
    and a branch's staff see and edit every customer, the picture included."""
    elsewhere = await factory.store()
    customer = await factory.customer(home_store_id=elsewhere.id)
    branch = await factory.store()
    token = await factory.token(*EDITOR, store_id=branch.id)
    payload = await set_photo(client, str(customer.id), picture("JPEG"), token)
    assert payload["errors"] == []


@pytest.mark.parametrize("case", ["unknown", "merged"])
async def test_an_unknown_or_merged_customer_is_refused(
    client, factory, raw_sql, case: str
) -> None:
    token = await factory.token(*EDITOR, P.CUSTOMER_DELETE)
    if case == "unknown":
        target, code = str(uuid.uuid4()), "NOT_FOUND"
    else:
        target, code = await _merged(client, factory, token), "CUSTOMER_MERGED"
    payload = await set_photo(client, target, picture("JPEG"), token)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["customerId"], code)]
    assert await _photo_rows(raw_sql) == []


async def _merged(client, factory, token: str) -> str:
    source, target = await factory.customer(), await factory.customer()
    response = await client.post(
        "/graphql",
        json={
            "query": "mutation($s: ID!, $t: ID!) { customerMerge(sourceId: $s, targetId: $t) "
            "{ errors { code } } }",
            "variables": {"s": str(source.id), "t": str(target.id)},
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["data"]["customerMerge"]["errors"] == []
    return str(source.id)


async def test_a_list_loads_photo_urls_in_one_statement(
    client, gql, factory, count_statements
) -> None:
    token = await factory.token(*EDITOR)
    ids = [str((await factory.customer(name=f"Photo {n}")).id) for n in range(5)]
    for customer_id in ids[:3]:
        await set_photo(client, customer_id, picture("JPEG"), token)
    query = '{ customers(search: "Photo") { edges { node { id photoUrl } } } }'

    async def statements(with_photo: bool) -> int:
        document = query if with_photo else query.replace(" photoUrl", "")
        with count_statements() as counter:
            body = await gql(document, token=token)
        assert "errors" not in body, body
        return counter.count

    await statements(False)  # the token's grant is cached from here on
    # One for the pictures of the whole page, one for the signing key.
    assert await statements(True) - await statements(False) == 2
    body = await gql(query, token=token)
    urls = {e["node"]["id"]: e["node"]["photoUrl"] for e in body["data"]["customers"]["edges"]}
    assert sum(url is not None for url in urls.values()) == 3


async def test_a_jpeg_may_have_more_pixels_than_a_png(client, factory) -> None:
    """A JPEG is decoded at a reduced scale, so 16.8 MP costs it little: kept."""
    customer = await factory.customer()
    token = await factory.token(*EDITOR)
    payload = await set_photo(client, str(customer.id), picture("JPEG", (4100, 4100)), token)
    assert payload["errors"] == []
    assert (await _served(client, payload["customer"]["photoUrl"])).size == (512, 512)
