"""Starlette app factory: routes, middleware, lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL
from strawberry.file_uploads.utils import replace_placeholders_with_files

from app.domain.errors import ErrorCode, StatementTimeout
from app.domain.photos import MAX_BYTES as MAX_PHOTO_BYTES
from app.http import RequestGuard, multipart_field_refusal
from app.metrics import metrics_endpoint
from app.observability import keep_personal_data_out_of_logs, request_id_var
from app.photo_files import photo_file
from app.runtime import Runtime
from app.schema.context import Context
from app.schema.schema import build_schema
from app.services.auth import resolve_actor
from app.services.online_accounts import CUSTOMER_TOKEN_PREFIX, resolve_customer_session
from app.settings import Settings
from app.unsubscribe_page import unsubscribe_form, unsubscribe_submit

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
GRAPHIQL_PAGE = STATIC_DIR / "graphiql" / "index.html"
# A multipart request's parts besides the file (operations, map, boundaries): ample.
UPLOAD_ENVELOPE_BYTES = 64 * 1024
MULTIPART_SHAPE = (
    "A multipart request needs the fields operations and map, and its files "
    "(GraphQL multipart request spec)."
)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class PoscrmGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            build_schema(settings),
            allow_queries_via_get=True,
            graphql_ide="graphiql",
            # Only behind RequestGuard's CSRF rule (app/http.py): a header no cross-site
            # page can send without a preflight.
            multipart_uploads_enabled=True,
        )
        self._page = GRAPHIQL_PAGE.read_text() if GRAPHIQL_PAGE.exists() else None

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, Any]:
        """Strawberry's, with every malformed part a 400 rather than a 500 (a map path
        through a list or a string, a named part that is no file) and the operations held
        to the JSON rules of any POST body."""
        try:
            form = await request.get_form_data()
        except ValueError as e:
            raise HTTPException(400, "Unable to parse the multipart body") from e
        operations, files_map = form.form.get("operations"), form.form.get("map")
        if not isinstance(operations, str) or not isinstance(files_map, str):
            raise HTTPException(400, MULTIPART_SHAPE)
        # The body limit grows for the file only: a query sent as a multipart field
        # stays held to the envelope, not to the upload's 5 MiB.
        if len(operations.encode()) + len(files_map.encode()) > UPLOAD_ENVELOPE_BYTES:
            raise HTTPException(413, "The operations and map fields are too large.")
        parsed, problem = multipart_field_refusal("operations", operations)
        mapping, map_problem = multipart_field_refusal("map", files_map)
        if problem or map_problem:
            raise HTTPException(400, problem or map_problem or "")
        for name, paths in mapping.items():
            if not isinstance(form.files.get(name), UploadFile) or not (
                isinstance(paths, list) and all(isinstance(p, str) for p in paths)
            ):
                raise HTTPException(400, MULTIPART_SHAPE)
        try:
            return replace_placeholders_with_files(parsed, mapping, form.files)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise HTTPException(400, MULTIPART_SHAPE) from e

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        runtime: Runtime = request.app.state.runtime
        token = _bearer(request)
        actor = customer = None
        if token and token.startswith(CUSTOMER_TOKEN_PREFIX):
            customer = await resolve_customer_session(runtime.tx, token)
        elif token:
            actor = await resolve_actor(runtime.tx, token)
        return Context(
            request=request,
            settings=runtime.settings,
            tx=runtime.tx,
            throttle=runtime.throttle,
            actor=actor,
            request_id=request_id_var.get(),
            lookups=runtime.lookups,
            customer_session=customer,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own copy of GraphiQL and its assets: it works with no internet access.
        if self._page is None:
            return HTMLResponse("GraphiQL assets are missing from app/static.", status_code=500)
        return HTMLResponse(self._page)


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> Starlette:
    settings = settings or Settings()
    keep_personal_data_out_of_logs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = await Runtime.start(settings, with_worker=with_worker)
        if not await app.state.runtime.has_staff():
            log.warning("no staff users yet: run `poscrm create-admin --username U --password P`")
        # Start-up objects live forever: keep them out of the collector's generations
        # (GC pauses fell from ~51 ms to ~4 ms, DESIGN.md §6).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.runtime.close()

    async def statement_timeout(request: Request, _: Exception) -> Response:
        # Outside GraphQL execution (the bearer token's lookup in get_context), where
        # the error mask cannot answer: the same code, as a 503 the client may retry.
        log.warning("a statement ran past its time budget", extra={"path": request.url.path})
        body = {
            "errors": [
                {
                    "message": "The request ran past its time budget and was stopped. Retry.",
                    "extensions": {"code": ErrorCode.QUERY_TIMEOUT.value},
                }
            ]
        }
        return JSONResponse(body, status_code=503, headers={"retry-after": "1"})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await request.app.state.runtime.ready()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    app = Starlette(
        routes=[
            Route("/graphql", PoscrmGraphQL(settings), methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/unsubscribe", unsubscribe_form, methods=["GET"]),
            Route("/unsubscribe", unsubscribe_submit, methods=["POST"]),
            Route("/photos/{token}", photo_file, methods=["GET"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={StatementTimeout: statement_timeout},
    )
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
        max_upload_bytes=MAX_PHOTO_BYTES + UPLOAD_ENVELOPE_BYTES,
    )
    return app
