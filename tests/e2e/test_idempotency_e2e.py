"""Idempotency-Key over real HTTP against the local stack (`make run`), with a real pool token."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token
from tests.e2e.http import Reply, request

pytestmark = pytest.mark.e2e

RETRIES = 20


def test_twenty_concurrent_retries_over_http_create_one_person(local_stack: BackgroundStack) -> None:
    token = id_token(local_stack.info, f"retrier-{uuid.uuid4().hex[:8]}")
    start = threading.Barrier(RETRIES)
    body = {"name": "Ada", "email": "ada@example.com"}

    def post(_: int) -> Reply:
        start.wait()
        key = {"Idempotency-Key": '"e2e-1"'}
        # chalice local's listen backlog is 5, so some of twenty simultaneous connections are
        # reset: the client retries with the same key, which is what the key is for.
        for _attempt in range(10):
            try:
                return request(local_stack.api_url, "POST", "/people", token=token, body=body, headers=key)
            except ConnectionError:
                continue
        raise AssertionError("the local server kept resetting the connection")

    with ThreadPoolExecutor(RETRIES) as pool:
        replies = list(pool.map(post, range(RETRIES)))

    assert {r.status for r in replies} <= {201, 409}, [r.raw for r in replies if r.status not in (201, 409)]
    created = [r for r in replies if r.status == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) == 1
    assert len({r.headers["location"] for r in created}) == 1
    listing = request(local_stack.api_url, "GET", "/people", token=token)
    assert [p["id"] for p in listing.json()] == [created[0].json()["id"]]
