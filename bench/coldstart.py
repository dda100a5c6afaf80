"""2. Cold start: a fresh process imports the handler and serves its first event.

Each target runs in its own fresh interpreter (bench/cold_child.py), interleaved round by
round with the references so drift on a shared machine hits all of them alike. One untimed
round first writes the bytecode caches, so every timed run sees the same disk state.

The goal is judged on the child's CPU time (user + system), with the wall-clock time beside
it: on a shared machine other processes stretch wall-clock times unevenly (a cold start is
CPU-bound once the files are in the page cache), but they cannot add CPU time to ours.
Each target runs right beside its floor in every round, and the verdict is the median of the
rounds' paired ratios with its confidence interval (bench/stats.py): pass or fail only when
the interval is clear of the goal.

The children run on the Lambda runtime's Python (3.13) when `make bench` could build its venv
(bench/interpreter.py); the figures say which interpreter they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.canned import lambda_environment
from bench.common import child_environment, run_child
from bench.interpreter import Interpreter, bench_python
from bench.report import INFO, Figure, median, ms
from bench.stats import PASS, judge, median_ci, paired_ratios

SECTION = "2. Cold start (first invocation in a fresh process, DynamoDB canned)"
GOAL_RATIO = 1.10
BARE = "bare_chalice"


@dataclass(frozen=True)
class ColdStart:
    """A cold-start figure: a target in bench/cold_child.py beside its floor target."""

    key: str
    name: str
    target: str
    floor: str
    floor_name: str
    # Why the figure falls short of the goal, if it does (from profiling, see SHORT_BECAUSE).
    short_because: str


# Section 7 (bench/profile.py) measures this split by package on every run.
SHORT_BECAUSE = (
    "what remains over the floor is importing msgspec and chalicelib itself (no PynamoDB: the "
    "timed paths use plain attribute maps), split by package in section 7, and the first call's "
    "own work; the botocore client set-up is the floor's own"
)
# Profiled on python3.13 (2026-11-26): the webhook handlers create four botocore clients where
# their floors create two; every client, ours and the floor's, is made on a fresh botocore
# session that loads its data files again (about 50 ms each in a cold start).
WEBHOOKS_SHORT_BECAUSE = (
    "the webhook repository reads and writes through PynamoDB models: importing PynamoDB, and a "
    "botocore DynamoDB client per model class beside the history repository's plain client; the "
    "fan-out creates 3 DynamoDB clients and the SQS client where its floor creates one of each, "
    "the deliverer 2 DynamoDB clients, the KMS client and an SQS client it needs only for a retry, "
    "where its floor creates one DynamoDB and one KMS client"
)
COLD_STARTS = [
    ColdStart(
        "cold.api.get_person",
        "API: import app.py + first GET /people/{id}",
        "api_get_person",
        "floor_chalice_getitem",
        "floor (bare Chalice + botocore GetItem)",
        SHORT_BECAUSE,
    ),
    ColdStart(
        "cold.stream_handler",
        "Stream handler: import app.py + first DynamoDB stream batch (1 INSERT → 1 SNS Publish)",
        "stream_publish",
        "floor_stream_publish",
        "floor (bare Chalice stream handler + botocore SNS Publish)",
        SHORT_BECAUSE + "; the handler shares app.py, so it also imports the API's routes (Chalice "
        "registers every handler of the app at import)",
    ),
    ColdStart(
        "cold.sns_handler",
        "SNS handler: import app.py + first SNS message (1 history PutItem)",
        "sns_record",
        "floor_sns_putitem",
        "floor (bare Chalice SNS handler + botocore PutItem)",
        SHORT_BECAUSE,
    ),
    ColdStart(
        "cold.webhook_fan_out",
        "Webhook fan-out: import app.py + first SNS message to one endpoint "
        "(owner GetItem, 2 Query, 1 delivery PutItem, 1 SQS SendMessage)",
        "webhook_fan_out",
        "floor_webhook_fan_out",
        "floor (bare Chalice SNS handler + the same botocore requests)",
        WEBHOOKS_SHORT_BECAUSE,
    ),
    ColdStart(
        "cold.webhook_deliver",
        "Webhook deliverer: import app.py + first SQS message (delivery and endpoint GetItem, "
        "KMS Decrypt, 1 signed POST to a loopback receiver, 1 UpdateItem)",
        "webhook_deliver",
        "floor_webhook_deliver",
        "floor (bare Chalice SQS handler + the same botocore requests + http.client POST)",
        WEBHOOKS_SHORT_BECAUSE + "; the POST is plain HTTP to 127.0.0.1 on the local stage's "
        "loopback permission for both (a deployed stage's HTTPS to a public host adds a DNS lookup "
        "and a TLS handshake to both)",
    ),
]


def _gc(samples: list[dict[str, float]]) -> str:
    """The garbage collector's share: median time, and the full passes of a typical run."""
    full = median([s["gc_full_passes"] for s in samples])
    return f"GC {ms(median([s['gc_s'] for s in samples]))} ({full:g} full passes)"


