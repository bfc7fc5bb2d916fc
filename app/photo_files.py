"""GET /photos/{token}: a customer's profile picture at the signed URL ``photoUrl`` gave.

The token is the permission (an ``<img>`` sends no bearer token): made only for callers
who may see personal data, unguessable (a 128-bit MAC), and short-lived. Every token that
does not work (not ours, altered, expired, or its picture since replaced or removed)
gets the same 404, so none tells which it was.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.runtime import Runtime
from app.services.photos import PhotoService

# Nosniff: the bytes are served only as the image type we stored, never guessed at.
# Private: a face is personal data; no shared cache (a proxy, a CDN) keeps a copy.
SAFE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'",
    "referrer-policy": "no-referrer",
}


async def photo_file(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    found = await PhotoService(runtime.tx, None).file_for_token(request.path_params["token"])
    if found is None:
        return Response(
            "No such picture.",
            status_code=404,
            media_type="text/plain",
            headers={**SAFE_HEADERS, "cache-control": "no-store"},
        )
    return Response(
        found.data,
        media_type=found.content_type,
        headers={**SAFE_HEADERS, "cache-control": "private, max-age=3600"},
    )
