"""GraphQL multipart requests (the spec Apollo's and other clients' uploads follow), as a
till or the back office sends a profile picture."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import httpx
from PIL import ExifTags, Image

# What an Apollo upload client sends; no page of another site can add it without a preflight.
PREFLIGHT = {"Apollo-Require-Preflight": "true"}

PHOTO_SET = """
mutation($id: ID!, $file: Upload!) {
  customerPhotoSet(customerId: $id, file: $file) {
    customer { id photoUrl small: photoUrl(size: SMALL) }
    errors { field code message }
  }
}"""


async def post_upload(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    data: bytes,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> httpx.Response:
    """POST ``query`` with ``data`` as the file at ``variables.file``."""
    sent = {**(headers if headers is not None else PREFLIGHT)}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return await http.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": query, "variables": {**variables, "file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (filename, data, content_type)},
        headers=sent,
    )


async def set_photo(
    http: httpx.AsyncClient, customer_id: str, data: bytes, token: str, **kwargs: Any
) -> dict[str, Any]:
    response = await post_upload(http, PHOTO_SET, {"id": customer_id}, data, token=token, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["customerPhotoSet"]
    return payload


def picture(fmt: str, size: tuple[int, int] = (300, 200), mode: str = "RGB", **save: Any) -> bytes:
    colour: Any = (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)
    image = Image.new(mode, size, colour)
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def camera_jpeg() -> bytes:
    """A wide JPEG as a phone takes it upright: EXIF says rotate 90° (it shows tall), and
    names the camera and where the photo was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "SpyCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.0)
    return picture("JPEG", (600, 300), exif=exif)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares ``width`` x ``height`` pixels: a
    decompression bomb if anything believed it and decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )
