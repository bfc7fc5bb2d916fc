"""Unsubscribe tokens and the marketing texts (app/domain/marketing.py), pure."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.domain.marketing import (
    TOKEN_LENGTH,
    marketing_texts,
    sign_token,
    sms_marketing_text,
    unsubscribe_url,
    verify_token,
)
from app.domain.records import MarketingChannel
from app.domain.sms import segment_count

KEY = bytes(range(32))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.uuids())
def test_a_token_names_its_notification(notification_id: uuid.UUID) -> None:
    token = sign_token(KEY, notification_id)
    assert len(token) == TOKEN_LENGTH
    assert set(token) <= set(ALPHABET)
    assert verify_token(KEY, token) == notification_id
    assert verify_token(b"another key", token) is None


@given(st.uuids(), st.integers(0, TOKEN_LENGTH - 1), st.sampled_from(ALPHABET))
def test_changing_any_character_breaks_the_token(
    notification_id: uuid.UUID, position: int, replacement: str
) -> None:
    token = sign_token(KEY, notification_id)
    forged = token[:position] + replacement + token[position + 1 :]
    if forged != token:
        assert verify_token(KEY, forged) is None


@given(st.text(max_size=60))
def test_anything_else_is_no_token(text: str) -> None:
    assert verify_token(KEY, text) is None or len(text) == TOKEN_LENGTH


def test_the_sms_counted_is_the_sms_sent() -> None:
    token = sign_token(KEY, uuid.uuid4())
    public = "http://127.0.0.1:8000"
    sent = marketing_texts(MarketingChannel.SMS, None, "Offer", unsubscribe_url(public, token)).body
    assert len(sent) == len(sms_marketing_text("Offer", public))
    assert segment_count(sent) == segment_count(sms_marketing_text("Offer", public))


def test_the_email_escapes_the_shop_s_text_but_not_its_own_markup() -> None:
    texts = marketing_texts(
        MarketingChannel.EMAIL, "Hi", 'A <script>x</script>\n\n"B" & C', "https://s/u?token=t"
    )
    assert texts.html is not None
    assert "<script>" not in texts.html
    assert "&lt;script&gt;" in texts.html
    assert "<p>&quot;B&quot; &amp; C</p>" in texts.html
    assert '<a href="https://s/u?token=t">unsubscribe</a>' in texts.html
    assert texts.body.endswith("unsubscribe: https://s/u?token=t")
