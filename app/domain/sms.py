"""SMS segments: how many credits one text costs (issue 10 §2, seed 003 "My SMS").

A provider bills each segment. A text that fits the GSM 03.38 alphabet travels as GSM-7:
160 characters in one segment, 153 per segment once it is split (the other 7 carry the
concatenation header). The extension table's characters (``€ [ ] { } ^ ~ \\ |`` and the
form feed) take an escape plus the character, so they count 2, and a split never cuts
such a pair in half. Any other character moves the whole text to UCS-2: 70 code units in
one segment, 67 per segment when split; characters outside the Basic Multilingual Plane
(most emoji) are a surrogate pair, 2 units, also never cut in half.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, 16-bit code units for UCS-2
    segments: int


def _parts(widths: list[int], single: int, part: int) -> int:
    total = sum(widths)
    if total == 0:
        return 1  # an empty text is still one message
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > part:  # a two-unit character moves whole to the next part
            parts, used = parts + 1, 0
        used += width
    return parts


def sms_segments(text: str) -> SmsSegments:
    """The encoding a text needs and the segments (credits) it takes."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        widths = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SmsSegments("GSM-7", sum(widths), _parts(widths, GSM7_SINGLE, GSM7_PART))
    widths = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SmsSegments("UCS-2", sum(widths), _parts(widths, UCS2_SINGLE, UCS2_PART))


def segment_count(text: str) -> int:
    return sms_segments(text).segments
