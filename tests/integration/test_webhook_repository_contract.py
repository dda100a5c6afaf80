"""One webhook repository contract, two implementations: the in-memory fake and PynamoDB on the emulator."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from chalicelib.domain import new_id
from chalicelib.errors import TooManyWebhooks, WebhookNotFound
from chalicelib.ports import AttemptRecord, DeliveryRecord, WebhookEndpoint, WebhookRepository
from tests.fakes import InMemoryWebhookRepository

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPIRY = NOW + timedelta(days=30)


@pytest.fixture(params=["in-memory", "dynamodb"])
def webhooks(request: pytest.FixtureRequest) -> WebhookRepository:
    if request.param == "in-memory":
        return InMemoryWebhookRepository()
    request.getfixturevalue("stack")
    from chalicelib.wiring import webhook_repo

    return webhook_repo()


@pytest.fixture
def owner() -> str:
    return f"user-{uuid.uuid4()}"


def endpoint(owner: str, **fields: object) -> WebhookEndpoint:
    values: dict[str, object] = {
        "id": new_id(),
        "owner": owner,
        "url": "https://hooks.example.com/in?token=x",
        "secret": "sealed-1",
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return WebhookEndpoint(**values)  # type: ignore[arg-type]


def delivery(endpoint_id: str, n: int, owner: str = "o") -> DeliveryRecord:
    return DeliveryRecord(
        id=f"msg_{n:04d}",
        endpoint_id=endpoint_id,
        owner=owner,
        event_id=f"event-{n}",
        event_type="people.person.created",
        event_time=f"2026-03-01T12:00:{n:02d}.000Z",
        created_at=NOW,
        next_attempt_at=NOW,
        payload='{"id": "event"}',
    )


class TestWebhookRepositoryContract:
    def test_an_endpoint_reads_back_as_stored(self, webhooks: WebhookRepository, owner: str) -> None:
        stored = endpoint(owner, events=("people.person.created",), description="crm")
        webhooks.add(stored, limit=10)
        assert webhooks.get(owner, stored.id) == stored

    def test_another_users_endpoint_is_absent_for_every_operation(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        stored = endpoint(owner)
        webhooks.add(stored, limit=10)
        assert webhooks.get("someone-else", stored.id) is None
        with pytest.raises(WebhookNotFound):
            webhooks.update("someone-else", stored.id, {"enabled": False}, at=NOW)
        with pytest.raises(WebhookNotFound):
            webhooks.rotate("someone-else", stored.id, "sealed-2", previous_expires_at=NOW, at=NOW)
        with pytest.raises(WebhookNotFound):
            webhooks.delete("someone-else", stored.id)
        assert webhooks.get(owner, stored.id) == stored

    def test_listing_pages_oldest_first(self, webhooks: WebhookRepository, owner: str) -> None:
        ids = []
        for _ in range(5):
            e = endpoint(owner)
            webhooks.add(e, limit=10)
            ids.append(e.id)
        first = webhooks.page(owner, limit=2, after=None)
        assert ([e.id for e in first.items], first.more) == (ids[:2], True)
        second = webhooks.page(owner, limit=2, after=first.last)
        assert [e.id for e in second.items] == ids[2:4]
        third = webhooks.page(owner, limit=2, after=second.last)
        assert ([e.id for e in third.items], third.more, third.last) == (ids[4:], False, None)

    def test_the_eleventh_endpoint_is_refused_and_a_delete_frees_a_place(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        added = [endpoint(owner) for _ in range(10)]
        for e in added:
            webhooks.add(e, limit=10)
        with pytest.raises(TooManyWebhooks):
            webhooks.add(endpoint(owner), limit=10)
        webhooks.delete(owner, added[0].id)
        webhooks.add(endpoint(owner), limit=10)
        assert len(webhooks.owned_by(owner)) == 10
        webhooks.add(endpoint("another-owner-" + owner), limit=10)  # the limit is per user

    def test_racing_creates_never_pass_the_limit(self, webhooks: WebhookRepository, owner: str) -> None:
        outcomes: list[str] = []

        def create() -> None:
            try:
                webhooks.add(endpoint(owner), limit=3)
                outcomes.append("added")
            except TooManyWebhooks:
                outcomes.append("refused")

        threads = [threading.Thread(target=create) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["added"] * 3 + ["refused"] * 3
        assert len(webhooks.owned_by(owner)) == 3

    def test_update_sets_and_clears_fields_and_enabling_forgets_failures(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        stored = endpoint(owner, events=("people.person.created",), description="x")
        webhooks.add(stored, limit=10)
        later = NOW + timedelta(hours=1)
        webhooks.set_health(
            owner, stored.id, failing_since=NOW, disabled_at=later, disabled_reason="410 Gone"
        )
        disabled = webhooks.get(owner, stored.id)
        assert disabled is not None and (disabled.enabled, disabled.disabled_reason) == (False, "410 Gone")
        updated = webhooks.update(
            owner,
            stored.id,
            {"url": "https://other.example.com/", "events": None, "description": "", "enabled": True},
            at=later,
        )
        assert (updated.url, updated.events, updated.description, updated.enabled) == (
            "https://other.example.com/",
            None,
            "",
            True,
        )
        assert (updated.failing_since, updated.disabled_at, updated.disabled_reason) == (None, None, None)
        assert updated.updated_at == later and updated.secret == "sealed-1"
        assert webhooks.get(owner, stored.id) == updated

    def test_rotation_keeps_the_current_secret_as_previous(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        stored = endpoint(owner)
        webhooks.add(stored, limit=10)
        until = NOW + timedelta(hours=24)
        rotated = webhooks.rotate(owner, stored.id, "sealed-2", previous_expires_at=until, at=NOW)
        assert (rotated.secret, rotated.previous_secret, rotated.previous_secret_expires_at) == (
            "sealed-2",
            "sealed-1",
            until,
        )

    def test_scope_all_endpoints_are_found_across_owners(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        everyone = endpoint(owner, scope="all")
        own = endpoint(owner)
        webhooks.add(everyone, limit=10)
        webhooks.add(own, limit=10)
        found = {e.id for e in webhooks.scope_all()}
        assert everyone.id in found and own.id not in found
        assert {e.id for e in webhooks.owned_by(owner)} == {everyone.id, own.id}

    def test_health_is_not_recorded_for_a_deleted_endpoint(
        self, webhooks: WebhookRepository, owner: str
    ) -> None:
        stored = endpoint(owner)
        webhooks.add(stored, limit=10)
        webhooks.delete(owner, stored.id)
        webhooks.set_health(owner, stored.id, failing_since=NOW, disabled_at=None, disabled_reason=None)
        assert webhooks.get(owner, stored.id) is None
        with pytest.raises(WebhookNotFound):
            webhooks.delete(owner, stored.id)

    def test_a_delivery_is_created_once(self, webhooks: WebhookRepository) -> None:
        endpoint_id = new_id()
        first = delivery(endpoint_id, 1)
        assert webhooks.add_delivery(first, expires_at=EXPIRY) is True
        assert webhooks.add_delivery(first, expires_at=EXPIRY) is False
        assert webhooks.get_delivery(endpoint_id, first.key) == first

    def test_an_attempt_is_saved_once_per_attempt_number_and_a_finished_delivery_stays_finished(
        self, webhooks: WebhookRepository
    ) -> None:
        endpoint_id = new_id()
        pending = delivery(endpoint_id, 1)
        webhooks.add_delivery(pending, expires_at=EXPIRY)
        attempt = AttemptRecord(at=NOW, status=500, error=None, duration_ms=12)
        after_one = msgspec.structs.replace(
            pending, attempts=(attempt,), next_attempt_at=NOW + timedelta(seconds=5)
        )
        assert webhooks.save_delivery(after_one, attempts_before=0) is True
        assert (
            webhooks.save_delivery(after_one, attempts_before=0) is False
        )  # another copy of the message got there first
        assert webhooks.get_delivery(endpoint_id, pending.key) == after_one
        done = msgspec.structs.replace(
            after_one,
            state="succeeded",
            attempts=(attempt, AttemptRecord(at=NOW, status=204, error=None, duration_ms=3)),
            next_attempt_at=None,
        )
        assert webhooks.save_delivery(done, attempts_before=1) is True
        assert webhooks.get_delivery(endpoint_id, pending.key) == done
        abandoned = msgspec.structs.replace(done, state="failed", failure_reason="endpoint disabled")
        assert webhooks.save_delivery(abandoned, attempts_before=2) is False

    def test_deliveries_page_newest_first(self, webhooks: WebhookRepository) -> None:
        endpoint_id = new_id()
        for n in (3, 1, 5, 2, 4):
            webhooks.add_delivery(delivery(endpoint_id, n), expires_at=EXPIRY)
        webhooks.add_delivery(delivery(new_id(), 9), expires_at=EXPIRY)  # another endpoint's
        first = webhooks.deliveries(endpoint_id, limit=2, after=None)
        assert ([d.id for d in first.items], first.more) == (["msg_0005", "msg_0004"], True)
        second = webhooks.deliveries(endpoint_id, limit=2, after=first.last)
        assert [d.id for d in second.items] == ["msg_0003", "msg_0002"]
        third = webhooks.deliveries(endpoint_id, limit=2, after=second.last)
        assert ([d.id for d in third.items], third.more) == (["msg_0001"], False)
