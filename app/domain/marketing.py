"""Marketing messages (issue 10 §4): the shop's own text, its limits, and the unsubscribe link.

The text is the shop's, sent as written: plain text, whose HTML part escapes it, so a
``<b>`` typed into the back office reaches the customer as those three characters.

Unsubscribe tokens are stateless: base64url(notification id + HMAC-SHA256(key, id)[:16]).
A token needs no column and no lookup table of its own; the notification row it names
says which customer and which channel. It cannot be forged without the key, which lives
in the database (``marketing_signing_key``: every API process and worker reads the same
one) and is never logged nor served. 128 bits of MAC are far beyond guessing over HTTP.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.domain.records import MarketingChannel

SUBJECT_MAX = 150
# An SMS body of 1,000 characters is seven GSM-7 segments (fifteen in UCS-2) per
# recipient: more is a mistake, not a message. An email body is a letter, not a brochure.
BODY_MAX = {MarketingChannel.EMAIL: 10_000, MarketingChannel.SMS: 1_000}

# Tab and newline are text; any other control character is not, and in a subject a
# newline would start a new email header.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SUBJECT_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Bound into every MAC, so a key reused for another purpose one day signs nothing here.
_PURPOSE = b"poscrm-unsubscribe-v1:"
_MAC_BYTES = 16
TOKEN_LENGTH = 43  # base64url of 16 + 16 bytes, unpadded
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """One marketing send, as created (issue 10 §4)."""

    id: uuid.UUID
    channel: MarketingChannel
    group_id: uuid.UUID | None
    subject: str | None
    body: str
    recipients: int
    skipped: int
    sms_segments: int
    created_by: str
    created_at: datetime
    fanned_out_at: datetime | None


def normalise_body(body: str) -> str:
    """Line ends as ``\\n``, surrounding blank space trimmed."""
    return body.replace("\r\n", "\n").replace("\r", "\n").strip()


def body_problem(body: str, channel: MarketingChannel) -> str | None:
    """Why a (normalised) body cannot be sent, or None."""
    if not body:
        return "Write the message."
    if len(body) > BODY_MAX[channel]:
        return f"A {channel.value} message has at most {BODY_MAX[channel]} characters."
    if _BODY_CONTROL.search(body):
        return "Plain text only: no control characters."
    return None


def subject_problem(subject: str) -> str | None:
    if not subject:
        return "An email needs a subject."
    if len(subject) > SUBJECT_MAX:
        return f"A subject has at most {SUBJECT_MAX} characters."
    if _SUBJECT_CONTROL.search(subject):
        return "A subject is one line of plain text."
    return None


def sign_token(key: bytes, notification_id: uuid.UUID) -> str:
    mac = hmac.new(key, _PURPOSE + notification_id.bytes, hashlib.sha256).digest()
    raw = notification_id.bytes + mac[:_MAC_BYTES]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify_token(key: bytes, token: str) -> uuid.UUID | None:
    """The notification a token names, or None for anything this server did not sign."""
    if not _TOKEN_CHARS.fullmatch(token):
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        return None
    # The last character carries two spare bits: four spellings decode alike. Only the
    # one we hand out is a token, so one message has exactly one.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        return None
    notification_id = uuid.UUID(bytes=raw[:16])
    expected = hmac.new(key, _PURPOSE + raw[:16], hashlib.sha256).digest()[:_MAC_BYTES]
    return notification_id if hmac.compare_digest(expected, raw[16:]) else None


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/unsubscribe?token={token}"


@dataclass(frozen=True, slots=True)
class MarketingTexts:
    """What one marketing message carries, by channel."""

    subject: str
    body: str
    html: str | None
    # RFC 2369 / RFC 8058: mail clients show an "Unsubscribe" button that POSTs here.
    headers: tuple[tuple[str, str], ...] = ()


def marketing_texts(
    channel: MarketingChannel, subject: str | None, body: str, url: str
) -> MarketingTexts:
    if channel is MarketingChannel.SMS:
        # Short: every character costs credits.
        return MarketingTexts(subject="", body=f"{body}\nStop: {url}", html=None)
    text = f"{body}\n\n--\nTo stop receiving these emails, unsubscribe: {url}"
    paragraphs = "".join(
        f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>"
        for part in body.split("\n\n")
        if part.strip()
    )
    link = html.escape(url, quote=True)
    markup = (
        f"{paragraphs}<hr><p><small>To stop receiving these emails, "
        f'<a href="{link}">unsubscribe</a>.</small></p>'
    )
    return MarketingTexts(
        subject=subject or "",
        body=text,
        html=markup,
        headers=(
            ("List-Unsubscribe", f"<{url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )


def sms_marketing_text(body: str, public_url: str) -> str:
    """The SMS exactly as it will be sent, with a token of the real length: its segments
    are what each recipient's credits are counted on."""
    placeholder = "A" * TOKEN_LENGTH
    return marketing_texts(
        MarketingChannel.SMS, None, body, unsubscribe_url(public_url, placeholder)
    ).body


def unsubscribe_confirmation(channel: MarketingChannel) -> tuple[str, str]:
    """Subject and text of the UNSUBSCRIBE service message."""
    what = "emails" if channel is MarketingChannel.EMAIL else "text messages"
    return (
        "You are unsubscribed",
        f"You will no longer receive marketing {what} from us. Messages about your "
        "account still reach you.",
    )
