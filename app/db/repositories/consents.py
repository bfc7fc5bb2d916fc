from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.bulk import insert_rows
from app.db.models import ConsentChange, MarketingConsent
from app.domain.records import (
    ConsentChangeRecord,
    ConsentPlace,
    ConsentRecord,
    ConsentSource,
    ConsentState,
    MarketingChannel,
)

NOWHERE = ConsentPlace()


def _record(row: MarketingConsent) -> ConsentRecord:
    return ConsentRecord(
        channel=MarketingChannel(row.channel),
        state=ConsentState(row.state),
        changed_at=row.changed_at,
        source=ConsentSource(row.source),
        actor_label=row.actor_label,
        store_id=row.store_id,
        till_id=row.till_id,
    )


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_customers(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[MarketingChannel, ConsentRecord]]:
        rows = await self.session.scalars(
            select(MarketingConsent).where(MarketingConsent.customer_id.in_(customer_ids))
        )
        found: dict[uuid.UUID, dict[MarketingChannel, ConsentRecord]] = defaultdict(dict)
        for row in rows:
            found[row.customer_id][MarketingChannel(row.channel)] = _record(row)
        return found

    async def put(
        self,
        customer_id: uuid.UUID,
        channel: MarketingChannel,
        state: ConsentState,
        *,
        at: datetime,
        source: ConsentSource,
        actor_label: str,
        place: ConsentPlace = NOWHERE,
    ) -> ConsentRecord:
        row = await self.session.get(MarketingConsent, (customer_id, channel.value))
        if row is None:
            row = MarketingConsent(
                customer_id=customer_id,
                channel=channel.value,
                state=ConsentState.NOT_SUBSCRIBED.value,
            )
            self.session.add(row)
        # The history keeps every change; the row above is only the latest.
        self.session.add(
            ConsentChange(
                customer_id=customer_id,
                channel=channel.value,
                previous_state=row.state,
                state=state.value,
                changed_at=at,
                source=source.value,
                actor_label=actor_label,
                store_id=place.store_id,
                till_id=place.till_id,
            )
        )
        row.state = state.value
        row.changed_at = at
        row.source = source.value
        row.actor_label = actor_label
        row.store_id = place.store_id
        row.till_id = place.till_id
        await self.session.flush()
        return _record(row)

    async def subscribe_new(
        self,
        entries: list[tuple[uuid.UUID, MarketingChannel]],
        *,
        at: datetime,
        source: ConsentSource,
        actor_label: str,
        place: ConsentPlace = NOWHERE,
    ) -> None:
        """Subscribe customers that have no consent yet, with the change in their history."""
        if not entries:
            return
        common = {
            "changed_at": at,
            "source": source.value,
            "actor_label": actor_label,
            "store_id": place.store_id,
            "till_id": place.till_id,
        }
        subscribed = ConsentState.SUBSCRIBED.value
        await insert_rows(
            self.session,
            table_of(MarketingConsent),
            [{"customer_id": c, "channel": ch.value} for c, ch in entries],
            {"state": subscribed, **common},
        )
        await insert_rows(
            self.session,
            table_of(ConsentChange),
            [{"customer_id": c, "channel": ch.value} for c, ch in entries],
            {
                "previous_state": ConsentState.NOT_SUBSCRIBED.value,
                "state": subscribed,
                **common,
            },
        )

    async def history_for(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[ConsentChangeRecord]]:
        """Every consent change of each customer, newest first."""
        rows = await self.session.scalars(
            select(ConsentChange)
            .where(ConsentChange.customer_id.in_(customer_ids))
            .order_by(ConsentChange.customer_id, ConsentChange.id.desc())
        )
        found: dict[uuid.UUID, list[ConsentChangeRecord]] = defaultdict(list)
        for row in rows:
            found[row.customer_id].append(
                ConsentChangeRecord(
                    channel=MarketingChannel(row.channel),
                    previous_state=ConsentState(row.previous_state),
                    state=ConsentState(row.state),
                    changed_at=row.changed_at,
                    source=ConsentSource(row.source),
                    actor_label=row.actor_label,
                    store_id=row.store_id,
                    till_id=row.till_id,
                )
            )
        return found
