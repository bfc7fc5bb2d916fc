"""SQL for customer profile pictures (issue 13)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import table_of
from app.db.models import CustomerPhoto
from app.domain.photos import EncodedPhoto, PhotoFile, PhotoRecord, PhotoSize


class PhotoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_customers(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[PhotoSize, PhotoRecord]]:
        """The stored sizes of each customer's picture, without their bytes."""
        rows = await self.session.execute(
            select(
                CustomerPhoto.id,
                CustomerPhoto.customer_id,
                CustomerPhoto.size,
                CustomerPhoto.created_at,
            ).where(CustomerPhoto.customer_id.in_(customer_ids))
        )
        found: dict[uuid.UUID, dict[PhotoSize, PhotoRecord]] = {}
        for photo_id, customer_id, size, created_at in rows:
            record = PhotoRecord(photo_id, customer_id, PhotoSize(size), created_at)
            found.setdefault(customer_id, {})[record.size] = record
        return found

    async def file(self, photo_id: uuid.UUID) -> PhotoFile | None:
        row = (
            await self.session.execute(
                select(CustomerPhoto.data, CustomerPhoto.content_type).where(
                    CustomerPhoto.id == photo_id
                )
            )
        ).first()
        return PhotoFile(data=row.data, content_type=row.content_type) if row else None

    async def replace(
        self, customer_id: uuid.UUID, photos: list[EncodedPhoto], now: datetime
    ) -> list[uuid.UUID]:
        """The customer's picture is now ``photos`` (one per size); the new rows' ids."""
        await self.remove(customer_id)
        ids = [uuid.uuid4() for _ in photos]
        rows = [
            {
                "id": photo_id,
                "customer_id": customer_id,
                "size": photo.size.value,
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
                "data": photo.data,
                "created_at": now,
            }
            for photo_id, photo in zip(ids, photos, strict=True)
        ]
        await self.session.execute(table_of(CustomerPhoto).insert(), rows)
        return ids

    async def remove(self, customer_id: uuid.UUID) -> int:
        """Delete every size of the customer's picture; how many rows there were."""
        result = await self.session.execute(
            delete(CustomerPhoto).where(CustomerPhoto.customer_id == customer_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
