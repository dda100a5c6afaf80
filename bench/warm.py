"""3. Warm overhead: time per request through `app(event, context)`, DynamoDB canned.

The child (`python -m bench.warm N`) imports app.py and the floor app in one process, warms
both up, then times N requests of each operation against each app, alternating blocks of
the two so that drift on a shared machine hits both alike.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import canned
from bench.canned import lambda_environment
from bench.common import child_environment, run_child
from bench.report import Figure, us, verdict

SECTION = "3. Warm overhead per request (Lambda entry point, DynamoDB canned)"
GOAL_RATIO = 1.5
BLOCKS = 10
OPERATIONS: list[tuple[str, str, Callable[[], dict[str, Any]], int]] = [
    ("warm.get_person", "GET /people/{id}", canned.get_person_event, 200),
    ("warm.create_person", "POST /people", canned.create_person_event, 201),
    ("warm.list_people", "GET /people (page of 50)", canned.list_people_event, 200),
]


def _time_block(handler: Any, event: dict[str, Any], context: Any, count: int, out: list[int]) -> None:
    clock = time.perf_counter_ns
    for _ in range(count):
        started = clock()
        handler(event, context)
        out.append(clock() - started)


def child(requests: int) -> dict[str, Any]:
    import app as module
    from bench.apps import floor

    canned.install()
    context = canned.LambdaContext()
    results: dict[str, Any] = {}
    for key, _, make_event, status in OPERATIONS:
        event = make_event()
        for name, handler in (("app", module.app), ("floor", floor.app)):
            response = handler(event, context)
            expected = status if name == "app" else 200
            if response["statusCode"] != expected:
                raise RuntimeError(
                    f"{name} {key} answered {response['statusCode']}: {response['body'][:300]}"
                )
            if key == "warm.list_people" and len(json.loads(response["body"])) != canned.PAGE_SIZE:
                raise RuntimeError(f"{name} {key} did not return a page of {canned.PAGE_SIZE}")
            _time_block(handler, event, context, 200, [])  # warm-up, untimed
        samples: dict[str, list[int]] = {"app": [], "floor": []}
        per_block = max(1, requests // BLOCKS)
        for block in range(BLOCKS):
            pair = [("app", module.app), ("floor", floor.app)]
            for name, handler in pair if block % 2 == 0 else reversed(pair):
                _time_block(handler, event, context, per_block, samples[name])
        results[key] = {
            name: {
                "median_s": sorted(s)[len(s) // 2] / 1e9,
                "p95_s": sorted(s)[int(len(s) * 0.95)] / 1e9,
                "requests": len(s),
            }
            for name, s in samples.items()
        }
    return results


def run(requests: int) -> list[Figure]:
    raw = run_child(["bench.warm", str(requests)], child_environment(lambda_environment()), timeout=900)
    figures = []
    for key, name, _, _ in OPERATIONS:
        ours, floor = raw[key]["app"], raw[key]["floor"]
        ratio = ours["median_s"] / floor["median_s"]
        figures.append(
            Figure(
                key,
                SECTION,
                name,
                ours["median_s"],
                "s",
                f"{us(ours['median_s'])} = {ratio:.2f} × floor (p95 {us(ours['p95_s'])})",
                f"floor (bare Chalice route, one raw botocore call): {us(floor['median_s'])} "
                f"(p95 {us(floor['p95_s'])}); {ours['requests']} requests each",
                f"≤ {GOAL_RATIO} × floor",
                verdict(ratio <= GOAL_RATIO),
                detail={"ratio": ratio, "ours": ours, "floor": floor},
            )
        )
    return figures


if __name__ == "__main__":
    print(json.dumps(child(int(sys.argv[1]))))
