"""The whole pipeline under the local stack: `python -m devstack run`, real tokens, plain HTTP.

The stack runs as a subprocess on free loopback ports with its own state file, exactly as
`make run` starts it; the test only speaks HTTP to the API and, like any other subscriber
would, reads the emulator's SNS topic through its own queue.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack import background
from devstack.background import BackgroundStack
from devstack.provision import StackInfo, client, subscribe_queue
from devstack.tokens import id_token

pytestmark = pytest.mark.e2e


class LocalStack:
    """The running stack, with the few HTTP calls these tests make."""

    def __init__(self, stack: BackgroundStack) -> None:
        self.proc = stack.process
        self.state_path = stack.state_path
        self.api_url = stack.api_url
        self.info = stack.info

    def token(self, user: str, group: str | None = None) -> str:
        return id_token(self.info, user, group)

    def call(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
            request.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), dict(error.headers)

    def history(self, person_id: str, token: str) -> list[dict[str, Any]]:
        """Every entry, following the Link header page by page."""
        entries: list[dict[str, Any]] = []
        path = f"/people/{person_id}/history?limit=100"
        while path:
            status, page, headers = self.call("GET", path, token)
            assert status == 200, page
            entries.extend(page)
            link = headers.get("Link")
            path = link[1 : link.index(">")] if link else ""
        return entries


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = background.start(tmp_path_factory.mktemp("devstack"))
    try:
        yield LocalStack(stack)
    finally:
        background.stop(stack)


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    """Poll `check`; the deadline only keeps a broken pipeline from hanging the run."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "history did not arrive"
        time.sleep(0.05)


def test_history_follows_create_patch_put_and_delete_with_the_right_actor(local_stack: LocalStack) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, admin = local_stack.token(f"e2e-owner-{tag}"), local_stack.token("root", "admins")
    stranger = local_stack.token(f"e2e-stranger-{tag}")
    owner_sub = local_stack.call("POST", "/people", owner, {"name": "Probe"})[1]["owner"]
    status, person, _ = local_stack.call("POST", "/people", owner, {"name": "Ada", "tags": ["a"]})
    assert status == 201
    pid = person["id"]

    def entries_reach(n: int) -> Callable[[], bool]:
        return lambda: len(local_stack.history(pid, owner)) == n

    eventually(entries_reach(1))
    assert local_stack.call("PATCH", f"/people/{pid}", admin, {"email": "ada@example.com"})[0] == 200
    eventually(entries_reach(2))
    assert local_stack.call("PUT", f"/people/{pid}", owner, {"name": "Ada L"})[0] == 200
    eventually(entries_reach(3))
    assert local_stack.call("DELETE", f"/people/{pid}", admin)[0] == 200
    eventually(entries_reach(4))

    history = local_stack.history(pid, owner)
    admin_sub = history[0]["actor"]
    assert admin_sub != owner_sub
    assert [(e["type"], e["actor"], e["changed_fields"]) for e in history] == [
        ("people.person.deleted", admin_sub, ["name"]),
        ("people.person.updated", owner_sub, ["name", "email", "tags"]),
        ("people.person.updated", admin_sub, ["email"]),
        ("people.person.created", owner_sub, ["name", "tags"]),
    ]
    assert local_stack.call("GET", f"/people/{pid}", owner)[0] == 404  # deleted ...
    assert local_stack.history(pid, admin) == history  # ... yet its history stays readable
    assert local_stack.call("GET", f"/people/{pid}/history", stranger)[0] == 404


def _audit_queue(info: StackInfo) -> str:
    sqs = client("sqs", info.endpoint)
    url = str(sqs.create_queue(QueueName=f"audit-{uuid.uuid4().hex[:8]}")["QueueUrl"])
    subscribe_queue(info.endpoint, info.topic_arn, url)
    return url


def _drain(info: StackInfo, url: str, into: list[dict[str, Any]]) -> None:
    sqs = client("sqs", info.endpoint)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            into.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_publishing_outage_loses_no_event(local_stack: LocalStack) -> None:
    info = local_stack.info
    sns = client("sns", info.endpoint)
    owner = local_stack.token(f"e2e-outage-{uuid.uuid4().hex[:8]}")
    pid = local_stack.call("POST", "/people", owner, {"name": "Before"})[1]["id"]
    eventually(lambda: len(local_stack.history(pid, owner)) == 1)
    sns.delete_topic(TopicArn=info.topic_arn)  # every publish now fails: the whole batch
    try:
        for n in range(3):
            assert local_stack.call("PATCH", f"/people/{pid}", owner, {"notes": f"during {n}"})[0] == 200
        time.sleep(1)  # let the pump fail and retry a few times
        assert len(local_stack.history(pid, owner)) == 1
    finally:
        sns.create_topic(Name=info.topic_arn.rsplit(":", 1)[-1])
        subscribe_queue(info.endpoint, info.topic_arn, info.queue_url)
    eventually(lambda: len(local_stack.history(pid, owner)) == 4)
    notes = [(e["after"] or {}).get("notes") for e in local_stack.history(pid, owner)]
    assert notes == ["during 2", "during 1", "during 0", None]


def test_two_hundred_interleaved_writes_make_exactly_two_hundred_events_and_entries(
    local_stack: LocalStack,
) -> None:
    info = local_stack.info
    audit = _audit_queue(info)
    tag = uuid.uuid4().hex[:8]
    tokens = [local_stack.token(f"e2e-busy-{tag}-{n}") for n in range(2)]
    people: dict[int, list[str]] = {0: [], 1: []}
    errors: list[Any] = []

    def writer(n: int) -> None:
        token = tokens[n]
        for i in range(100):
            if i < 5:
                status, body, _ = local_stack.call("POST", "/people", token, {"name": f"U{n} P{i}"})
                people[n].append(body["id"])
            else:
                pid = people[n][i % 5]
                status, body, _ = local_stack.call("PATCH", f"/people/{pid}", token, {"notes": f"w{i}"})
            if status not in (200, 201):
                errors.append(body)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = {pid: tokens[n] for n in people for pid in people[n]}

    def history_total() -> int:
        return sum(len(local_stack.history(pid, token)) for pid, token in ids.items())

    eventually(lambda: history_total() >= 200, timeout=60)
    published: list[dict[str, Any]] = []
    eventually(lambda: _drain(info, audit, published) or sum(e["subject"] in ids for e in published) >= 200)
    time.sleep(0.5)  # anything doubled would arrive now
    _drain(info, audit, published)
    mine = [e for e in published if e["subject"] in ids]
    assert len(mine) == 200
    assert len({e["id"] for e in mine}) == 200
    assert history_total() == 200
    for pid, token in ids.items():
        versions = [e["after"]["version"] for e in local_stack.history(pid, token)]
        assert versions == list(range(len(versions), 0, -1))


def test_ctrl_c_stops_the_whole_stack(local_stack: LocalStack) -> None:
    local_stack.proc.send_signal(signal.SIGINT)
    assert local_stack.proc.wait(timeout=30) == 0
    assert not local_stack.state_path.exists()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{local_stack.api_url}/health", timeout=2)
