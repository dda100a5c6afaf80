"""2. Cold start: a fresh process imports the handler and serves its first event.

Each target runs in its own fresh interpreter (bench/cold_child.py), interleaved round by
round with the references so drift on a shared machine hits all of them alike. One untimed
round first writes the bytecode caches, so every timed run sees the same disk state.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.canned import lambda_environment
from bench.common import child_environment, run_child
from bench.report import INFO, Figure, median, ms, pending, verdict

SECTION = "2. Cold start (first invocation in a fresh process, DynamoDB canned)"
GOAL_RATIO = 1.15
REFERENCES = ("floor_chalice_getitem", "bare_chalice")
# From `python -X importtime -m bench.cold_child api_get_person`, compared with the floor.
SHORT_BECAUSE = (
    "the gap over the floor is importing PynamoDB, msgspec and chalicelib (each needed by the first "
    "GET) before the same botocore client set-up the floor does; not fixed yet"
)


@dataclass(frozen=True)
class ColdStart:
    """A cold-start figure: a target in bench/cold_child.py, or why it cannot be measured yet."""

    key: str
    name: str
    target: str | None = None
    not_yet: str = ""


COLD_STARTS = [
    ColdStart("cold.api.get_person", "API: import app.py + first GET /people/{id}", "api_get_person"),
    ColdStart(
        "cold.stream_handler",
        "Stream handler: first DynamoDB stream batch",
        not_yet="the stream handler (issue 3) does not exist yet",
    ),
    ColdStart(
        "cold.sns_handler",
        "SNS handler: first SNS message",
        not_yet="the SNS handler (issue 3) does not exist yet",
    ),
]


def run(rounds: int) -> list[Figure]:
    env = child_environment(lambda_environment())
    targets = [c.target for c in COLD_STARTS if c.target] + list(REFERENCES)
    runs: dict[str, list[dict[str, float]]] = {t: [] for t in targets}
    for round_no in range(rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        for target in order:
            result = run_child(["bench.cold_child", target], env, timeout=120)
            if result["status"] != 200:
                raise RuntimeError(f"cold start {target} answered {result['status']}, not 200")
            if round_no:  # round 0 only warms the bytecode caches
                runs[target].append(result)

    def med(target: str, field: str) -> float:
        return median([r[field] for r in runs[target]])

    floor, bare = med(REFERENCES[0], "total_s"), med(REFERENCES[1], "total_s")
    floor_mb, bare_mb = med(REFERENCES[0], "maxrss_kb") / 1024, med(REFERENCES[1], "maxrss_kb") / 1024
    figures: list[Figure] = []
    for cold in COLD_STARTS:
        if cold.target is None:
            figures.append(pending(cold.key, SECTION, cold.name, f"≤ {GOAL_RATIO} × floor", cold.not_yet))
            figures.append(
                pending(cold.key + ".memory", SECTION, cold.name + ": peak memory", "reported", cold.not_yet)
            )
            continue
        total = med(cold.target, "total_s")
        ratio = total / floor
        figures.append(
            Figure(
                cold.key,
                SECTION,
                cold.name,
                total,
                "s",
                f"{ms(total)} = {ratio:.2f} × floor (import {ms(med(cold.target, 'import_s'))}, "
                f"first call {ms(med(cold.target, 'first_s'))})",
                f"floor (bare Chalice + botocore GetItem): {ms(floor)}; bare Chalice: {ms(bare)}",
                f"≤ {GOAL_RATIO} × floor",
                verdict(ratio <= GOAL_RATIO),
                "" if ratio <= GOAL_RATIO else SHORT_BECAUSE,
                detail={
                    "ratio": ratio,
                    "runs": len(runs[cold.target]),
                    "samples": runs[cold.target],
                    "floor_samples": runs[REFERENCES[0]],
                    "bare_samples": runs[REFERENCES[1]],
                },
            )
        )
        mb = med(cold.target, "maxrss_kb") / 1024
        figures.append(
            Figure(
                cold.key + ".memory",
                SECTION,
                cold.name + ": peak memory (ru_maxrss)",
                mb,
                "MiB",
                f"{mb:.1f} MiB = {mb / floor_mb:.2f} × floor",
                f"floor: {floor_mb:.1f} MiB; bare Chalice: {bare_mb:.1f} MiB",
                "reported (no goal set)",
                INFO,
            )
        )
    return figures
