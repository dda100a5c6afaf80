"""3. Warm overhead: time per request through `app(event, context)`, DynamoDB canned.

The child (`python -m bench.warm N ROUNDS`) imports app.py and the floor app in one process,
warms both up, then times N requests of each operation against each app in ROUNDS rounds:
each round times a block of ours and a block of the floor back to back (alternating which goes
first), so drift on a shared machine hits both sides of a round alike. A round's paired ratio
is the median of our block over the median of the floor's; the verdict is the median of the
rounds' ratios with its confidence interval (bench/stats.py), pass or fail only when the
interval is clear of the goal. The child runs on the Lambda runtime's Python when `make bench`
built its venv (bench/interpreter.py).
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
from bench.interpreter import Interpreter, bench_python
from bench.report import Figure, us
from bench.stats import judge, median_ci, paired_ratios

SECTION = "3. Warm overhead per request (Lambda entry point, DynamoDB canned)"
GOAL_RATIO = 1.25
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


def _median(samples: list[int]) -> float:
    return sorted(samples)[len(samples) // 2] / 1e9


def child(requests: int, rounds: int) -> dict[str, Any]:
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
        round_medians: dict[str, list[float]] = {"app": [], "floor": []}
        per_round = max(1, requests // rounds)
        for round_no in range(rounds):
            pair = [("app", module.app), ("floor", floor.app)]
            for name, handler in pair if round_no % 2 == 0 else reversed(pair):
                block: list[int] = []
                _time_block(handler, event, context, per_round, block)
                samples[name] += block
                round_medians[name].append(_median(block))
        results[key] = {
            name: {
                "median_s": _median(s),
                "p95_s": sorted(s)[int(len(s) * 0.95)] / 1e9,
                "requests": len(s),
                "round_medians_s": round_medians[name],
            }
            for name, s in samples.items()
        }
    return results


def run(requests: int, rounds: int, python: Interpreter | None = None) -> list[Figure]:
    python = python or bench_python()
    raw = run_child(
        ["bench.warm", str(requests), str(rounds)],
        child_environment(lambda_environment()),
        timeout=900,
        python=python.executable,
    )
    figures = []
    for key, name, _, _ in OPERATIONS:
        ours, floor = raw[key]["app"], raw[key]["floor"]
        ratio = median_ci(paired_ratios(ours["round_medians_s"], floor["round_medians_s"]))
        figures.append(
            Figure(
                key,
                SECTION,
                name,
                ours["median_s"],
                "s",
                f"{us(ours['median_s'])} (p95 {us(ours['p95_s'])}); paired ratio to the floor "
                f"{ratio.shown()} over rounds of {ours['requests'] // rounds}; {python.describe()}",
                f"floor (bare Chalice route, one raw botocore call): {us(floor['median_s'])} "
                f"(p95 {us(floor['p95_s'])}); {ours['requests']} requests each",
                f"≤ {GOAL_RATIO} × floor (the interval must clear it)",
                judge(ratio, GOAL_RATIO),
                detail={
                    "ratio": ratio.median,
                    "ratio_ci": [ratio.low, ratio.high, ratio.confidence],
                    "python": python.version,
                    "python_why": python.why,
                    "ours": ours,
                    "floor": floor,
                },
            )
        )
    return figures


if __name__ == "__main__":
    print(json.dumps(child(int(sys.argv[1]), int(sys.argv[2]))))
