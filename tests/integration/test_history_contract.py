"""One history contract, two implementations: the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import Person, new_id
from chalicelib.ports import Change, HistoryEntry, HistoryRepository
from tests.fakes import InMemoryHistoryRepository

EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["in-memory", "dynamodb"])
def history(request: pytest.FixtureRequest) -> HistoryRepository:
    if request.param == "in-memory":
        return InMemoryHistoryRepository()
    request.getfixturevalue("stack")
    from chalicelib.wiring import history_repo

    return history_repo()


def given_person(history: HistoryRepository, owner: str = "owner") -> str:
    """A person item in the table (the fake's `owners`, or a real item), whose id is returned."""
    pid = new_id()
    if isinstance(history, InMemoryHistoryRepository):
        history.owners[pid] = owner
    else:
        from chalicelib.wiring import people_repo

        now = "2026-01-01T00:00:00.000Z"
        person = Person(id=pid, owner=owner, name="Ada", created_at=now, updated_at=now, version=1)
        people_repo().add(person, actor=owner)
    return pid


def change(person_id: str, version: int, event_id: str | None = None, owner: str = "owner") -> Change:
    entry = HistoryEntry(
        id=event_id or f"event-{version}",
        type="people.person.updated",
        time=f"2026-01-01T00:00:{version:02d}.000Z",
        actor="someone",
        changed_fields=["notes"],
        before=None,
        after=None,
    )
    return Change(person_id=person_id, owner=owner, version=version, entry=entry)


class TestHistoryRepositoryContract:
    def test_one_change_is_recorded_once(self, history: HistoryRepository) -> None:
        pid = given_person(history)
        assert history.record(change(pid, 1), expires_at=EXPIRY) is True
        assert history.record(change(pid, 1), expires_at=EXPIRY) is False
        page = history.page(pid, limit=10, before=None)
        assert [e.id for e in page.items] == ["event-1"]
        assert page.owner == "owner"

    def test_pages_run_newest_first_and_continue_before_the_last_version(
        self, history: HistoryRepository
    ) -> None:
        pid = given_person(history)
        for version in (3, 1, 5, 2, 4):  # SNS does not keep order
            history.record(change(pid, version), expires_at=EXPIRY)
        first = history.page(pid, limit=2, before=None)
        assert (first.versions, first.more, first.last) == ([5, 4], True, 4)
        second = history.page(pid, limit=2, before=first.last)
        assert (second.versions, second.more) == ([3, 2], True)
        third = history.page(pid, limit=2, before=second.last)
        assert (third.versions, third.more, third.last) == ([1], False, None)

    def test_an_unknown_person_has_no_owner_and_no_history(self, history: HistoryRepository) -> None:
        page = history.page(new_id(), limit=10, before=None)
        assert (page.owner, page.items, page.more) == (None, [], False)

    def test_the_owner_is_the_tables_never_an_entrys(self, history: HistoryRepository) -> None:
        """Entries claiming another owner (a forged message) never decide who may read the history."""
        pid = given_person(history, owner="victim")
        history.record(change(pid, 1, owner="forger"), expires_at=EXPIRY)
        assert history.page(pid, limit=10, before=None).owner == "victim"
        assert history.owner_of(pid) == "victim"
        orphan = new_id()  # entries whose person item is gone: nobody's
        history.record(change(orphan, 1, owner="forger"), expires_at=EXPIRY)
        assert history.page(orphan, limit=10, before=None).owner is None
        assert history.owner_of(orphan) is None
