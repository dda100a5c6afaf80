"""The stream handler keeps the tag entries beside publishing: one message per change, still."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import notifications
from chalicelib.adapters.sns import SnsPublisher
from chalicelib.adapters.stream import read_change
from chalicelib.domain import Person
from tests.fakes import InMemoryPeopleRepository, InMemoryTagIndex
from tests.support import OWNER, person_item, record

SOURCE = "people-api/test"


class RecordingSns:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def publish(self, **kwargs: Any) -> None:
        self.messages.append(json.loads(kwargs["Message"])["id"])


class FailingTags(InMemoryTagIndex):
    """Tag entries whose storage fails `failures` times, then works."""

    def __init__(self, repo: InMemoryPeopleRepository, failures: int) -> None:
        super().__init__(repo)
        self.failures = failures

    def write(self, tag: str, person: Person) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("DynamoDB is unreachable")
        return super().write(tag, person)


def history() -> list[dict[str, Any]]:
    """Create with [a, b], change to [B, c] and a new name, then delete: versions 1, 2, 3."""
    v1 = person_item(1, tags=["a", "b"])
    v2 = person_item(2, tags=["B", "c"], name="Ada King")
    v3 = person_item(3, tags=["B", "c"], name="Ada King", deleted_at="2026-01-03T00:00:00.000Z")
    return [
        record("INSERT", None, v1, seq=1),
        record("MODIFY", v1, v2, seq=2),
        record("MODIFY", v2, v3, seq=3),
    ]


def entries(repo: InMemoryPeopleRepository) -> dict[str, list[tuple[str, int]]]:
    """Folded tag -> [(name, version)] of the owner's entries."""
    return {
        tag: [(p.name, p.version) for p in people.values()]
        for (owner, tag), people in sorted(repo.tag_entries.items())
        if owner == OWNER and people
    }


def run(records: list[dict[str, Any]], tags: InMemoryTagIndex, sns: RecordingSns) -> dict[str, Any]:
    return notifications.publish_batch(
        records, read_change, SnsPublisher(sns, "arn:topic"), SOURCE, tags=tags
    )


def test_tag_entries_follow_creates_tag_changes_and_deletes() -> None:
    repo, sns = InMemoryPeopleRepository(), RecordingSns()
    tags = InMemoryTagIndex(repo)
    records = history()
    assert run(records[:1], tags, sns) == {"batchItemFailures": []}
    assert entries(repo) == {"a": [("Ada", 1)], "b": [("Ada", 1)]}
    run(records[1:2], tags, sns)
    assert entries(repo) == {"b": [("Ada King", 2)], "c": [("Ada King", 2)]}
    run(records[2:], tags, sns)
    assert entries(repo) == {}
    assert sns.messages == ["event-1", "event-2", "event-3"]


def test_a_redelivered_batch_changes_no_entry_and_an_older_change_never_overwrites_a_newer_one() -> None:
    repo, sns = InMemoryPeopleRepository(), RecordingSns()
    tags = InMemoryTagIndex(repo)
    records = history()
    run(records[:2], tags, sns)
    settled = entries(repo)
    run(records[:2], tags, sns)  # Lambda delivers the batch again
    assert entries(repo) == settled == {"b": [("Ada King", 2)], "c": [("Ada King", 2)]}
    run(records[:1], tags, sns)  # the create, replayed alone after the change
    assert entries(repo)["b"] == [("Ada King", 2)]


def test_a_failed_tag_write_fails_the_record_before_it_is_published_and_the_retry_publishes_once() -> None:
    repo, sns = InMemoryPeopleRepository(), RecordingSns()
    tags = FailingTags(repo, failures=0)
    records = history()
    run(records[:1], tags, sns)
    tags.failures = 1
    assert run(records[1:], tags, sns) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert sns.messages == ["event-1"]  # nothing of the failed record or after it
    assert run(records[1:], tags, sns) == {"batchItemFailures": []}  # Lambda's retry
    assert sns.messages == ["event-1", "event-2", "event-3"]
    assert entries(repo) == {}


def test_records_that_are_not_person_changes_touch_no_entry() -> None:
    repo, sns = InMemoryPeopleRepository(), RecordingSns()
    tags = InMemoryTagIndex(repo)
    tag_entry = {"pk": f"TAG#{OWNER}#a", "sk": "01JD0000000000000000000000", "version": 1, "person": "{}"}
    run([record("INSERT", None, tag_entry)], tags, sns)
    assert tags.requests == 0 and sns.messages == []
