"""1. DynamoDB work per API operation, counted over real calls to the emulator.

The child (`python -m bench.ddb_work`) starts a moto server on a free loopback port,
provisions it as `make run` does, and drives the real app through Chalice's test client with
real ID tokens from the emulated user pool. botocore event hooks on every DynamoDB client count
every API call (`before-call`), every HTTP request sent (`before-send`, so retries show) and
the capacity each response reports (`after-call`; every request asks for ReturnConsumedCapacity).

To add an operation, add one `measure(...)` line in `_drive()`. The history pages are
written by the real stream and SNS handlers, stepped by the local stack's pump
(devstack/pump.py) before the pages are measured.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.common import child_environment, run_child
from bench.report import Figure, verdict

SECTION = "1. DynamoDB work per API operation (real app, emulator)"
SINGLE_GOAL = "exactly 1 request, 0 Scans"
LIST_GOAL = "exactly 1 Query, 0 Scans"
HISTORY_WRITES = 5  # create + 4 patches: the history pages below hold 2, 2 and 1 entries


class Meter:
    """Counts the DynamoDB calls, HTTP sends and consumed capacity of every botocore client.

    The app uses more than one DynamoDB client (the plain-item client of `wiring`, PynamoDB's
    per model and its low-level connection for transactions), so the meter sits in botocore below
    them all: every API call and every HTTP attempt of any client passes through it.
    """

    def __init__(self) -> None:
        from botocore.client import BaseClient
        from botocore.endpoint import Endpoint

        self.calls: Counter[str] = Counter()
        self.sends = 0
        self.capacity = 0.0
        self.capacity_reported = False
        make_api_call: Any = BaseClient._make_api_call
        send: Any = Endpoint._send
        meter = self

        def metered_call(client: Any, operation: str, params: Any) -> Any:
            dynamodb = client.meta.service_model.service_name == "dynamodb"
            if dynamodb:
                meter.calls[operation] += 1
            parsed = make_api_call(client, operation, params)
            if dynamodb:
                meter._consumed(parsed)
            return parsed

        def metered_send(endpoint: Any, request: Any) -> Any:
            target = request.headers.get("X-Amz-Target", b"")
            if (target.decode() if isinstance(target, bytes) else str(target)).startswith("DynamoDB_"):
                meter.sends += 1
            return send(endpoint, request)

        BaseClient._make_api_call = metered_call  # type: ignore[method-assign]
        Endpoint._send = metered_send  # type: ignore[method-assign]

    def reset(self) -> None:
        self.calls.clear()
        self.sends, self.capacity, self.capacity_reported = 0, 0.0, False

    def _consumed(self, parsed: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") if isinstance(parsed, dict) else None
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.capacity += float(entry.get("CapacityUnits", 0))
            self.capacity_reported = True


def child() -> list[dict[str, Any]]:
    from devstack import stage_environment
    from devstack.background import free_port
    from devstack.emulator import start_emulator
    from devstack.provision import provision
    from devstack.tokens import id_token

    port = free_port()
    server = start_emulator(port)
    try:
        info = provision(f"http://127.0.0.1:{port}")
        os.environ.update({**stage_environment("local"), **info.app_environment()})
        return _drive(info, id_token)
    finally:
        server.stop()


def _drive(info: Any, id_token: Any) -> list[dict[str, Any]]:
    from chalice.test import Client

    import app as app_module
    from chalicelib import wiring
    from devstack import ROOT

    rows: list[dict[str, Any]] = []
    alice, bob = id_token(info, "bench-alice"), id_token(info, "bench-bob")
    with Client(app_module.app, stage_name="local", project_dir=str(ROOT)) as client:
        wiring.people_repo()
        meter = Meter()

        def call(method: str, path: str, token: str, body: Any = None, **headers: str) -> Any:
            headers = {"Authorization": f"Bearer {token}", **headers}
            if body is not None:
                headers.setdefault("Content-Type", "application/json")
            return getattr(client.http, method.lower())(
                path, headers=headers, body=json.dumps(body) if body is not None else b""
            )

        def measure(key: str, name: str, kind: str, status: int, *args: Any, **kw: Any) -> Any:
            meter.reset()
            response = call(*args, **kw)
            if response.status_code != status:
                raise RuntimeError(
                    f"{name}: expected {status}, got {response.status_code}: {response.body!r}"
                )
            rows.append(
                {
                    "key": key,
                    "name": name,
                    "kind": kind,
                    "status": status,
                    "calls": dict(meter.calls),
                    "sends": meter.sends,
                    "capacity": meter.capacity if meter.capacity_reported else None,
                }
            )
            return response

        person = {"name": "Ada Lovelace", "email": "ada@example.com", "tags": ["math"]}
        created = json.loads(
            measure(
                "ddb.create", "POST /people (create)", "single", 201, "POST", "/people", alice, person
            ).body
        )
        # Idempotency-Key: one TransactWriteItems (person + key record) per call, whatever the outcome.
        keyed = {"Idempotency-Key": '"bench-key-1"'}
        for key, name, status, body in (
            ("ddb.create.idempotent", "POST /people with Idempotency-Key (first)", 201, person),
            ("ddb.create.idempotent.replay", "POST /people with Idempotency-Key (replay)", 201, person),
            (
                "ddb.create.idempotent.reuse",
                "POST /people with Idempotency-Key (other body)",
                422,
                {**person, "name": "Other"},
            ),
        ):
            measure(key, name, "single", status, "POST", "/people", alice, body, **keyed)
        pid, missing = created["id"], "01JD8Z6Q3Y5V7W9X1A2B3C4D5E"
        url = f"/people/{pid}"
        measure("ddb.get", "GET /people/{id}", "single", 200, "GET", url, alice)
        measure(
            "ddb.get.404",
            "GET /people/{id}: 404 (no such id)",
            "single",
            404,
            "GET",
            f"/people/{missing}",
            alice,
        )
        measure(
            "ddb.get.404_other_owner",
            "GET /people/{id}: 404 (another user's)",
            "single",
            404,
            "GET",
            url,
            bob,
        )
        for i in range(54):
            call("POST", "/people", bob, {"name": f"Person {i}", "tags": ["bench"]})
        first = measure("ddb.list", "GET /people (page of 50)", "list", 200, "GET", "/people?limit=50", bob)
        next_url = header(first, "link").split(">", 1)[0].lstrip("<")
        measure("ddb.list.next", "GET /people: next page (cursor)", "list", 200, "GET", next_url, bob)
        # Search: the name index (prefix and sort=name) is written with the person.
        searches = [
            ("ddb.search.name", "GET /people?name=per (page of 50)", "/people?name=per&limit=50"),
            ("ddb.search.sorted", "GET /people?sort=name (page of 50)", "/people?sort=name&limit=50"),
        ]
        for key, name, path in searches:
            first = measure(key, name, "list", 200, "GET", path, bob)
            next_url = header(first, "link").split(">", 1)[0].lstrip("<")
            measure(
                f"{key}.next", f"{name.split(' (')[0]}: next page (cursor)", "list", 200, "GET", next_url, bob
            )

        # History: the real stream and SNS handlers record it, fed by the local stack's pump.
        hist = json.loads(call("POST", "/people", alice, person).body)["id"]
        for i in range(HISTORY_WRITES - 1):
            patched = call(
                "PATCH", f"/people/{hist}", alice, {"notes": f"change {i}"}, **{"Content-Type": MERGE_PATCH}
            )
            if patched.status_code != 200:
                raise RuntimeError(f"PATCH for the history answered {patched.status_code}: {patched.body!r}")
        _settle(info, lambda: history_count(hist) >= HISTORY_WRITES)
        first = measure(
            "ddb.history_page",
            "GET /people/{id}/history (page of 2)",
            "list",
            200,
            "GET",
            f"/people/{hist}/history?limit=2",
            alice,
        )
        next_url = header(first, "link").split(">", 1)[0].lstrip("<")
        measure(
            "ddb.history_page.next",
            "GET /people/{id}/history: next page (cursor)",
            "list",
            200,
            "GET",
            next_url,
            alice,
        )

        # Tag entries are written by the stream handler, which the pump has just run.
        _settle(info, lambda: len(json.loads(call("GET", "/people?tag=bench&limit=100", bob).body)) == 54)
        first = measure(
            "ddb.search.tag",
            "GET /people?tag=bench (page of 50)",
            "list",
            200,
            "GET",
            "/people?tag=bench&limit=50",
            bob,
        )
        next_url = header(first, "link").split(">", 1)[0].lstrip("<")
        measure(
            "ddb.search.tag.next",
            "GET /people?tag=bench: next page (cursor)",
            "list",
            200,
            "GET",
            next_url,
            bob,
        )

        def etag(response: Any) -> str:
            return header(response, "etag")

        stale = '"1"'
        r = measure(
            "ddb.put",
            "PUT /people/{id} without If-Match",
            "single",
            200,
            "PUT",
            url,
            alice,
            {**person, "name": "Ada King"},
        )
        r = measure(
            "ddb.put.if_match",
            "PUT /people/{id} with If-Match",
            "single",
            200,
            "PUT",
            url,
            alice,
            person,
            **{"If-Match": etag(r)},
        )
        measure(
            "ddb.put.412",
            "PUT /people/{id}: 412 (stale If-Match)",
            "single",
            412,
            "PUT",
            url,
            alice,
            person,
            **{"If-Match": stale},
        )
        measure(
            "ddb.put.404",
            "PUT /people/{id}: 404 (no such id)",
            "single",
            404,
            "PUT",
            f"/people/{missing}",
            alice,
            person,
        )
        patch = {"Content-Type": "application/merge-patch+json"}
        r = measure(
            "ddb.patch",
            "PATCH /people/{id} without If-Match",
            "single",
            200,
            "PATCH",
            url,
            alice,
            {"phone": "+1 555 0100"},
            **patch,
        )
        r = measure(
            "ddb.patch.if_match",
            "PATCH /people/{id} with If-Match",
            "single",
            200,
            "PATCH",
            url,
            alice,
            {"notes": None},
            **patch,
            **{"If-Match": etag(r)},
        )
        measure(
            "ddb.patch.empty",
            "PATCH /people/{id} with {} (changes nothing)",
            "single",
            200,
            "PATCH",
            url,
            alice,
            {},
            **patch,
        )
        measure(
            "ddb.patch.412",
            "PATCH /people/{id}: 412 (stale If-Match)",
            "single",
            412,
            "PATCH",
            url,
            alice,
            {"phone": None},
            **patch,
            **{"If-Match": stale},
        )
        measure(
            "ddb.patch.404",
            "PATCH /people/{id}: 404 (another user's)",
            "single",
            404,
            "PATCH",
            url,
            bob,
            {"phone": None},
            **patch,
        )
        measure(
            "ddb.delete.412",
            "DELETE /people/{id}: 412 (stale If-Match)",
            "single",
            412,
            "DELETE",
            url,
            alice,
            **{"If-Match": stale},
        )
        measure(
            "ddb.delete.if_match",
            "DELETE /people/{id} with If-Match",
            "single",
            200,
            "DELETE",
            url,
            alice,
            **{"If-Match": etag(r)},
        )
        other = json.loads(call("POST", "/people", alice, person).body)["id"]
        measure(
            "ddb.delete",
            "DELETE /people/{id} without If-Match",
            "single",
            200,
            "DELETE",
            f"/people/{other}",
            alice,
        )
        measure(
            "ddb.delete.404",
            "DELETE /people/{id}: 404 (already deleted)",
            "single",
            404,
            "DELETE",
            url,
            alice,
        )
    return rows


MERGE_PATCH = "application/merge-patch+json"


def history_count(person_id: str) -> int:
    from chalicelib.wiring import history_repo

    return len(history_repo().page(person_id, limit=100, before=None).items)


def _settle(info: Any, done: Callable[[], bool], timeout: float = 60) -> None:
    """Step the local stack's pump (stream -> stream handler -> SNS -> queue -> SNS handler)."""
    import time

    from devstack.pump import app_pump

    pump = app_pump(info)
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError("what the stream handler writes did not appear in time")
        pump.pump_stream()
        pump.pump_queue(wait_seconds=0)


