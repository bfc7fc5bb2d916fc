"""Login throttling: counted before the hash, keyed by user and address, survives Redis outages."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from app.domain.errors import ErrorCode
from app.runtime import Runtime
from app.services.auth import AuthService
from app.services.throttle import LoginThrottle


def _service(runtime: Runtime, throttle: LoginThrottle | None = None) -> AuthService:
    return AuthService(runtime.tx, runtime.settings, throttle or runtime.throttle, actor=None)


def _count_hash_checks(service: AuthService, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts real verify calls on the instance the service uses (results untouched)."""
    calls: list[int] = []
    verify = service.passwords.verify

    def counting(password_hash: str, password: str) -> bool:
        calls.append(1)
        return verify(password_hash, password)

    monkeypatch.setattr(service.passwords, "verify", counting)
    return calls


def _codes(result: Any) -> list[ErrorCode]:
    return [e.code for e in result.errors]


async def test_a_concurrent_burst_checks_at_most_max_failures_hashes(
    runtime: Runtime, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    username, _ = await factory.staff(password="right-password")
    service = _service(runtime)
    calls = _count_hash_checks(service, monkeypatch)
    results = await asyncio.gather(
        *(service.login(username, f"wrong-{i}", "10.0.0.1") for i in range(30))
    )
    assert len(calls) <= runtime.settings.login_max_failures
    assert sum(ErrorCode.TOO_MANY_ATTEMPTS in _codes(r) for r in results) >= 30 - len(calls)


async def test_the_right_password_beyond_the_limit_in_a_burst_gets_no_token(
    runtime: Runtime, factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    username, _ = await factory.staff(password="right-password")
    service = _service(runtime)
    calls = _count_hash_checks(service, monkeypatch)
    attempts = [service.login(username, f"wrong-{i}", "10.0.0.2") for i in range(20)]
    attempts.append(service.login(username, "right-password", "10.0.0.2"))
    results = await asyncio.gather(*attempts)
    assert all(r.value is None for r in results)
    assert len(calls) <= runtime.settings.login_max_failures
    # The counter was not reset: the lock still holds.
    again = await service.login(username, "right-password", "10.0.0.2")
    assert _codes(again) == [ErrorCode.TOO_MANY_ATTEMPTS]


async def test_a_strangers_failures_from_another_address_do_not_lock_the_user(
    runtime: Runtime, factory: Any
) -> None:
    username, _ = await factory.staff(password="right-password")
    service = _service(runtime)
    for i in range(runtime.settings.login_max_failures + 2):
        await service.login(username, f"wrong-{i}", "192.0.2.66")
    assert _codes(await service.login(username, "right-password", "192.0.2.66")) == [
        ErrorCode.TOO_MANY_ATTEMPTS
    ]
    ok = await service.login(username, "right-password", "10.0.0.3")
    assert ok.errors == []
    assert ok.value


async def test_an_address_with_failures_is_slowed_down(runtime: Runtime, factory: Any) -> None:
    username, _ = await factory.staff(password="right-password")
    throttle = LoginThrottle(
        runtime.redis,
        prefix=runtime.settings.redis_prefix,
        max_failures=runtime.settings.login_max_failures,
        lockout_seconds=60,
        delay_step_seconds=0.2,
        max_delay_seconds=0.5,
    )
    service = _service(runtime, throttle)
    started = time.monotonic()
    await service.login("nobody-1", "wrong", "10.0.0.4")
    first = time.monotonic() - started
    for i in range(3):
        await service.login(f"nobody-{i + 2}", "wrong", "10.0.0.4")
    started = time.monotonic()
    ok = await service.login(username, "right-password", "10.0.0.4")
    slowed = time.monotonic() - started
    # Slowed (capped at 0.5 s) but not locked: the address's failures were other usernames.
    assert ok.value
    assert slowed >= 0.5
    assert slowed >= first + 0.3


async def test_login_works_with_redis_unreachable(
    runtime: Runtime,
    factory: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    username, _ = await factory.staff(password="right-password")
    dead = Redis.from_url("redis://127.0.0.1:1", socket_timeout=1, socket_connect_timeout=1)
    throttle = LoginThrottle(
        dead,
        prefix=runtime.settings.redis_prefix,
        max_failures=runtime.settings.login_max_failures,
        lockout_seconds=60,
        delay_step_seconds=0.01,
    )
    service = _service(runtime, throttle)
    calls = _count_hash_checks(service, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="app.services.throttle"):
        ok = await service.login(username, "right-password", "10.0.0.5")
        assert ok.errors == []
        assert ok.value
        # The in-memory fallback has the same semantics: a burst is still capped.
        results = await asyncio.gather(
            *(service.login(username, f"wrong-{i}", "10.0.0.5") for i in range(10))
        )
    await dead.aclose()
    assert len(calls) <= 1 + runtime.settings.login_max_failures
    assert any(ErrorCode.TOO_MANY_ATTEMPTS in _codes(r) for r in results)
    warnings = [r for r in caplog.records if "in-process" in r.getMessage()]
    assert len(warnings) == 1
