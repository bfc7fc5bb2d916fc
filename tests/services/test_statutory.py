"""Properties of the statutory-id checks: every well-formed id passes, any typo is caught."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import Rejected
from app.services import statutory

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BASE36 = "0123456789" + LETTERS


@st.composite
def pans(draw: st.DrawFn) -> str:
    letters = st.sampled_from(LETTERS)
    digits = st.sampled_from("0123456789")
    return (
        "".join(draw(letters) for _ in range(3))
        + draw(st.sampled_from("ABCFGHJLPT"))
        + draw(letters)
        + "".join(draw(digits) for _ in range(4))
        + draw(letters)
    )


@st.composite
def gstins(draw: st.DrawFn) -> str:
    body = (
        draw(st.sampled_from(sorted(statutory.GST_STATES)))
        + draw(pans())
        + draw(st.sampled_from(BASE36[1:]))
        + "Z"
    )
    return body + statutory.gstin_check_character(body)


@given(pans())
def test_every_well_formed_pan_passes_in_any_case_and_spacing(pan: str) -> None:
    assert statutory.pan(f" {pan[:5].lower()} {pan[5:]} ") == pan


@given(gstins())
def test_every_well_formed_gstin_passes(gstin: str) -> None:
    assert statutory.gstin(gstin.lower()) == gstin


@given(gstins(), st.integers(min_value=0, max_value=14), st.sampled_from(BASE36))
def test_any_single_character_typo_in_a_gstin_is_caught(
    gstin: str, position: int, replacement: str
) -> None:
    typo = gstin[:position] + replacement + gstin[position + 1 :]
    if typo == gstin:
        return
    with pytest.raises(Rejected):
        statutory.gstin(typo)


@given(st.sampled_from(sorted(statutory.GST_STATES.items())))
def test_a_state_is_found_by_code_or_name(item: tuple[str, str]) -> None:
    code, name = item
    assert statutory.state(code) == statutory.state(name.upper()) == code


@given(st.text(max_size=40))
def test_checks_never_fail_other_than_by_rejecting(raw: str) -> None:
    for check in (
        statutory.pan,
        statutory.gstin,
        statutory.state,
        statutory.reg_no,
        statutory.vat_no,
    ):
        with contextlib.suppress(Rejected):
            check(raw)
