from __future__ import annotations

import itertools

import pytest

from chalicelib import services
from chalicelib.domain import Precondition
from chalicelib.errors import (
    ForbiddenOwner,
    IdempotencyKeyReused,
    IdempotentRequestInFlight,
    PersonNotFound,
    ValidationFailed,
    VersionMismatch,
)
from chalicelib.ports import Created
from chalicelib.services import Caller
from tests.fakes import InMemoryPeopleRepository

ALICE = Caller("alice")
BOB = Caller("bob")
ADMIN = Caller("root", is_admin=True)
_ids = (f"01ARZ3NDEKTSV4RRFFQ69G5{n:03d}" for n in itertools.count())


@pytest.fixture
def repo() -> InMemoryPeopleRepository:
    return InMemoryPeopleRepository()


def make(repo: InMemoryPeopleRepository, caller: Caller = ALICE, **body: object) -> services.Person:
    return services.create_person(
        caller,
        {"name": "Ada", **body},
        repo,
        clock=lambda: "2026-01-01T00:00:00.000Z",
        make_id=lambda: next(_ids),
    )


def test_create_sets_server_fields(repo: InMemoryPeopleRepository) -> None:
    person = make(repo, email="ada@example.com")
    assert person.owner == "alice" and person.version == 1
    assert person.created_at == person.updated_at == "2026-01-01T00:00:00.000Z"
    assert repo.actors[person.id] == "alice"


def test_create_rejects_invalid_bodies_without_storing(repo: InMemoryPeopleRepository) -> None:
    with pytest.raises(ValidationFailed):
        services.create_person(ALICE, {"name": ""}, repo)
    assert repo.people == {}


def test_other_users_person_is_not_found(repo: InMemoryPeopleRepository) -> None:
    person = make(repo)
    with pytest.raises(PersonNotFound):
        services.get_person(BOB, person.id, repo)
    with pytest.raises(PersonNotFound):
        services.update_person(BOB, person.id, {"name": "Eve"}, repo, None, mode="patch")
    with pytest.raises(PersonNotFound):
        services.delete_person(BOB, person.id, repo, None)
    assert services.get_person(ALICE, person.id, repo).name == "Ada"


def test_admins_may_read_change_and_delete_anyones_person(repo: InMemoryPeopleRepository) -> None:
    person = make(repo)
    assert services.get_person(ADMIN, person.id, repo) == person
    changed = services.update_person(ADMIN, person.id, {"notes": "checked"}, repo, None, mode="patch")
    assert changed.notes == "checked" and changed.owner == "alice" and repo.actors[person.id] == "root"
    services.delete_person(ADMIN, person.id, repo, None)
    with pytest.raises(PersonNotFound):
        services.get_person(ALICE, person.id, repo)


def test_replace_clears_omitted_optional_fields(repo: InMemoryPeopleRepository) -> None:
    person = make(repo, email="ada@example.com", tags=["x"])
    replaced = services.update_person(ALICE, person.id, {"name": "Ada L"}, repo, None, mode="replace")
    assert (replaced.name, replaced.email, replaced.tags, replaced.version) == ("Ada L", None, (), 2)


def test_if_match_guards_writes(repo: InMemoryPeopleRepository) -> None:
    person = make(repo)
    with pytest.raises(VersionMismatch):
        services.update_person(
            ALICE, person.id, {"notes": "x"}, repo, Precondition(frozenset({7})), mode="patch"
        )
    ok = services.update_person(
        ALICE, person.id, {"notes": "x"}, repo, Precondition(frozenset({1})), mode="patch"
    )
    assert ok.version == 2
    assert (
        services.update_person(
            ALICE, person.id, {"notes": "y"}, repo, Precondition(any_version=True), mode="patch"
        ).version
        == 3
    )


