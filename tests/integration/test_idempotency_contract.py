"""The idempotent-create contract, against the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain import Person, new_id
from chalicelib.errors import IdempotencyKeyReused, IdempotentRequestInFlight
from chalicelib.ports import IdempotencyKey, PeopleRepository
from tests.fakes import InMemoryPeopleRepository
from tests.support import DynamoRequests, dynamodb_error

NOW = "2026-01-01T00:00:00.000Z"
LATER = "2026-01-01T23:00:00.000Z"
NEXT_DAY = "2026-01-02T00:00:01.000Z"


def person(owner: str, at: str = NOW, **fields: Any) -> Person:
    values: dict[str, Any] = {"name": "Ada", "created_at": at, "updated_at": at, "version": 1, **fields}
    return Person(id=new_id(), owner=owner, **values)


def key(owner: str, name: str = "k-1", fingerprint: str = "f-1", at: str = NOW) -> IdempotencyKey:
    return IdempotencyKey(
        owner=owner,
        key_hash=hashlib.sha256(name.encode()).hexdigest(),
        fingerprint=fingerprint,
        expires_at=datetime.fromisoformat(at) + timedelta(hours=24),
    )


def in_flight(repo: PeopleRepository, k: IdempotencyKey) -> AbstractContextManager[Any]:
    """Another request holding `k` is mid-write: DynamoDB cancels ours with TransactionConflict."""
    if isinstance(repo, InMemoryPeopleRepository):
        repo.in_flight.add((k.owner, k.key_hash))
        return nullcontext()
    conflict = dynamodb_error(
        "TransactionCanceledException",
        message="Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[TransactionConflict, None]",
        CancellationReasons=[
            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
            {"Code": "None"},
        ],
    )
    return DynamoRequests(answer=lambda op: conflict if op == "TransactWriteItems" else None)


class TestIdempotentCreateContract:
    def test_the_first_use_of_a_key_creates_the_person(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner, email="a@example.com", tags=("x",))
        created = repo.add_once(p, actor=owner, key=key(owner))
        assert created.person == p and not created.replayed
        assert repo.get(p.id) == p

    def test_a_repeat_returns_the_original_person_and_stores_nothing_new(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        first = person(owner, notes="original")
        repo.add_once(first, actor=owner, key=key(owner))
        retry = person(owner, at=LATER, notes="original")
        again = repo.add_once(retry, actor=owner, key=key(owner, at=LATER))
        assert again.person == first and again.replayed
        assert repo.get(retry.id) is None
        assert [p.id for p in repo.list_by_owner(owner, limit=10, after=None).items] == [first.id]

    def test_the_same_key_with_another_body_is_refused(self, repo: PeopleRepository, owner: str) -> None:
        repo.add_once(person(owner), actor=owner, key=key(owner))
        other = person(owner, name="Bea")
        with pytest.raises(IdempotencyKeyReused):
            repo.add_once(other, actor=owner, key=key(owner, fingerprint="f-2"))
        assert repo.get(other.id) is None

    def test_keys_are_scoped_per_owner(self, repo: PeopleRepository, owner: str) -> None:
        mine, theirs = person(owner), person(f"other-{owner}")
        repo.add_once(mine, actor=owner, key=key(owner))
        created = repo.add_once(theirs, actor=theirs.owner, key=key(theirs.owner, fingerprint="f-2"))
        assert created.person == theirs and not created.replayed
        assert repo.get(mine.id) == mine and repo.get(theirs.id) == theirs

    def test_a_key_older_than_24_hours_creates_again(self, repo: PeopleRepository, owner: str) -> None:
        repo.add_once(person(owner), actor=owner, key=key(owner))
        later = person(owner, at=NEXT_DAY)
        created = repo.add_once(later, actor=owner, key=key(owner, fingerprint="f-2", at=NEXT_DAY))
        assert created.person == later and not created.replayed
        assert repo.get(later.id) == later

    def test_a_key_whose_first_request_is_in_flight_is_a_conflict(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        k = key(owner)
        p = person(owner)
        with in_flight(repo, k), pytest.raises(IdempotentRequestInFlight):
            repo.add_once(p, actor=owner, key=k)
        assert repo.get(p.id) is None


@pytest.fixture
def dynamo(stack: Any) -> Iterator[PeopleRepository]:
    from chalicelib.wiring import people_repo

    yield people_repo()


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        (lambda o: key(o), "replay"),
        (lambda o: key(o, fingerprint="f-2"), "reuse"),
    ],
)
def test_every_idempotent_create_is_one_dynamodb_request(
    dynamo: PeopleRepository, owner: str, second: Callable[[str], IdempotencyKey], outcome: str
) -> None:
    with DynamoRequests() as first:
        dynamo.add_once(person(owner), actor=owner, key=key(owner))
    with DynamoRequests() as repeat:
        try:
            assert dynamo.add_once(person(owner), actor=owner, key=second(owner)).replayed
            seen = "replay"
        except IdempotencyKeyReused:
            seen = "reuse"
    assert seen == outcome
    assert first.operations == ["TransactWriteItems"] and repeat.operations == ["TransactWriteItems"]


def test_a_plain_create_stays_one_put_item(dynamo: PeopleRepository, owner: str) -> None:
    with DynamoRequests() as requests:
        dynamo.add(person(owner), actor=owner)
    assert requests.operations == ["PutItem"]
