"""The search backfill indexes people written before search existed, once, and publishes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import Person, new_id
from chalicelib.ports import Guard

NOW = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def old_person(stack: Any) -> Any:
    """Store a person as the code before search did: no name key, no tag entries."""
    from chalicelib.adapters import keys
    from chalicelib.adapters.models import PersonModel
    from chalicelib.wiring import people_repo

    people_repo()  # binds the models to the stack's table

    def store(owner: str, name: str, tags: tuple[str, ...] = ()) -> Person:
        person = Person(
            id=new_id(), owner=owner, name=name, tags=tags, created_at=NOW, updated_at=NOW, version=1
        )
        PersonModel(
            keys.person_pk(person.id), keys.PERSON_SK, id=person.id, owner=owner, list_owner=owner, name=name,
            tags=list(tags) or None, created_at=NOW, updated_at=NOW, version=1, actor=owner,
        ).save()  # fmt: skip
        return person

    return store


def search(owner: str) -> tuple[list[str], list[str]]:
    from chalicelib.wiring import people_repo

    repo = people_repo()
    by_name = [p.name for p in repo.list_by_name(owner, prefix="", limit=50, after=None).items]
    by_tag = [p.name for p in repo.list_by_tag(owner, "math", limit=50, after=None).items]
    return by_name, by_tag


def test_people_from_before_search_are_found_after_the_backfill_and_a_rerun_changes_nothing(
    stack: Any, old_person: Any
) -> None:
    from chalicelib.wiring import dynamodb_connection, people_repo, tag_index
    from infra.backfill_search import backfill

    owner = f"user-{new_id()}"
    bea = old_person(owner, "Bea", ("Math", "x"))
    # The stream handler already wrote one of Bea's entries (a change after the deploy).
    tag_index().write("x", bea)
    ada = old_person(owner, "Ádám")
    gone = old_person(owner, "Cy", ("math",))
    people_repo().delete(gone.id, actor=owner, at=NOW, guard=Guard(owner))
    assert search(owner) == ([], [])
    outcome = backfill(dynamodb_connection(), stack.table_name)
    assert outcome.indexed >= 2 and outcome.failed == []
    assert search(owner) == (["Ádám", "Bea"], ["Bea"])
    assert people_repo().get(ada.id) == ada  # the version is not bumped
    assert backfill(dynamodb_connection(), stack.table_name).indexed == 0


def test_a_person_changed_after_the_scan_is_read_again(
    stack: Any, old_person: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.wiring import dynamodb_connection, people_repo
    from infra import backfill_search

    owner = f"user-{new_id()}"
    bea = old_person(owner, "Bea", ("math",))
    scanned = list(backfill_search._missing(dynamodb_connection().client, stack.table_name))
    # Another writer renames Bea between the scan and the backfill's write (the old code path).
    from chalicelib.adapters.models import PersonModel

    PersonModel.get(f"PERSON#{bea.id}", "PERSON").update(
        actions=[PersonModel.name.set("Bea B"), PersonModel.version.add(1)]
    )
    monkeypatch.setattr(backfill_search, "_missing", lambda *_: iter(scanned))
    outcome = backfill_search.backfill(dynamodb_connection(), stack.table_name)
    assert outcome.indexed >= 1
    person = people_repo().get(bea.id)
    assert person is not None and person.version == 2
    assert people_repo().list_by_tag(owner, "math", limit=5, after=None).items == [person]
