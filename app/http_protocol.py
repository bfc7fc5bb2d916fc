"""uvicorn's HTTP protocol with a header-read timeout, and a mark on requests whose client left.

uvicorn bounds only the idle time between keep-alive requests (``timeout_keep_alive``):
a client that sends a request's headers one byte every few seconds (slowloris) holds its
connection, and its file descriptor, forever. Here a connection must complete each
request's headers within ``header_timeout`` seconds of connecting, or of the previous
response, or it is closed (with a 408 if it had started a request), as nginx's
``client_header_timeout`` and Apache's ``mod_reqtimeout`` do. The body's own deadline is
the RequestGuard's (app/http.py), which answers 408 itself.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.http import CLIENT_GONE

log = logging.getLogger(__name__)

_TOO_SLOW = b"The request headers took too long.\n"
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n\r\n%s" % (len(_TOO_SLOW), _TOO_SLOW)
)


class TimedHttpProtocol(HttpToolsProtocol):
    """httptools' protocol plus the header timeout; use ``timed_http_protocol(seconds)``."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._request_started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The scope's "extensions" is the ASGI spec's place for a server's additions.
            cycle.scope.setdefault("extensions", {})[CLIENT_GONE] = {}
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None:
            self._request_started = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request already has its headers; otherwise the next one starts now.
        idle_next = not self.pipeline
        super().on_response_complete()
        if idle_next and not self.transport.is_closing():
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._request_started = False
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._request_started:
            self.transport.write(_REQUEST_TIMEOUT)
        # DEBUG: under a slowloris attack this is one line per connection.
        log.debug("closed a connection: request headers took over %s s", self.header_timeout)
        self.transport.close()


def timed_http_protocol(header_timeout: float) -> type[TimedHttpProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this header timeout."""
    return type("TimedHttpProtocol", (TimedHttpProtocol,), {"header_timeout": header_timeout})
