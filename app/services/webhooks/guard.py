"""The SSRF guard: webhooks go only to public addresses (issue 10 §5).

A shop admin types the URL, but the server sends to it: without a guard a URL could
reach the database, Redis, a cloud metadata service (169.254.169.254) or anything else
on the server's network. So a URL is checked when it is saved, and again at every
delivery at the moment of connecting: the name is resolved once, every address it
resolves to must be public, and the connection goes to that checked address (the TLS
handshake still names the host). A DNS answer that changes between the check and the
connection (DNS rebinding) therefore never reaches a private address.

``POSCRM_WEBHOOK_ALLOW_PRIVATE=1`` turns the address check off, for an integration on
the shop's own network and for tests, which only send to servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

SCHEMES = frozenset({"http", "https"})
URL_MAX = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes that carry an IPv4 address a gateway forwards to (NAT64, RFC 6052).
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeDestination(Exception):
    """The URL, or an address its host resolves to, is not one we send to."""


def address_refusal(raw: str) -> str | None:
    """Why this address is refused, or None for a public one."""
    address: IPAddress = ipaddress.ip_address(raw.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel; 6to4, Teredo and NAT64 addresses
        # are forwarded to the IPv4 address inside them.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(str(embedded))
            return f"{address} embeds {reason}" if reason else None
    if address.is_unspecified:
        return f"{address} is the unspecified address (it reaches this machine)"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_reserved or not address.is_global:
        return f"{address} is not a public address"
    return None


def url_refusal(url: str) -> str | None:
    """What is wrong with the URL itself (before any name is resolved), or None."""
    if len(url) > URL_MAX:
        return f"A URL is at most {URL_MAX} characters."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Not a URL."
    if parts.scheme.lower() not in SCHEMES:
        return "Only http and https URLs are allowed."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "Put no credentials in the URL: the signature tells the receiver it is us."
    if port == 0:
        return "Port 0 is not a port."
    return None


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    default = 443 if parts.scheme.lower() == "https" else 80
    return parts.hostname, parts.port or default


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name stands for (an IP literal stands for itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeDestination(f"{host} does not resolve ({error})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(host: str, port: int) -> list[str]:
    """The host's addresses, all public, or UnsafeDestination naming the first that is not."""
    addresses = await resolve(host, port)
    if not addresses:
        raise UnsafeDestination(f"{host} resolves to no address")
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise UnsafeDestination(f"{host} resolves to {reason}")
    return addresses


async def destination_refusal(url: str, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to ``url``, or None: the check made when it is saved."""
    reason = url_refusal(url)
    if reason is not None or allow_private:
        return reason
    try:
        await checked_addresses(*host_and_port(url))
    except UnsafeDestination as refused:
        return f"Not allowed: {refused}."
    return None


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself (no second lookup)."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port)
        return await self._backend.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeDestination("webhooks are not sent to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds: once per process, not per delivery.
    return httpx.create_ssl_context()


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with a connection pool that connects only to checked addresses."""

    def __init__(self) -> None:
        super().__init__(verify=_tls(), trust_env=False)
        # The pool httpx built, rebuilt with our network backend: httpx offers no
        # argument for it, and the rest of the transport (errors, streams) stays httpx's.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls(), max_connections=10, network_backend=_CheckedBackend()
        )


def webhook_client(allow_private: bool, timeout: float) -> httpx.AsyncClient:
    """An HTTP client for webhooks: no redirects, no proxies from the environment."""
    transport = (
        httpx.AsyncHTTPTransport(verify=_tls(), trust_env=False)
        if allow_private
        else CheckedTransport()
    )
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )
