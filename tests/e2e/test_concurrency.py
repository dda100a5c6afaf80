"""Concurrent writes to one person over HTTP: the conditional UpdateItem is the only referee."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devstack.background import BackgroundStack
from devstack.tokens import id_token
from tests.e2e.http import Reply, request

pytestmark = pytest.mark.e2e

WRITERS = 50


def _race(
    local_stack: BackgroundStack, token: str, path: str, patches: list[tuple[dict[str, Any], str | None]]
) -> list[Reply]:
    """Send every patch at once (a barrier releases them together) and collect the replies."""
    barrier = threading.Barrier(len(patches))

    def send(patch: tuple[dict[str, Any], str | None]) -> Reply:
        body, if_match = patch
        headers = {"Content-Type": "application/merge-patch+json"}
        if if_match is not None:
            headers["If-Match"] = if_match
        barrier.wait()
        return request(local_stack.api_url, "PATCH", path, token=token, body=body, headers=headers)

    with ThreadPoolExecutor(max_workers=len(patches)) as pool:
        return list(pool.map(send, patches))


@pytest.fixture
def person(local_stack: BackgroundStack) -> Callable[[], tuple[str, str]]:
    def make() -> tuple[str, str]:
        token = id_token(local_stack.info, f"racer-{uuid.uuid4().hex[:8]}")
        created = request(local_stack.api_url, "POST", "/people", token=token, body={"name": "Ada"})
        assert created.status == 201
        return token, f"/people/{created.json()['id']}"

    return make


def test_fifty_patches_with_the_same_if_match_let_exactly_one_through(
    local_stack: BackgroundStack, person: Callable[[], tuple[str, str]]
) -> None:
    token, path = person()
    patches = [({"notes": f"writer {i}"}, '"1"') for i in range(WRITERS)]
    replies = _race(local_stack, token, path, patches)
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] + [412] * (WRITERS - 1), statuses
    winner = next(reply.json() for reply in replies if reply.status == 200)
    assert all(r.headers["content-type"] == "application/problem+json" for r in replies if r.status == 412)
    current = request(local_stack.api_url, "GET", path, token=token).json()
    assert current == winner and current["version"] == 2


def test_fifty_unconditional_patches_all_apply_each_one_whole(
    local_stack: BackgroundStack, person: Callable[[], tuple[str, str]]
) -> None:
    token, path = person()
    # Each patch writes several fields that name it, so a half-applied or interleaved patch shows.
    patches: list[tuple[dict[str, Any], str | None]] = [
        ({"notes": f"writer {i}", "phone": f"+1 {i:04d}", "tags": [f"w{i}", f"t{i}"]}, None)
        for i in range(WRITERS)
    ]
    replies = _race(local_stack, token, path, patches)
    assert [reply.status for reply in replies] == [200] * WRITERS, [
        r.raw[:200] for r in replies if r.status != 200
    ]
    seen_versions = set()
    for i, reply in enumerate(replies):
        body = reply.json()
        # The response is the person right after this patch: all of it, none of another's.
        assert (body["notes"], body["phone"], body["tags"]) == (
            f"writer {i}",
            f"+1 {i:04d}",
            [f"w{i}", f"t{i}"],
        )
        assert reply.headers["etag"] == f'"{body["version"]}"'
        seen_versions.add(body["version"])
    assert seen_versions == set(range(2, WRITERS + 2)), "two patches got the same version"
    final = request(local_stack.api_url, "GET", path, token=token).json()
    assert final["version"] == WRITERS + 1
    last = next(reply.json() for reply in replies if reply.json()["version"] == WRITERS + 1)
    assert final == last
