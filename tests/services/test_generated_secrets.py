"""Secrets we generate are hashed light and rehashed at the standard cost on first use."""

from __future__ import annotations

from app.services.auth import generated_secrets_for, passwords_for
from app.settings import Settings


def test_a_generated_secret_is_hashed_light_and_its_first_sign_in_rehashes_it() -> None:
    settings = Settings(password_time_cost=3, password_memory_kib=65536)
    light = generated_secrets_for(settings).hash("Xk3mPq9RtZ")
    assert "$m=8192,t=1," in light
    standard = passwords_for(settings)
    # Any hasher verifies it (argon2 reads the cost from the hash) ...
    assert standard.verify(light, "Xk3mPq9RtZ")
    # ... and the sign-in that does replaces it with one at the standard cost.
    assert standard.needs_rehash(light)
    assert not standard.needs_rehash(standard.hash("Xk3mPq9RtZ"))


def test_a_cheaper_standard_cost_is_never_raised_for_generated_secrets() -> None:
    settings = Settings(password_time_cost=1, password_memory_kib=1024)
    assert "$m=1024,t=1," in generated_secrets_for(settings).hash("code")
