"""Twenty concurrent retries with one Idempotency-Key, each a separate request to the emulator.

Each thread stands for one Lambda invocation: the use case and PynamoDB adapter run for real,
and every retry sends its own TransactWriteItems over HTTP to the emulated DynamoDB.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import services
from chalicelib.errors import IdempotentRequestInFlight
from chalicelib.ports import Created

RETRIES = 20


def test_twenty_concurrent_retries_with_one_key_create_exactly_one_person(stack: Any) -> None:
    from chalicelib.wiring import people_repo

    repo = people_repo()
    caller = services.Caller(sub=f"retry-{uuid.uuid4()}")
    body = {"name": "Ada", "tags": ["x"]}
    start = threading.Barrier(RETRIES)

    def retry(_: int) -> Created | str:
        start.wait()
        try:
            return services.create_person_once(caller, body, "one-key", repo)
        except IdempotentRequestInFlight:
            return "in flight"

    with ThreadPoolExecutor(RETRIES) as pool:
        outcomes = list(pool.map(retry, range(RETRIES)))

    created = [o for o in outcomes if isinstance(o, Created)]
    assert sum(1 for o in created if not o.replayed) == 1
    assert len({o.person.id for o in created}) == 1
    assert all(o == "in flight" for o in outcomes if not isinstance(o, Created))
    stored = repo.list_by_owner(caller.sub, limit=100, after=None).items
    assert [p.id for p in stored] == [created[0].person.id]
