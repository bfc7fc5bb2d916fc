"""`poscrm serve` believes X-Forwarded-For only from configured proxies."""

from __future__ import annotations

from typing import Any

import uvicorn

from app.cli import proxy_options
from app.settings import Settings


async def _seen_client(options: dict[str, Any], peer: str) -> str:
    """The client address an app sees behind uvicorn configured with these options."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    config = uvicorn.Config(app, **options)
    config.load()
    scope = {
        "type": "http",
        "client": (peer, 50000),
        "headers": [(b"x-forwarded-for", b"203.0.113.9")],
        "scheme": "http",
    }
    await config.loaded_app(scope, None, None)
    return seen[0]


async def test_forwarded_headers_are_off_by_default_even_from_loopback() -> None:
    options = proxy_options(Settings(), None)
    assert options == {"proxy_headers": False}
    assert await _seen_client(options, "127.0.0.1") == "127.0.0.1"


async def test_forwarded_headers_are_believed_only_from_configured_proxies() -> None:
    options = proxy_options(Settings(), "10.1.1.1")
    assert await _seen_client(options, "10.1.1.1") == "203.0.113.9"
    assert await _seen_client(options, "127.0.0.1") == "127.0.0.1"


async def test_the_setting_configures_proxies_and_the_option_overrides_it() -> None:
    settings = Settings(forwarded_allow_ips="10.2.2.2")
    assert proxy_options(settings, None) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.2.2.2",
    }
    assert proxy_options(settings, "") == {"proxy_headers": False}
