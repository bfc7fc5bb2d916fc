"""SMS segments (issue 10 §2): examples from the GSM 03.38 / UCS-2 limits, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.sms import GSM7_BASIC, GSM7_EXTENSION, segment_count, sms_segments

gsm_basic = st.text(alphabet=sorted(GSM7_BASIC))
gsm_any = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION))


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 1),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # 160 septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 159 + "[", "GSM-7", 2),  # the escape pair does not fit the 160th septet
        ("a" * 152 + "{" + "a" * 10, "GSM-7", 2),  # the pair moves whole to part two
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 3),
        ("é" * 160, "GSM-7", 1),  # é is in the basic table
        ("ç" * 1, "UCS-2", 1),  # only capital Ç is GSM-7
        ("ж" * 70, "UCS-2", 1),
        ("ж" * 71, "UCS-2", 2),
        ("ж" * 134, "UCS-2", 2),
        ("ж" * 135, "UCS-2", 3),
        ("a" * 159 + "ж", "UCS-2", 3),  # one non-GSM character makes the whole text UCS-2
        ("😀" * 35, "UCS-2", 1),  # surrogate pairs: 70 units
        ("😀" * 36, "UCS-2", 2),
        ("a" * 66 + "😀", "UCS-2", 1),  # 68 units
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 3),  # 134 units, but a pair is never split
    ],
)
def test_examples(text: str, encoding: str, segments: int) -> None:
    counted = sms_segments(text)
    assert (counted.encoding, counted.segments) == (encoding, segments)


@given(gsm_basic)
def test_basic_gsm_text_is_the_textbook_formula(text: str) -> None:
    n = len(text)
    assert segment_count(text) == (1 if n <= 160 else math.ceil(n / 153))


@given(st.text(alphabet=st.characters(min_codepoint=0x400, max_codepoint=0x4FF)))
def test_bmp_unicode_text_is_the_textbook_formula(text: str) -> None:
    n = len(text)
    assert segment_count(text) == (1 if n <= 70 else math.ceil(n / 67))


@given(st.text())
def test_never_fewer_segments_than_the_units_need(text: str) -> None:
    counted = sms_segments(text)
    single, part = (160, 153) if counted.encoding == "GSM-7" else (70, 67)
    assert counted.segments >= 1
    if counted.units <= single:
        assert counted.segments == 1
    else:
        assert counted.segments >= math.ceil(counted.units / part)
        # Cutting only between characters wastes at most one unit per part.
        assert counted.segments <= math.ceil(counted.units / (part - 1))


@given(st.text(), st.text())
def test_appending_never_costs_less(head: str, tail: str) -> None:
    assert segment_count(head + tail) >= segment_count(head)


@given(gsm_any)
def test_gsm_text_never_costs_more_than_as_ucs2(text: str) -> None:
    # The same text forced to UCS-2 (by one extra character) costs at least as much.
    assert segment_count(text) <= segment_count(text + "ж")
