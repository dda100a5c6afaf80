"""One contract, two implementations: the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import Person, Precondition, new_id
from chalicelib.errors import PersonNotFound, VersionMismatch
from chalicelib.ports import Guard, PeopleRepository

NOW = "2026-01-01T00:00:00.000Z"
LATER = "2026-01-02T00:00:00.000Z"


def person(owner: str, **fields: Any) -> Person:
    values: dict[str, Any] = {"name": "Ada", "created_at": NOW, "updated_at": NOW, "version": 1, **fields}
    return Person(id=new_id(), owner=owner, **values)


class TestPeopleRepositoryContract:
    def test_added_people_can_be_read_back(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner, email="a@example.com", tags=("x", "y"), notes="n", phone="123")
        repo.add(p, actor=owner)
        assert repo.get(p.id) == p

    def test_unknown_ids_are_absent(self, repo: PeopleRepository) -> None:
        assert repo.get(new_id()) is None

    def test_update_sets_clears_and_bumps_the_version(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner, email="a@example.com", tags=("x",))
        repo.add(p, actor=owner)
        updated = repo.update(
            p.id, {"name": "Bea", "email": None, "tags": None}, actor=owner, at=LATER, guard=Guard(owner)
        )
        assert (updated.name, updated.email, updated.tags, updated.version) == ("Bea", None, (), 2)
        assert updated.updated_at == LATER and updated.created_at == NOW
        assert repo.get(p.id) == updated

    def test_a_wrong_owner_is_not_found_and_changes_nothing(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner)
        repo.add(p, actor=owner)
        with pytest.raises(PersonNotFound):
            repo.update(p.id, {"name": "X"}, actor="mallory", at=LATER, guard=Guard("mallory"))
        with pytest.raises(PersonNotFound):
            repo.delete(p.id, actor="mallory", at=LATER, guard=Guard("mallory"))
        assert repo.get(p.id) == p

    def test_no_owner_guard_lets_admins_write(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner)
        repo.add(p, actor=owner)
        assert repo.update(p.id, {"notes": "ok"}, actor="root", at=LATER, guard=Guard(None)).notes == "ok"

    def test_a_stale_version_is_a_mismatch_but_a_missing_person_is_not_found(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        p = person(owner)
        repo.add(p, actor=owner)
        with pytest.raises(VersionMismatch):
            repo.update(
                p.id, {"name": "X"}, actor=owner, at=LATER, guard=Guard(owner, Precondition(frozenset({5})))
            )
        with pytest.raises(VersionMismatch):
            repo.delete(p.id, actor=owner, at=LATER, guard=Guard(owner, Precondition(frozenset())))
        with pytest.raises(PersonNotFound):
            repo.update(
                new_id(),
                {"name": "X"},
                actor=owner,
                at=LATER,
                guard=Guard(owner, Precondition(frozenset({1}))),
            )
        assert (
            repo.update(
                p.id, {"name": "Y"}, actor=owner, at=LATER, guard=Guard(owner, Precondition(frozenset({1})))
            ).version
            == 2
        )

    def test_deleted_people_are_gone_for_every_operation(self, repo: PeopleRepository, owner: str) -> None:
        p = person(owner)
        repo.add(p, actor=owner)
        assert repo.delete(p.id, actor=owner, at=LATER, guard=Guard(owner)).id == p.id
        assert repo.get(p.id) is None
        assert repo.list_by_owner(owner, limit=10, after=None).items == []
        with pytest.raises(PersonNotFound):
            repo.update(p.id, {"name": "X"}, actor=owner, at=LATER, guard=Guard(None))
        with pytest.raises(PersonNotFound):
            repo.delete(p.id, actor=owner, at=LATER, guard=Guard(None))

    def test_listing_is_per_owner_in_creation_order_with_exact_more_flag(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        mine = [person(owner, name=f"p{i}") for i in range(5)]
        for p in mine:
            repo.add(p, actor=owner)
        repo.add(person(f"other-{owner}"), actor="x")
        first = repo.list_by_owner(owner, limit=3, after=None)
        assert [p.id for p in first.items] == [p.id for p in mine[:3]] and first.more
        second = repo.list_by_owner(owner, limit=2, after=first.last)
        assert [p.id for p in second.items] == [p.id for p in mine[3:]] and not second.more
        assert second.last is None
