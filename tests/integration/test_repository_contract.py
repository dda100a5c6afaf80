"""One contract, two implementations: the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from chalicelib.domain import Person, Precondition, new_id
from chalicelib.errors import PersonNotFound, VersionMismatch
from chalicelib.ports import Guard, Page, PeopleRepository, TagIndex
from chalicelib.search import name_key, name_prefix

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


def names(page: Page) -> list[str]:
    return [p.name for p in page.items]


def every_page(fetch: Callable[[str | None], Page]) -> list[Person]:
    """Follow `last` from the first page to the end."""
    found: list[Person] = []
    after: str | None = None
    while True:
        page = fetch(after)
        found.extend(page.items)
        if page.last is None:
            return found
        after = page.last


class TestSearchContract:
    """Name order and prefix (the by-owner-name index) and the tag entries (kept by TagIndex)."""

    NAMES = ("Ádám", "ada", "Adrian", "ADA B", "Bea", "Ὀδυσσεύς", "Пётр", "山田", "ad")

    def add_all(self, repo: PeopleRepository, owner: str) -> list[Person]:
        people = [person(owner, name=n) for n in self.NAMES]
        for p in people:
            repo.add(p, actor=owner)
        repo.add(person(f"other-{owner}", name="Ada"), actor="x")
        return people

    def test_sorted_by_name_lists_every_person_in_folded_name_order(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        people = self.add_all(repo, owner)
        expected = sorted(people, key=lambda p: name_key(p.name, p.id))
        found = every_page(lambda after: repo.list_by_name(owner, prefix="", limit=2, after=after))
        assert found == expected
        assert names(repo.list_by_name(owner, prefix="", limit=4, after=None)) == [
            "ad", "ada", "ADA B", "Ádám"
        ]  # fmt: skip

    def test_a_prefix_finds_names_ignoring_case_and_accents_in_name_order(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        self.add_all(repo, owner)
        page = repo.list_by_name(owner, prefix=name_prefix("AD"), limit=10, after=None)
        assert names(page) == ["ad", "ada", "ADA B", "Ádám", "Adrian"] and not page.more
        paged = every_page(lambda after: repo.list_by_name(owner, prefix="ad", limit=2, after=after))
        assert [p.name for p in paged] == names(page)
        assert names(repo.list_by_name(owner, prefix=name_prefix("οδυ"), limit=5, after=None)) == ["Ὀδυσσεύς"]
        assert names(repo.list_by_name(owner, prefix=name_prefix("ПЕТ"), limit=5, after=None)) == ["Пётр"]
        assert names(repo.list_by_name(owner, prefix="山", limit=5, after=None)) == ["山田"]
        assert names(repo.list_by_name(owner, prefix="adx", limit=5, after=None)) == []

    def test_a_page_of_exactly_the_remaining_people_has_no_more(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        self.add_all(repo, owner)
        page = repo.list_by_name(owner, prefix="ad", limit=5, after=None)
        assert len(page.items) == 5 and not page.more and page.last is None

    def test_renames_move_and_deletes_remove_people_in_the_name_index(
        self, repo: PeopleRepository, owner: str
    ) -> None:
        a, b = person(owner, name="Ada"), person(owner, name="Bea")
        repo.add(a, actor=owner)
        repo.add(b, actor=owner)
        repo.update(a.id, {"name": "Zoë"}, actor=owner, at=LATER, guard=Guard(owner))
        assert names(repo.list_by_name(owner, prefix="", limit=5, after=None)) == ["Bea", "Zoë"]
        assert names(repo.list_by_name(owner, prefix="zoe", limit=5, after=None)) == ["Zoë"]
        assert names(repo.list_by_name(owner, prefix="ada", limit=5, after=None)) == []
        repo.update(b.id, {"notes": "unchanged name"}, actor=owner, at=LATER, guard=Guard(owner))
        assert names(repo.list_by_name(owner, prefix="b", limit=5, after=None)) == ["Bea"]
        repo.delete(b.id, actor=owner, at=LATER, guard=Guard(owner))
        assert names(repo.list_by_name(owner, prefix="", limit=5, after=None)) == ["Zoë"]

    def test_tag_entries_list_their_people_whole_in_creation_order(
        self, repo: PeopleRepository, tag_index: TagIndex, owner: str
    ) -> None:
        people = [person(owner, name=f"p{i}", tags=("Math",), email="p@example.com") for i in range(5)]
        for p in people:
            assert tag_index.write("math", p)
        tag_index.write("math", person(f"other-{owner}", tags=("math",)))
        first = repo.list_by_tag(owner, "math", limit=3, after=None)
        assert first.items == people[:3] and first.more
        rest = repo.list_by_tag(owner, "math", limit=3, after=first.last)
        assert rest.items == people[3:] and not rest.more
        assert repo.list_by_tag(owner, "physics", limit=3, after=None).items == []

    def test_tag_entries_keep_the_newest_version_whatever_order_changes_arrive_in(
        self, repo: PeopleRepository, tag_index: TagIndex, owner: str
    ) -> None:
        v1 = person(owner, name="Ada", tags=("x",))
        v2 = msgspec.structs.replace(v1, name="Ada King", version=2)
        assert tag_index.write("x", v2)
        assert not tag_index.write("x", v1)  # an older change
        assert not tag_index.write("x", v2)  # a redelivery
        assert repo.list_by_tag(owner, "x", limit=5, after=None).items == [v2]
        assert not tag_index.remove(owner, "x", v1.id, version=2)  # not older than the entry
        assert repo.list_by_tag(owner, "x", limit=5, after=None).items == [v2]
        assert tag_index.remove(owner, "x", v1.id, version=3)
        assert not tag_index.remove(owner, "x", v1.id, version=3)  # a redelivery
        assert repo.list_by_tag(owner, "x", limit=5, after=None).items == []
