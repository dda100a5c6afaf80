"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.ports import PeopleRepository, TagIndex
from tests.fakes import InMemoryPeopleRepository, InMemoryTagIndex
from tests.support import Api


@pytest.fixture(params=["in-memory", "dynamodb"])
def repo(request: pytest.FixtureRequest) -> PeopleRepository:
    """One people repository contract, two implementations: the fake and PynamoDB on the emulator."""
    if request.param == "in-memory":
        return InMemoryPeopleRepository()
    request.getfixturevalue("stack")
    from chalicelib.wiring import people_repo

    return people_repo()


@pytest.fixture
def tag_index(repo: PeopleRepository) -> TagIndex:
    """The tag entries the stream handler keeps, on the same storage as `repo`."""
    if isinstance(repo, InMemoryPeopleRepository):
        return InMemoryTagIndex(repo)
    from chalicelib.wiring import tag_index

    return tag_index()


@pytest.fixture
def owner() -> str:
    """A fresh owner, so tests never see each other's people."""
    return f"user-{uuid.uuid4()}"


@pytest.fixture(scope="module")
def client(chalice_app: Any) -> Iterator[Client]:
    """Chalice's own test client on the local stage."""
    with Client(chalice_app, stage_name="local") as c:
        yield c


@pytest.fixture
def users(token_for: Callable[..., str], client: Client) -> dict[str, Api]:
    """Fresh users per test, so tests never see each other's people."""
    tag = uuid.uuid4().hex[:8]
    return {
        "alice": Api(client, token_for(f"alice-{tag}")),
        "bob": Api(client, token_for(f"bob-{tag}")),
        "admin": Api(client, token_for(f"root-{tag}", "admins")),
        "anon": Api(client, None),
    }
