"""Fan-out: which endpoints get a change event, and stable delivery ids."""

from __future__ import annotations

import pytest

from chalicelib.webhooks import fanout, signing
from chalicelib.webhooks.fanout import Scope, Subscription

CREATED, UPDATED, DELETED = fanout.CHANGE_TYPES

ALICE_ALL = Subscription("ep_a1", "alice")
ALICE_DELETES = Subscription("ep_a2", "alice", events=frozenset({DELETED}))
ALICE_OFF = Subscription("ep_a3", "alice", enabled=False)
BOB = Subscription("ep_b1", "bob")
ADMIN_ALL = Subscription("ep_r1", "root", scope=Scope.ALL)
ADMIN_OWN = Subscription("ep_r2", "root")
ADMIN_ALL_CREATES = Subscription("ep_r3", "root", events=frozenset({CREATED}), scope=Scope.ALL)
EVERYONE = [ALICE_ALL, ALICE_DELETES, ALICE_OFF, BOB, ADMIN_ALL, ADMIN_OWN, ADMIN_ALL_CREATES]


def ids(event_type: str, owner: str) -> list[str]:
    return [s.id for s in fanout.recipients(event_type, owner, EVERYONE)]


def test_an_owner_hears_about_their_own_people_only() -> None:
    assert ids(UPDATED, "alice") == ["ep_a1", "ep_r1"]
    assert ids(UPDATED, "bob") == ["ep_b1", "ep_r1"]


def test_the_events_filter_narrows_what_an_endpoint_gets() -> None:
    assert ids(DELETED, "alice") == ["ep_a1", "ep_a2", "ep_r1"]
    assert ids(CREATED, "carol") == ["ep_r1", "ep_r3"]


def test_a_disabled_endpoint_gets_nothing() -> None:
    assert "ep_a3" not in ids(CREATED, "alice")


def test_an_admin_endpoint_without_scope_all_is_like_anyone_elses() -> None:
    assert "ep_r2" not in ids(CREATED, "alice")
    assert "ep_r2" in ids(CREATED, "root")


def test_test_events_are_never_fanned_out() -> None:
    assert ids(fanout.TEST_TYPE, "alice") == []


def test_an_endpoint_listed_twice_gets_one_delivery() -> None:
    assert [s.id for s in fanout.recipients(CREATED, "alice", [ALICE_ALL, ALICE_ALL])] == ["ep_a1"]


def test_event_filters_accept_known_types_only() -> None:
    assert fanout.parse_events(None) is None
    assert fanout.parse_events([CREATED, CREATED]) == frozenset({CREATED})
    with pytest.raises(ValueError, match=r"people\.person\.renamed"):
        fanout.parse_events([CREATED, "people.person.renamed"])
    with pytest.raises(ValueError, match="omit it"):
        fanout.parse_events([])


def test_delivery_ids_are_stable_distinct_and_signable() -> None:
    first = fanout.delivery_id("01JEVENT", "ep_a1")
    assert first == fanout.delivery_id("01JEVENT", "ep_a1")
    assert first != fanout.delivery_id("01JEVENT", "ep_a2")
    assert first != fanout.delivery_id("01JEVENU", "ep_a1")
    assert fanout.delivery_id("a", "b\x00c") != fanout.delivery_id("a\x00b", "c")
    assert first.startswith("msg_") and len(first) == 30
    signing.sign(signing.generate_secret(), first, 1, b"{}")  # a valid webhook-id