def header(response: Any, name: str) -> str:
    return str(next(v for k, v in response.headers.items() if k.lower() == name))


def _figure(row: dict[str, Any]) -> Figure:
    calls: dict[str, int] = row["calls"]
    total = sum(calls.values())
    scans = calls.get("Scan", 0)
    if row["kind"] == "list":
        ok, goal, minimum = calls == {"Query": 1}, LIST_GOAL, "1 Query"
    else:
        ok, goal, minimum = total == 1 and scans == 0, SINGLE_GOAL, "1 request"
    ok = ok and row["sends"] == total
    shown = f"{total} ({', '.join(f'{n} {op}' for op, n in sorted(calls.items()))})"
    if row["capacity"] is not None:
        capacity = f"{row['capacity']:g} capacity units (as the emulator reports them)"
    elif "TransactWriteItems" in calls:
        # DynamoDB bills a transactional write at 2 WCU per KB per item: 4 WCU for person + key.
        capacity = "PynamoDB does not ask transactions for capacity"
    else:
        capacity = "no capacity in the error response"
    return Figure(
        row["key"],
        SECTION,
        f"{row['name']} → {row['status']}",
        float(total),
        "requests",
        f"{shown}; {capacity}",
        f"the least possible: {minimum}",
        goal,
        verdict(ok),
        detail=row,
    )


def run() -> list[Figure]:
    env = child_environment({})
    rows = run_child(["bench.ddb_work"], env, timeout=300)["rows"]
    figures = [_figure(row) for row in rows]
    scans = sum(row["calls"].get("Scan", 0) for row in rows)
    figures.append(
        Figure(
            "ddb.scans",
            SECTION,
            "Scans over all operations above",
            float(scans),
            "Scans",
            str(scans),
            "—",
            "0",
            verdict(scans == 0),
        )
    )
    return figures


if __name__ == "__main__":
    print(json.dumps({"rows": child()}))
    sys.exit(0)
