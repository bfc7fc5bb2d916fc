"""customerPhotoSet and customerPhotoRemove (issue 13, seed 004)."""

from __future__ import annotations

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app.domain.errors import ErrorCode, UserError
from app.domain.photos import MAX_BYTES, PROBLEM_MESSAGES, PhotoProblem
from app.schema.context import Context
from app.schema.customer import CustomerPayload
from app.schema.ids import parse_id

Info = strawberry.Info[Context, None]

NOT_A_FILE = (
    "Send the picture as a file: a multipart request (the GraphQL multipart request spec) "
    "whose map puts it at variables.file."
)


def _refused(code: ErrorCode, message: str) -> CustomerPayload:
    return CustomerPayload.from_errors([UserError(code, message, ("file",))])


async def customer_photo_set(
    info: Info, customer_id: strawberry.ID, file: Upload
) -> CustomerPayload:
    # A JSON request can put any value where the file belongs: only a part of a
    # multipart request is an upload.
    if not isinstance(file, UploadFile):
        return _refused(ErrorCode.INVALID, NOT_A_FILE)
    too_large = _refused(ErrorCode.IMAGE_TOO_LARGE, PROBLEM_MESSAGES[PhotoProblem.IMAGE_TOO_LARGE])
    # The parser counted the part as it spooled it to disk: too large is known unread.
    if file.size is not None and file.size > MAX_BYTES:
        return too_large
    # One byte past the limit is enough to know, whatever size the parser reported.
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return too_large
    result = await info.context.photos.set(parse_id(customer_id), data)
    return CustomerPayload.from_result(result)


async def customer_photo_remove(info: Info, customer_id: strawberry.ID) -> CustomerPayload:
    return CustomerPayload.from_result(await info.context.photos.remove(parse_id(customer_id)))
