"""A database error's text names no customer data: it ends up in logged tracebacks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.db.models import Customer


async def test_database_errors_hide_their_parameters(db: Any, factory: Any) -> None:
    taken = await factory.customer(name="Wilhelmina Zorn", phone="+12125550142")
    with pytest.raises(IntegrityError) as caught:
        async with db.write() as session:
            await session.execute(
                insert(Customer).values(
                    name="Wilhelmina Zorn", name_key="wilhelmina zorn", phone=taken.phone
                )
            )
    text = str(caught.value)
    assert "+12125550142" not in text
    assert "Wilhelmina" not in text
    assert "hidden due to hide_parameters" in text
