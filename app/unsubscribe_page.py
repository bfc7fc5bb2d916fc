"""GET and POST /unsubscribe: the page a marketing message's link opens (issue 10 §4).

GET only shows a button: mail scanners and link previews fetch every link in a message,
and must not unsubscribe anyone by doing so. POST unsubscribes, through the same service
as ``marketingUnsubscribe``; it is also the one-click POST a mail client sends for the
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` header (RFC 8058), with the token
in the URL and ``List-Unsubscribe=One-Click`` as the form body.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.runtime import Runtime
from app.services.marketing.unsubscribe import INVALID_LINK, UnsubscribeService

# A token is 43 characters; the form holds nothing else worth reading.
FORM_MAX_BYTES = 4096
CHANNEL_NAMES = {"EMAIL": "emails", "SMS": "text messages"}


def _page(title: str, content: str, status_code: int = 200) -> HTMLResponse:
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">'
        f"<h1>{html.escape(title)}</h1>{content}</body></html>"
    )
    # Nothing here may be cached or framed: the page acts on a personal link.
    headers = {
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
    }
    return HTMLResponse(document, status_code=status_code, headers=headers)


async def unsubscribe_form(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not token:
        return _page("Unsubscribe", f"<p>{html.escape(INVALID_LINK)}</p>", 400)
    return _page(
        "Unsubscribe",
        "<p>Stop receiving our marketing messages on this channel?</p>"
        '<form method="post" action="/unsubscribe">'
        f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


async def unsubscribe_submit(request: Request) -> Response:
    raw = await request.body()
    form = parse_qs(raw[:FORM_MAX_BYTES].decode("utf-8", "replace"))
    token = (form.get("token") or [request.query_params.get("token", "")])[0]
    runtime: Runtime = request.app.state.runtime
    result = await UnsubscribeService(runtime.tx).unsubscribe(token)
    if result.value is None:
        return _page("Unsubscribe", f"<p>{html.escape(INVALID_LINK)}</p>", 400)
    what = CHANNEL_NAMES[result.value.channel.value]
    return _page(
        "You are unsubscribed",
        f"<p>You will no longer receive our marketing {what}.</p>",
    )
