"""The SSRF guard: which addresses are refused, and that a connection goes to the checked one.

No public name is resolved: addresses are literals, 'localhost' resolves from the hosts
file, and where a name must resolve elsewhere the guard's resolver is replaced.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.services.webhooks import guard
from app.services.webhooks.guard import (
    UnsafeDestination,
    address_refusal,
    destination_refusal,
    webhook_client,
)
from tests.webhook_receiver import Receiver, running_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.31.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not bound
        ("100.64.0.1", "not a public"),
        ("224.0.0.1", "not a public"),
        ("255.255.255.255", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fd12:3456::1", "private"),
        ("::ffff:127.0.0.1", "embeds 127.0.0.1 is a loopback"),
        ("::ffff:169.254.169.254", "embeds 169.254.169.254 is a link-local"),
        ("64:ff9b::a00:1", "embeds 10.0.0.1 is a private"),
        ("2002:c0a8:1::", "embeds 192.168.0.1 is a private"),
    ],
)
def test_addresses_that_reach_inside_are_refused(address: str, why: str) -> None:
    reason = address_refusal(address)
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


async def test_localhost_is_resolved_and_refused() -> None:
    reason = await destination_refusal("http://localhost:8080/", allow_private=False)
    assert reason is not None
    assert "localhost resolves to" in reason
    assert await destination_refusal("http://localhost:8080/", allow_private=True) is None


async def test_every_address_of_a_name_must_be_public(monkeypatch) -> None:
    async def two_answers(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    monkeypatch.setattr(guard, "resolve", two_answers)
    reason = await destination_refusal("https://hooks.example/", allow_private=False)
    assert reason is not None
    assert "10.0.0.7 is a private address" in reason


async def test_a_name_that_resolves_elsewhere_at_delivery_is_refused(monkeypatch) -> None:
    # DNS rebinding: public when the URL was saved, loopback when the POST is made.
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    monkeypatch.setattr(guard, "resolve", rebinding)
    assert await destination_refusal("http://rebind.example/", allow_private=False) is None
    async with webhook_client(allow_private=False, timeout=2) as client:
        with pytest.raises(UnsafeDestination, match=r"127\.0\.0\.1 is a loopback"):
            await client.post("http://rebind.example/", content=b"{}")


async def test_the_connection_goes_to_the_checked_address(monkeypatch, receiver) -> None:
    # The name resolves once, in the guard; the connection is made to that answer (here
    # the local receiver, let through), never looked up again by the HTTP client.
    looked_up: list[str] = []

    async def pinned(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(guard, "resolve", pinned)
    monkeypatch.setattr(guard, "address_refusal", lambda address: None)
    port = receiver.url.rsplit(":", 1)[1]
    async with webhook_client(allow_private=False, timeout=2) as client:
        response = await client.post(f"http://pinned.example:{port}/hook", content=b"{}")
    assert response.status_code == 400  # unsigned: the receiver refuses it, but it got it
    assert looked_up == ["pinned.example"]
    [received] = receiver.received
    assert received.headers["host"] == f"pinned.example:{port}"
