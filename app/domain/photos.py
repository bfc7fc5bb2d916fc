"""Customer profile pictures (issue 13, seed 004: "tap on customer profile picture").

An upload is untrusted bytes from a till's camera or the back office's file picker. It is
checked by what it decodes as, never by its name or content type: JPEG, PNG or WebP only,
at most ``MAX_BYTES`` and ``MAX_PIXELS``, decoded whole once (a truncated file fails
there). What is kept is a re-encoding, never the upload: the EXIF orientation is applied
first, then every piece of metadata (EXIF with its GPS position, XMP, ICC, comments) is
left behind, and the picture is scaled into two JPEGs, LARGE for the customer screen and
SMALL for lists. JPEG because every till's web view shows it.

A picture is served at ``/photos/<token>``: an ``<img>`` cannot send a bearer token, so
the URL itself is the permission. The token names one stored size and when it stops
working, signed with HMAC-SHA256 under the database's signing key (the unsubscribe links'
key, bound to another purpose here). Its end is rounded up to the next whole hour and one
more, so a screen shown twice within the hour asks for the same URL (the browser's cache
answers) and a URL copied out of the back office works for one to two hours.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import io
import re
import struct
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
# 40 megapixels: any phone camera's photo. A JPEG is decoded at a reduced scale (draft),
# so even this many pixels cost a few MB.
MAX_PIXELS = 40_000_000
# PNG and WebP decode whole, 4 bytes a pixel for RGBA: 16 MP is 64 MB, while a 150 KB
# transparent PNG of 40 MP would be 160 MB before any work on it (measured: 0.8 GB peak
# with the copies a re-encoding made of it).
MAX_PIXELS_WHOLE = 16_000_000
# The picture is scaled to this first, before anything copies it.
WORKING_EDGE = 1024
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85


class PhotoSize(enum.StrEnum):
    LARGE = "LARGE"
    SMALL = "SMALL"


# The longest side of each size; a smaller picture is not enlarged.
EDGE = {PhotoSize.LARGE: 512, PhotoSize.SMALL: 128}


class PhotoProblem(enum.StrEnum):
    """Why an upload is no picture we keep: each is an error code of its own."""

    UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_TOO_MANY_PIXELS = "IMAGE_TOO_MANY_PIXELS"


PROBLEM_MESSAGES = {
    PhotoProblem.UNSUPPORTED_IMAGE: "Send a JPEG, PNG or WebP picture (this file is none, "
    "or is damaged).",
    PhotoProblem.IMAGE_TOO_LARGE: f"A picture may be at most {MAX_BYTES // (1024 * 1024)} MB.",
    PhotoProblem.IMAGE_TOO_MANY_PIXELS: f"A picture may have at most {MAX_PIXELS:,} pixels "
    f"as a JPEG, {MAX_PIXELS_WHOLE:,} as a PNG or WebP.",
}


class PhotoRejected(Exception):
    def __init__(self, problem: PhotoProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EncodedPhoto:
    size: PhotoSize
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class PhotoRecord:
    """A stored size, without its bytes (what a URL is made from)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    size: PhotoSize
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PhotoFile:
    """A stored size with its bytes (what the /photos route serves)."""

    data: bytes
    content_type: str


def _open_checked(data: bytes) -> Image.Image:
    """The decoded picture, or PhotoRejected: nothing is decoded before its header passed."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard only warns below twice its limit: an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
            width, height = probe.size
            limit = MAX_PIXELS if probe.format == "JPEG" else MAX_PIXELS_WHOLE
            if width * height > limit:
                raise PhotoRejected(PhotoProblem.IMAGE_TOO_MANY_PIXELS)
            # verify() reads the whole file's structure (a PNG's chunk checksums) without
            # decoding; the picture must then be opened again to be decoded.
            probe.verify()
            image = Image.open(io.BytesIO(data), formats=sorted(ACCEPTED_FORMATS))
            # A JPEG decodes straight to 1/2, 1/4 or 1/8 scale where that still leaves
            # twice the LARGE size: a camera photo then takes a fraction of the memory
            # and time, and every byte of it is still decoded.
            image.draft("RGB", (2 * EDGE[PhotoSize.LARGE], 2 * EDGE[PhotoSize.LARGE]))
            # A truncated or corrupt body fails here, where it is decoded whole.
            image.load()
    except PhotoRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(PhotoProblem.IMAGE_TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, UnidentifiedImageError):
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_IMAGE) from None
    if image.format not in ACCEPTED_FORMATS:
        raise PhotoRejected(PhotoProblem.UNSUPPORTED_IMAGE)
    return image


def _flattened(image: Image.Image) -> Image.Image:
    """RGB: JPEG has no transparency, so a transparent logo lands on white, not black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def encode_photo(data: bytes) -> list[EncodedPhoto]:
    """Check ``data`` and re-encode it into every size, without metadata.

    CPU-bound (tens of milliseconds for a camera photo): the service runs it in a thread.
    Raises PhotoRejected.
    """
    if len(data) > MAX_BYTES:
        raise PhotoRejected(PhotoProblem.IMAGE_TOO_LARGE)
    image = _open_checked(data)
    if image.mode in ("1", "P", "PA", "I", "I;16", "F", "CMYK", "YCbCr", "LAB", "HSV"):
        # Modes Pillow scales only by nearest pixel (or not at all): widened first.
        transparent = image.mode in ("PA",) or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    # Scaled down in place before anything else copies it: every later step works on at
    # most WORKING_EDGE pixels a side, whatever the upload's size.
    image.thumbnail((WORKING_EDGE, WORKING_EDGE), Image.Resampling.LANCZOS)
    try:
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, struct.error):
        # Unreadable EXIF: no orientation to apply; the picture itself decoded.
        upright = image
    working = _flattened(upright)
    encoded = []
    for size in PhotoSize:
        # A copy of the working picture (a few MB at most), not of the upload.
        scaled = working.copy()
        scaled.thumbnail((EDGE[size], EDGE[size]), Image.Resampling.LANCZOS)
        # Nothing of the upload's own metadata is carried over into what is saved.
        scaled.info = {}
        out = io.BytesIO()
        scaled.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
        encoded.append(
            EncodedPhoto(size, out.getvalue(), CONTENT_TYPE, scaled.width, scaled.height)
        )
    return encoded


# -- signed URLs -----------------------------------------------------------------------

# Bound into every MAC, so the same key's unsubscribe tokens sign nothing here.
_PURPOSE = b"poscrm-photo-v1:"
_MAC_BYTES = 16
URL_HOUR = 3600
# base64url of 16 (photo id) + 4 (end, Unix seconds) + 16 (MAC) bytes, unpadded.
TOKEN_LENGTH = 48
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{48}")


def url_expiry(now: float) -> int:
    """When a URL made at ``now`` (Unix seconds) stops working: the next hour and one more."""
    return (int(now) // URL_HOUR + 2) * URL_HOUR


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _PURPOSE + body, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_photo_token(key: bytes, photo_id: uuid.UUID, expires: int) -> str:
    body = photo_id.bytes + struct.pack(">I", expires)
    return base64.urlsafe_b64encode(body + _mac(key, body)).decode()


def verify_photo_token(key: bytes, token: str, now: float) -> uuid.UUID | None:
    """The stored size a token names, or None if it is not ours or has expired."""
    if not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    body, mac = raw[:20], raw[20:]
    if not hmac.compare_digest(_mac(key, body), mac):
        return None
    (expires,) = struct.unpack(">I", body[16:])
    if expires <= now:
        return None
    return uuid.UUID(bytes=body[:16])


def photo_path(token: str) -> str:
    return f"/photos/{token}"
