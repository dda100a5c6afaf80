"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.repository import PeopleRepository
from tests.fakes import InMemoryPeopleRepository


@pytest.fixture(params=["in-memory", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> PeopleRepository:
    """One people repository contract, two implementations: the fake and PynamoDB on the emulator."""
    if request.param == "in-memory":
        return InMemoryPeopleRepository()
    request.getfixturevalue("stack")
    from chalicelib.wiring import people_repo

    return people_repo()


@pytest.fixture
def owner() -> str:
    """A fresh owner, so tests never see each other's people."""
    return f"user-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def client(chalice_app: Any) -> Iterator[Client]:
    """Chalice's own test client on the local stage."""
    with Client(chalice_app, stage_name="local") as c:
        yield c
