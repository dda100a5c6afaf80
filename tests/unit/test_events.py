"""Change events from stream records, publishing a batch, and recording history idempotently."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from chalicelib import events, notifications
from chalicelib.adapters.sns import SnsPublisher
from chalicelib.adapters.stream import MalformedRecord, read_change
from chalicelib.errors import PersonNotFound
from chalicelib.services import Caller, person_history
from tests.fakes import InMemoryHistoryRepository
from tests.support import OWNER, PID, build_event, person_item, record

SOURCE = "people-api/test"
ADMIN = "admin-sub"


def as_json(event: events.ChangeEvent | None) -> dict[str, Any]:
    assert event is not None
    decoded: dict[str, Any] = json.loads(msgspec.json.encode(event))
    return decoded


def test_insert_becomes_a_created_event_in_cloudevents_form() -> None:
    new = person_item(email="a@example.com", tags=["x"])
    event = as_json(build_event(record("INSERT", None, new, seq=7), SOURCE))
    assert event == {
        "specversion": "1.0",
        "id": "event-7",
        "source": SOURCE,
        "type": "people.person.created",
        "time": "2026-01-01T00:00:00.000Z",
        "subject": PID,
        "datacontenttype": "application/json",
        "data": {
            "owner": OWNER,
            "actor": OWNER,
            "version": 1,
            "before": None,
            "after": {
                "id": PID,
                "owner": OWNER,
                "name": "Ada",
                "email": "a@example.com",
                "phone": None,
                "notes": None,
                "tags": ["x"],
                "created_at": "2026-01-01T00:00:00.000Z",
                "updated_at": "2026-01-01T00:00:00.000Z",
                "version": 1,
            },
            "changed_fields": ["name", "email", "tags"],
        },
    }


def test_modify_becomes_an_updated_event_naming_the_changed_fields_and_the_actor() -> None:
    old = person_item(email="a@example.com", notes="n")
    new = person_item(2, name="Ada L", notes=None, updated_at="2026-01-02T00:00:00.000Z", actor=ADMIN)
    event = as_json(build_event(record("MODIFY", old, new), SOURCE))
    assert event["type"] == "people.person.updated"
    assert event["time"] == "2026-01-02T00:00:00.000Z"
    assert event["data"]["actor"] == ADMIN
    assert event["data"]["owner"] == OWNER
    assert event["data"]["changed_fields"] == ["name", "email", "notes"]
    assert event["data"]["before"]["notes"] == "n"
    assert event["data"]["after"]["notes"] is None
    assert event["data"]["version"] == 2


def test_soft_delete_becomes_a_deleted_event_carrying_the_deleting_actor() -> None:
    old = person_item(email="a@example.com")
    at = "2026-01-03T00:00:00.000Z"
    new = person_item(
        2, list_owner=None, email="a@example.com", deleted_at=at, updated_at=at, actor=ADMIN, expires_at=1
    )
    event = as_json(build_event(record("MODIFY", old, new), SOURCE))
    assert event["type"] == "people.person.deleted"
    assert event["time"] == at
    assert event["data"]["actor"] == ADMIN
    assert event["data"]["after"] is None
    assert event["data"]["before"]["email"] == "a@example.com"
    assert event["data"]["changed_fields"] == ["name", "email"]


def test_internal_attributes_never_reach_the_event() -> None:
    new = person_item(expires_at=123)
    text = msgspec.json.encode(build_event(record("INSERT", None, new), SOURCE)).decode()
    for internal in ("pk", "sk", "list_owner", "expires_at", "deleted_at", "PERSON#"):
        assert internal not in text


def test_ttl_removal_of_a_deleted_person_is_ignored() -> None:
    old = person_item(2, list_owner=None, deleted_at="2026-01-03T00:00:00.000Z")
    removal = record("REMOVE", old, None)
    removal["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert build_event(removal, SOURCE) is None


def test_a_write_that_keeps_the_version_is_not_a_change() -> None:
    """The search backfill sets `name_key` on people written before search, nothing else."""
    old = person_item(3)
    assert build_event(record("MODIFY", old, {**old, "name_key": "ada\x1f" + PID}), SOURCE) is None


def test_history_items_in_the_same_table_are_ignored() -> None:
    entry = {"pk": f"PERSON#{PID}", "sk": "HISTORY#0000000001", "event_id": "e", "owner": OWNER}
    assert build_event(record("INSERT", None, entry), SOURCE) is None


def test_idempotency_records_and_their_ttl_purge_are_ignored() -> None:
    key_record = {
        "pk": "IDEMPOTENCY#owner-sub#" + "a" * 64,
        "sk": "IDEMPOTENCY",
        "fingerprint": "f" * 64,
        "person_id": PID,
        "response": json.dumps({"id": PID, "owner": OWNER, "name": "Ada"}),
        "created_at": "2026-01-01T00:00:00.000Z",
        "expires_at": 1767312000,
    }
    assert build_event(record("INSERT", None, key_record), SOURCE) is None
    assert build_event(record("MODIFY", key_record, key_record), SOURCE) is None
    assert build_event(record("REMOVE", key_record, None), SOURCE) is None


def test_a_record_without_images_is_malformed() -> None:
    broken = record("INSERT", None, person_item())
    del broken["dynamodb"]["NewImage"]
    with pytest.raises(MalformedRecord):
        build_event(broken, SOURCE)


class RecordingSns:
    def __init__(self, fail_on: set[str] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_on = fail_on or set()

    def publish(self, **kwargs: Any) -> None:
        if json.loads(kwargs["Message"])["id"] in self.fail_on:
            raise ConnectionError("SNS is down")
        self.calls.append(kwargs)


def inserts(count: int) -> list[dict[str, Any]]:
    return [record("INSERT", None, person_item(), seq=i) for i in range(1, count + 1)]


def test_each_change_is_published_with_type_and_owner_attributes() -> None:
    sns = RecordingSns()
    result = notifications.publish_batch(inserts(2), read_change, SnsPublisher(sns, "arn:topic"), SOURCE)
    assert result == {"batchItemFailures": []}
    assert [json.loads(c["Message"])["id"] for c in sns.calls] == ["event-1", "event-2"]
    assert sns.calls[0]["TopicArn"] == "arn:topic"
    assert sns.calls[0]["MessageAttributes"] == {
        "type": {"DataType": "String", "StringValue": "people.person.created"},
        "owner": {"DataType": "String", "StringValue": OWNER},
    }


def test_the_first_failed_publish_is_reported_and_nothing_after_it_is_sent() -> None:
    sns = RecordingSns(fail_on={"event-2"})
    result = notifications.publish_batch(inserts(3), read_change, SnsPublisher(sns, "arn:topic"), SOURCE)
    assert result == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [json.loads(c["Message"])["id"] for c in sns.calls] == ["event-1"]


def test_ignored_records_publish_nothing() -> None:
    sns = RecordingSns()
    removal = record("REMOVE", person_item(deleted_at="x"), None)
    assert notifications.publish_batch([removal], read_change, SnsPublisher(sns, "arn:topic"), SOURCE) == {
        "batchItemFailures": []
    }
    assert sns.calls == []


def sns_record(message: str, message_id: str = "m-1") -> dict[str, Any]:
    return {"EventSource": "aws:sns", "Sns": {"MessageId": message_id, "Message": message}}


def created_message() -> str:
    return msgspec.json.encode(build_event(record("INSERT", None, person_item()), SOURCE)).decode()


def test_a_redelivered_event_is_recorded_once() -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    message = created_message()
    added = [
        notifications.record_notifications([sns_record(message)], history, ttl_days=90, source=SOURCE)
        for _ in range(3)
    ]
    assert added == [1, 0, 0]
    page = history.page(PID, limit=10, before=None)
    assert [entry.id for entry in page.items] == ["event-1"]
    assert page.items[0].actor == OWNER


def test_history_expires_after_the_configured_days() -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    notifications.record_notifications([sns_record(created_message())], history, ttl_days=7, source=SOURCE)
    assert [str(e) for e in history.expiry.values()] == ["2026-01-08 00:00:00+00:00"]


def test_malformed_messages_are_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    good = sns_record(created_message(), "good")
    bad = [
        sns_record("not json", "junk"),
        sns_record(json.dumps({"specversion": "1.0"}), "partial"),
        sns_record(created_message().replace("people.person.created", "people.person.exploded"), "type"),
        {"no": "sns"},
    ]
    assert notifications.record_notifications([*bad, good], history, ttl_days=90, source=SOURCE) == 1
    assert len(history.changes) == 1
    assert caplog.text.count("malformed_notification") == 4


def test_history_is_for_the_owner_and_admins_only() -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    notifications.record_notifications([sns_record(created_message())], history, ttl_days=90, source=SOURCE)
    assert person_history(Caller(OWNER), PID, history, limit=5, before=None).items
    assert person_history(Caller("root", is_admin=True), PID, history, limit=5, before=None).items
    with pytest.raises(PersonNotFound):
        person_history(Caller("stranger"), PID, history, limit=5, before=None)
    with pytest.raises(PersonNotFound):
        person_history(Caller(OWNER), "01JD0000000000000000000001", history, limit=5, before=None)


def forged(**changes: Any) -> str:
    """A well-formed change event of PID, altered as a forger with sns:Publish would."""
    event = json.loads(created_message())
    for path, value in changes.items():
        target = event
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return json.dumps(event)


@pytest.mark.parametrize(
    ("message_changes", "reason"),
    [
        ({"data.owner": "forger-sub"}, "owner"),
        ({"source": "people-api/prod"}, "source"),
        ({"subject": "PERSON#01JD0000000000000000000000"}, "subject"),
        ({"subject": "01jd0000000000000000000000"}, "subject"),
        ({"subject": "01JD0000000000000000000009", "data.owner": OWNER}, "owner"),  # no such person
    ],
)
def test_events_that_cannot_be_this_stages_changes_are_logged_and_dropped(
    caplog: pytest.LogCaptureFixture, message_changes: dict[str, Any], reason: str
) -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    added = notifications.record_notifications(
        [sns_record(forged(**message_changes))], history, ttl_days=90, source=SOURCE
    )
    assert added == 0 and history.changes == {}
    assert "rejected_notification" in caplog.text and reason in caplog.text


def test_a_forged_version_does_not_take_the_real_changes_slot() -> None:
    history = InMemoryHistoryRepository(owners={PID: OWNER})
    record = notifications.record_notifications
    assert (
        record([sns_record(forged(**{"data.owner": "forger-sub"}))], history, ttl_days=90, source=SOURCE) == 0
    )
    assert record([sns_record(created_message())], history, ttl_days=90, source=SOURCE) == 1
    assert [c.owner for c in history.changes.values()] == [OWNER]