def test_an_empty_patch_changes_nothing_but_still_checks_the_precondition(
    repo: InMemoryPeopleRepository,
) -> None:
    person = make(repo)
    assert services.update_person(ALICE, person.id, {}, repo, None, mode="patch") == person
    with pytest.raises(VersionMismatch):
        services.update_person(ALICE, person.id, {}, repo, Precondition(frozenset({9})), mode="patch")


def test_malformed_ids_are_not_found_without_touching_storage(repo: InMemoryPeopleRepository) -> None:
    with pytest.raises(PersonNotFound):
        services.get_person(ALICE, "../../etc/passwd", repo)
    assert repo.requests == 0


def test_listing_another_owner_needs_admin(repo: InMemoryPeopleRepository) -> None:
    make(repo, caller=BOB)
    with pytest.raises(ForbiddenOwner):
        services.list_people(ALICE, repo, owner="bob", limit=10, after=None)
    page = services.list_people(ADMIN, repo, owner="bob", limit=10, after=None)
    assert [p.owner for p in page.items] == ["bob"]


def test_listing_pages_in_creation_order(repo: InMemoryPeopleRepository) -> None:
    created = [make(repo, name=f"p{i}") for i in range(5)]
    first = services.list_people(ALICE, repo, owner=None, limit=2, after=None)
    assert [p.id for p in first.items] == [p.id for p in created[:2]] and first.last == created[1].id
    rest = services.list_people(ALICE, repo, owner=None, limit=10, after=first.last)
    assert [p.id for p in rest.items] == [p.id for p in created[2:]] and rest.last is None


def once(
    repo: InMemoryPeopleRepository,
    key: str,
    caller: Caller = ALICE,
    at: str = "2026-01-01T00:00:00.000Z",
    **body: object,
) -> Created:
    return services.create_person_once(
        caller, {"name": "Ada", **body}, key, repo, clock=lambda: at, make_id=lambda: next(_ids)
    )


def test_a_repeated_key_replays_the_first_person_in_one_request(repo: InMemoryPeopleRepository) -> None:
    first = once(repo, "k", tags=["x"])
    before = repo.requests
    again = once(repo, "k", at="2026-01-01T12:00:00.000Z", tags=["x"])
    assert again.replayed and again.person == first.person and len(repo.people) == 1
    assert repo.requests - before == 1


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    assert services.fingerprint({"name": "Ada", "tags": ["a"]}) == services.fingerprint(
        {"tags": ["a"], "name": "Ada"}
    )
    assert services.fingerprint({"name": "Ada"}) != services.fingerprint({"name": "Ada "})
    assert services.fingerprint({"tags": ["a", "b"]}) != services.fingerprint({"tags": ["b", "a"]})


def test_a_reused_key_with_another_body_is_refused(repo: InMemoryPeopleRepository) -> None:
    once(repo, "k")
    with pytest.raises(IdempotencyKeyReused):
        once(repo, "k", notes="different")
    assert len(repo.people) == 1


def test_keys_belong_to_their_caller(repo: InMemoryPeopleRepository) -> None:
    assert not once(repo, "k").replayed and not once(repo, "k", caller=BOB).replayed
    assert len(repo.people) == 2


def test_a_key_expires_after_24_hours(repo: InMemoryPeopleRepository) -> None:
    once(repo, "k")
    assert once(repo, "k", at="2026-01-01T23:59:59.999Z").replayed
    later = once(repo, "k", at="2026-01-02T00:00:00.001Z", notes="new day")
    assert not later.replayed and len(repo.people) == 2


def test_an_invalid_body_is_422_before_the_key_is_used(repo: InMemoryPeopleRepository) -> None:
    with pytest.raises(ValidationFailed):
        services.create_person_once(ALICE, {"name": ""}, "k", repo)
    assert repo.keys == {} and not once(repo, "k").replayed


def test_a_key_in_flight_is_a_conflict(repo: InMemoryPeopleRepository) -> None:
    import hashlib

    repo.in_flight.add(("alice", hashlib.sha256(b"k").hexdigest()))
    with pytest.raises(IdempotentRequestInFlight):
        once(repo, "k")
    assert repo.people == {}
