"""Shared fixtures: one moto server per test session, provisioned like `make run` does.

The app reads its settings from the environment, and its authorizer choice at import, so
the environment is set here before any test imports `app`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from devstack import stage_environment
from devstack.background import free_port
from devstack.provision import StackInfo, provision

# Hypothesis fails an example that takes longer than 200 ms, and a test whose examples are slow to
# generate: timed assertions, which on a shared machine fail at random (and pass on replay).
settings.register_profile("no-deadline", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("no-deadline")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    """A moto server on a free loopback port with the table and user pool, and the app's env."""
    from devstack.emulator import start_emulator

    port = free_port()
    server = start_emulator(port)
    saved = dict(os.environ)
    try:
        info = provision(f"http://127.0.0.1:{port}")
        os.environ.update({**stage_environment("local"), **info.app_environment()})
        yield info
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@pytest.fixture(scope="session")
def token_for(stack: StackInfo) -> Callable[..., str]:
    """A real ID token from the emulated pool: token_for("alice"), token_for("root", "admins")."""
    from devstack.tokens import id_token

    cache: dict[tuple[str, str | None], str] = {}

    def issue(user: str, group: str | None = None) -> str:
        if (user, group) not in cache:
            cache[(user, group)] = id_token(stack, user, group)
        return cache[(user, group)]

    return issue


@pytest.fixture(scope="session")
def chalice_app(stack: StackInfo) -> Any:
    import app as app_module

    return app_module.app
