"""One history contract, two implementations: the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import new_id
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


def change(person_id: str, version: int, event_id: str | None = None) -> Change:
    entry = HistoryEntry(
        id=event_id or f"event-{version}",
        type="people.person.updated",
        time=f"2026-01-01T00:00:{version:02d}.000Z",
        actor="someone",
        changed_fields=["notes"],
        before=None,
        after=None,
    )
    return Change(person_id=person_id, owner="owner", version=version, entry=entry)


class TestHistoryRepositoryContract:
    def test_one_change_is_recorded_once(self, history: HistoryRepository) -> None:
        pid = new_id()
        assert history.record(change(pid, 1), expires_at=EXPIRY) is True
        assert history.record(change(pid, 1), expires_at=EXPIRY) is False
        page = history.page(pid, limit=10, before=None)
        assert [e.id for e in page.items] == ["event-1"]
        assert page.owner == "owner"

    def test_pages_run_newest_first_and_continue_before_the_last_version(
        self, history: HistoryRepository
    ) -> None:
        pid = new_id()
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
