"""Customer profile pictures (issue 13, seed 004): set, remove, signed URLs, serving.

The rules of what is a picture live in ``app/domain/photos.py``; here they meet the
database. A picture is checked and re-encoded before the transaction begins (tens of
milliseconds of CPU, in a thread: neither the event loop nor SQLite's one writer waits
for it), so bad input reaches no transaction at all and changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

from app.db.repositories.marketing import MarketingRepository
from app.db.repositories.photos import PhotoRepository
from app.domain.errors import ErrorCode, UserError
from app.domain.photos import (
    PROBLEM_MESSAGES,
    EncodedPhoto,
    PhotoFile,
    PhotoRejected,
    PhotoSize,
    encode_photo,
    photo_path,
    sign_photo_token,
    url_expiry,
    verify_photo_token,
)
from app.domain.records import Actor, CustomerRecord
from app.services.customer_lookup import live_customer
from app.services.unit_of_work import Result, Transactions, UnitOfWork

# What the audit trail says of a picture: its sizes' dimensions, never its bytes.
AUDIT_FIELD = "photo"


def _audit_value(photos: list[EncodedPhoto]) -> dict[str, str]:
    return {p.size.value: f"{p.width}x{p.height}" for p in photos}


async def remove_customer_photo(uow: UnitOfWork, customer_id: uuid.UUID) -> bool:
    """Delete the customer's picture inside ``uow`` (audited); False if there was none.

    For commands that end or scrub a customer in their own transaction (an erasure
    request): every size goes, and every URL handed out stops working at once.
    """
    photos = PhotoRepository(uow.session)
    existing = (await photos.for_customers([customer_id])).get(customer_id)
    if not existing:
        return False
    await photos.remove(customer_id)
    await uow.audit(
        "customer",
        customer_id,
        "photo_remove",
        before={AUDIT_FIELD: sorted(size.value for size in existing)},
        after={AUDIT_FIELD: None},
    )
    return True


# Encodings at once in this process: each may hold a 64 MB decode (a 16 MP PNG), so many
# uploads at once wait their turn instead of taking the server's memory together. The
# wait is in the worker thread, never on the event loop.
_ENCODING = threading.BoundedSemaphore(2)


def _encode_in_turn(data: bytes) -> list[EncodedPhoto]:
    with _ENCODING:
        return encode_photo(data)


class PhotoService:
    def __init__(self, tx: Transactions, actor: Actor | None) -> None:
        self.tx = tx
        self.actor = actor

    async def set(self, customer_id: uuid.UUID, data: bytes) -> Result[CustomerRecord]:
        """Make ``data`` the customer's picture, replacing any before it.

        Errors name the field ``file`` (UNSUPPORTED_IMAGE, IMAGE_TOO_LARGE,
        IMAGE_TOO_MANY_PIXELS) or ``customerId`` (NOT_FOUND, CUSTOMER_MERGED).
        """
        try:
            encoded = await asyncio.to_thread(_encode_in_turn, data)
        except PhotoRejected as rejected:
            problem = rejected.problem
            code = ErrorCode(problem.value)
            return Result(errors=[UserError(code, PROBLEM_MESSAGES[problem], ("file",))])

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await live_customer(uow, customer_id)
            photos = PhotoRepository(uow.session)
            before = (await photos.for_customers([customer_id])).get(customer_id)
            await photos.replace(customer_id, encoded, uow.now)
            await uow.audit(
                "customer",
                customer_id,
                "photo_set",
                before={AUDIT_FIELD: sorted(s.value for s in before) if before else None},
                after={AUDIT_FIELD: _audit_value(encoded)},
            )
            return customer

        return await self.tx.run(self.actor, work)

    async def remove(self, customer_id: uuid.UUID) -> Result[CustomerRecord]:
        """Delete the customer's picture; a customer without one is left as they are."""

        async def work(uow: UnitOfWork) -> CustomerRecord:
            customer = await live_customer(uow, customer_id)
            await remove_customer_photo(uow, customer_id)
            return customer

        return await self.tx.run(self.actor, work)

    async def urls_for(
        self, customer_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[PhotoSize, str]]:
        """Each customer's picture URLs by size; customers without a picture are left out."""
        async with self.tx.db.read() as session:
            found = await PhotoRepository(session).for_customers(customer_ids)
            if not found:
                return {}
            key = await MarketingRepository(session).signing_key()
        expires = url_expiry(time.time())
        return {
            customer_id: {
                size: photo_path(sign_photo_token(key, record.id, expires))
                for size, record in sizes.items()
            }
            for customer_id, sizes in found.items()
        }

    async def file_for_token(self, token: str) -> PhotoFile | None:
        """The picture a URL's token names, or None: not ours, expired, or since removed."""
        async with self.tx.db.read() as session:
            key = await MarketingRepository(session).signing_key()
            photo_id = verify_photo_token(key, token, time.time())
            if photo_id is None:
                return None
            return await PhotoRepository(session).file(photo_id)
