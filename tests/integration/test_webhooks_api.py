"""The webhook routes through Chalice's test client, against the emulator (table, KMS, SQS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from devstack import ROOT
from devstack.provision import StackInfo, client
from tests.support import Api, assert_problem, body

URL = "https://hooks.example.com/in?token=abc"


def register(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.call("POST", "/webhooks", {"url": URL, **fields})
    assert response.status_code == 201, response.body
    return dict(body(response))


def field_errors(response: Any) -> dict[str, str]:
    problem = assert_problem(response, 422)
    return {e["field"]: e["message"] for e in problem["errors"]}


def test_registering_answers_201_with_the_secret_once(users: dict[str, Api]) -> None:
    alice = users["alice"]
    response = alice.call("POST", "/webhooks", {"url": URL, "description": "crm"})
    assert response.status_code == 201, response.body
    created = body(response)
    assert created["secret"].startswith("whsec_")
    assert response.headers["Location"] == f"/webhooks/{created['id']}"
    assert (
        created["url"],
        created["description"],
        created["events"],
        created["scope"],
        created["enabled"],
    ) == (
        URL,
        "crm",
        None,
        "own",
        True,
    )
    shown = body(alice.call("GET", f"/webhooks/{created['id']}"))
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    listed = body(alice.call("GET", "/webhooks"))
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]


def test_the_secret_is_stored_encrypted(users: dict[str, Api], stack: StackInfo) -> None:
    created = register(users["alice"])
    items = client("dynamodb", stack.endpoint).scan(TableName=stack.table_name)["Items"]
    (item,) = [i for i in items if i.get("id", {}).get("S") == created["id"] and "url" in i]
    raw = json.dumps(item)
    assert created["secret"] not in raw and created["secret"].removeprefix("whsec_") not in raw
    assert "whsec_" not in raw


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "http://hooks.example.com/in"}, "url"),  # plain http only to loopback receivers
        ({"url": "https://10.0.0.7/in"}, "url"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "https://[fd00:ec2::254]/"}, "url"),
        ({"url": "https://2130706433/"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/"}, "url"),
        ({"url": "ftp://hooks.example.com/"}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2000}, "url"),
        ({"url": 7}, "url"),
        ({}, "url"),
        ({"url": URL, "events": ["people.person.exploded"]}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": "people.person.created"}, "events"),
        ({"url": URL, "description": "x" * 501}, "description"),
        ({"url": URL, "scope": "all"}, "scope"),  # alice is not an admin
        ({"url": URL, "scope": "mine"}, "scope"),
        ({"url": URL, "secret": "whsec_mine"}, "secret"),
    ],
)
def test_bad_registrations_are_422_naming_the_field(
    users: dict[str, Api], payload: dict[str, Any], field: str
) -> None:
    assert field in field_errors(users["alice"].call("POST", "/webhooks", payload))


def test_every_bad_field_is_listed(users: dict[str, Api]) -> None:
    errors = field_errors(
        users["alice"].call("POST", "/webhooks", {"url": "http://x.example/", "events": []})
    )
    assert set(errors) == {"url", "events"}


def test_an_admin_may_register_for_everyones_events(users: dict[str, Api]) -> None:
    created = register(users["admin"], scope="all", events=["people.person.deleted"])
    assert (created["scope"], created["events"]) == ("all", ["people.person.deleted"])


def test_a_loopback_receiver_is_accepted_on_the_local_stage(users: dict[str, Api]) -> None:
    created = register(users["alice"], url="http://127.0.0.1:8787/hooks")
    assert created["url"] == "http://127.0.0.1:8787/hooks"


def test_other_users_endpoints_are_not_found(users: dict[str, Api]) -> None:
    created = register(users["alice"])
    bob = users["bob"]
    path = f"/webhooks/{created['id']}"
    for method, suffix, payload in (
        ("GET", "", None),
        ("PATCH", "", {"enabled": False}),
        ("DELETE", "", None),
        ("POST", "/secret", None),
        ("POST", "/test", None),
        ("GET", "/deliveries", None),
    ):
        assert_problem(bob.call(method, path + suffix, payload), 404)
    assert body(bob.call("GET", "/webhooks")) == []
    assert body(users["alice"].call("GET", path))["enabled"] is True


def test_an_id_that_cannot_be_one_is_not_found(users: dict[str, Api]) -> None:
    assert_problem(users["alice"].call("GET", "/webhooks/not-an-id"), 404)
    assert_problem(users["alice"].call("GET", "/webhooks/01JD0000000000000000000000"), 404)


def test_the_eleventh_endpoint_is_409_until_one_is_deleted(users: dict[str, Api]) -> None:
    alice = users["alice"]
    ids = [register(alice)["id"] for _ in range(10)]
    problem = assert_problem(alice.call("POST", "/webhooks", {"url": URL}), 409)
    assert "10" in problem["detail"]
    assert alice.call("DELETE", f"/webhooks/{ids[0]}").status_code == 200
    register(alice)
    register(users["bob"])  # the limit is per user


def test_listing_pages_with_a_link_and_cursors_are_bound_to_the_user(users: dict[str, Api]) -> None:
    alice = users["alice"]
    ids = [register(alice)["id"] for _ in range(3)]
    first = alice.call("GET", "/webhooks?limit=2")
    assert [e["id"] for e in body(first)] == ids[:2]
    link = first.headers["Link"]
    next_path = link[link.index("<") + 1 : link.index(">")]
    assert next_path.startswith("/webhooks?")
    assert [e["id"] for e in body(alice.call("GET", next_path))] == ids[2:]
    assert "Link" not in alice.call("GET", next_path).headers
    assert_problem(users["bob"].call("GET", next_path), 400)


def test_patch_changes_the_fields_and_validates_them(users: dict[str, Api]) -> None:
    alice = users["alice"]
    created = register(alice, events=["people.person.created"])
    path = f"/webhooks/{created['id']}"
    response = alice.call(
        "PATCH",
        path,
        {"url": "https://other.example.com/h", "events": None, "description": "new", "enabled": False},
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 200, response.body
    changed = body(response)
    assert (changed["url"], changed["events"], changed["description"], changed["enabled"]) == (
        "https://other.example.com/h",
        None,
        "new",
        False,
    )
    assert changed["updated_at"] >= created["updated_at"] and "secret" not in changed
    assert body(alice.call("GET", path)) == changed
    assert set(field_errors(alice.call("PATCH", path, {"enabled": "yes", "url": "https://10.1.2.3/"}))) == {
        "enabled",
        "url",
    }
    assert "scope" in field_errors(alice.call("PATCH", path, {"scope": "own"}))
    assert body(alice.call("PATCH", path, {})) == changed
    assert_problem(alice.call("PATCH", path, raw=b"[1]"), 422)


def test_delete_answers_an_empty_object_then_404(users: dict[str, Api]) -> None:
    alice = users["alice"]
    path = f"/webhooks/{register(alice)['id']}"
    response = alice.call("DELETE", path)
    assert (response.status_code, body(response)) == (200, {})
    assert_problem(alice.call("GET", path), 404)
    assert_problem(alice.call("DELETE", path), 404)


def test_rotating_returns_a_new_secret_once_and_keeps_the_old_one_for_a_day(users: dict[str, Api]) -> None:
    alice = users["alice"]
    created = register(alice)
    response = alice.call("POST", f"/webhooks/{created['id']}/secret")
    assert response.status_code == 200, response.body
    rotated = body(response)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    ends = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert ends - datetime.fromisoformat(rotated["updated_at"]) == timedelta(hours=24)
    assert "secret" not in body(alice.call("GET", f"/webhooks/{created['id']}"))


def test_a_test_event_is_queued_and_listed_in_the_deliveries(users: dict[str, Api], stack: StackInfo) -> None:
    alice = users["alice"]
    created = register(alice)
    response = alice.call("POST", f"/webhooks/{created['id']}/test")
    assert response.status_code == 202, response.body
    delivery_id = body(response)["delivery_id"]
    assert delivery_id.startswith("msg_")
    (listed,) = body(alice.call("GET", f"/webhooks/{created['id']}/deliveries"))
    assert (listed["id"], listed["event_type"], listed["state"], listed["attempts"]) == (
        delivery_id,
        "webhook.test",
        "pending",
        [],
    )
    sqs = client("sqs", stack.endpoint)
    seen = []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=stack.delivery_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        seen += [json.loads(m["Body"]) for m in messages]
        if any(m["endpoint_id"] == created["id"] for m in seen):
            break
    assert any(m["endpoint_id"] == created["id"] and m["attempt"] == 1 for m in seen)


def test_deliveries_page_newest_first(users: dict[str, Api]) -> None:
    alice = users["alice"]
    created = register(alice)
    sent = [body(alice.call("POST", f"/webhooks/{created['id']}/test"))["delivery_id"] for _ in range(3)]
    path = f"/webhooks/{created['id']}/deliveries"
    first = alice.call("GET", f"{path}?limit=2")
    link = first.headers["Link"]
    second = alice.call("GET", link[link.index("<") + 1 : link.index(">")])
    assert [d["id"] for d in body(first) + body(second)] == sent[::-1]


def test_webhook_code_is_not_imported_on_a_cold_start(stack: StackInfo) -> None:
    probe = (
        "import sys, app; print(sorted(m for m in sys.modules if 'webhooks' in m or m.endswith('outbound')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=dict(os.environ), capture_output=True, check=True
    )
    assert result.stdout.strip() == b"[]"