def run(rounds: int, python: Interpreter | None = None) -> list[Figure]:
    python = python or bench_python()
    env = child_environment(lambda_environment())
    # Each target sits right beside its floor, so a round's pair is measured moments apart.
    targets = list(dict.fromkeys([t for c in COLD_STARTS for t in (c.target, c.floor)] + [BARE]))
    runs: dict[str, list[dict[str, float]]] = {t: [] for t in targets}
    for round_no in range(rounds + 1):
        order = targets if round_no % 2 else list(reversed(targets))
        for target in order:
            result = run_child(["bench.cold_child", target], env, timeout=120, python=python.executable)
            if result["status"] != 200:
                raise RuntimeError(f"cold start {target} answered {result['status']}, not 200")
            if round_no:  # round 0 only warms the bytecode caches
                runs[target].append(result)

    def med(target: str, field: str) -> float:
        return median([r[field] for r in runs[target]])

    bare, bare_mb = med(BARE, "total_s"), med(BARE, "maxrss_kb") / 1024
    figures: list[Figure] = []
    for cold in COLD_STARTS:
        floor, floor_mb = med(cold.floor, "total_s"), med(cold.floor, "maxrss_kb") / 1024
        floor_cpu, cpu = med(cold.floor, "cpu_total_s"), med(cold.target, "cpu_total_s")
        total = med(cold.target, "total_s")

        def paired(field: str, cold: ColdStart = cold) -> list[float]:
            return paired_ratios([r[field] for r in runs[cold.target]], [r[field] for r in runs[cold.floor]])

        cpu_ratio, wall_ratio = median_ci(paired("cpu_total_s")), median_ci(paired("total_s"))
        status = judge(cpu_ratio, GOAL_RATIO)
        figures.append(
            Figure(
                cold.key,
                SECTION,
                cold.name,
                cpu,
                "s",
                f"CPU {ms(cpu)} (import {ms(med(cold.target, 'cpu_import_s'))}, first call "
                f"{ms(med(cold.target, 'cpu_first_s'))}); paired ratio to the floor "
                f"{cpu_ratio.shown()}; wall {ms(total)}, paired ratio {wall_ratio.shown()}; "
                f"{_gc(runs[cold.target])}; {python.describe()}",
                f"{cold.floor_name}: CPU {ms(floor_cpu)}, wall {ms(floor)}, {_gc(runs[cold.floor])}; "
                f"bare Chalice, no AWS client: CPU {ms(med(BARE, 'cpu_total_s'))}, wall {ms(bare)}",
                f"≤ {GOAL_RATIO} × floor (CPU time; the interval must clear it)",
                status,
                "" if status == PASS else cold.short_because,
                detail={
                    "ratio": cpu_ratio.median,
                    "ratio_ci": [cpu_ratio.low, cpu_ratio.high, cpu_ratio.confidence],
                    "wall_ratio": wall_ratio.median,
                    "wall_ratio_ci": [wall_ratio.low, wall_ratio.high, wall_ratio.confidence],
                    "python": python.version,
                    "python_why": python.why,
                    "runs": len(runs[cold.target]),
                    "samples": runs[cold.target],
                    "floor_samples": runs[cold.floor],
                    "bare_samples": runs[BARE],
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
