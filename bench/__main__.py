"""`make bench`: measure, then write bench/results.json and bench/RESULTS.md.

Sections (each module's docstring gives its method):
  1. bench/ddb_work.py   DynamoDB requests and capacity per API operation (emulator, real app)
  2. bench/coldstart.py  cold start vs a bare Chalice app and the floor (fresh processes)
  3. bench/warm.py       warm time per request vs the floor (Lambda entry point)
  4. bench/package.py    size of the zip `make package` builds (infra.deploy.chalice)
  5. bench/localstack.py throughput and write-to-history latency of the local stack
  6. bench/headers.py    the worst parse time of a hostile 1 KiB header
  7. bench/profile.py    where the time goes: importtime, cProfile, tracemalloc by package
Then bench/scale.py (pure arithmetic on these results) writes bench/SCALE.md and the README's
generated cost and scale tables.

Sections 2, 3 and 7 run their children on the Lambda runtime's Python (3.13) from the venv
`make bench` builds (.venv-bench313; bench/interpreter.py says how it is found); without one
they run on this interpreter and every figure says so. Goals are judged on the median of
paired ratios with a confidence interval (bench/stats.py): pass or fail only when the interval
is clear of the goal, otherwise "within noise".

Benchmarks are not tests: nothing here runs in `make test`. Times are medians, and each
ratio compares figures measured in the same run. A figure that cannot be measured yet is
listed with the reason (`report.pending`), never with a made-up number. To add one, add an
entry to the section's list (coldstart.COLD_STARTS with its floor in bench/apps/) or one
`measure(...)` line (ddb_work).

Profiling a cold start: `python -X importtime -m bench.cold_child TARGET` (with the
environment of `bench.canned.lambda_environment()`) lists every import with its cost;
compare it with the floor's target module by module.

Options: --quick (few repetitions: a smoke run, figures too noisy to quote),
--only NAME (repeatable: ddb, cold, warm, package, local), --save-baseline (also copy the
results to bench/baseline.json, the "before fixes" column of later runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import coldstart, ddb_work, headers, localstack, package, profile, scale, warm
from bench.interpreter import bench_python
from bench.report import Figure, pending, write

HERE = Path(__file__).resolve().parent
FULL = {
    "cold_rounds": 25,
    "warm_requests": 20_000,
    "warm_rounds": 40,
    "local_seconds": 10.0,
    "local_requests": 5_000,
    "history_writes": 40,
    "profile_requests": 2_000,
}
QUICK = {
    "cold_rounds": 6,
    "warm_requests": 1_200,
    "warm_rounds": 6,
    "local_seconds": 3.0,
    "local_requests": 1_000,
    "history_writes": 5,
    "profile_requests": 200,
}


def sections(p: dict[str, float]) -> dict[str, tuple[str, Callable[[], list[Figure]]]]:
    return {
        "ddb": (ddb_work.SECTION, ddb_work.run),
        "cold": (coldstart.SECTION, lambda: coldstart.run(int(p["cold_rounds"]))),
        "warm": (warm.SECTION, lambda: warm.run(int(p["warm_requests"]), int(p["warm_rounds"]))),
        "package": (package.SECTION, package.run),
        "headers": (headers.SECTION, headers.run),
        "local": (
            localstack.SECTION,
            lambda: localstack.run(p["local_seconds"], int(p["local_requests"]), int(p["history_writes"])),
        ),
        "profile": (profile.SECTION, lambda: profile.run(int(p["profile_requests"]))),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; figures are noisy")
    parser.add_argument("--only", action="append", choices=list(sections(FULL)), help="run only this section")
    parser.add_argument("--save-baseline", action="store_true", help="also write bench/baseline.json")
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite RESULTS.md and the tables from results.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads((HERE / "results.json").read_text())
        meta = {**saved["meta"], "section_notes": {profile.SECTION: profile.NOTES}}
        write([Figure(**f) for f in saved["figures"]], HERE, meta, HERE / "baseline.json")
        scale.write_all(readme=saved["meta"].get("mode") == "full" and not saved["meta"].get("only"))
        return 0
    params = QUICK if args.quick else FULL
    started = time.monotonic()
    figures: list[Figure] = []
    failed = []
    loads: list[float] = []
    for name, (title, run) in sections(params).items():
        if args.only and name not in args.only:
            continue
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        loads.append(os.getloadavg()[0])
        section_started = time.monotonic()
        try:
            figures += run()
        except Exception as exc:
            traceback.print_exc()
            failed.append(name)
            reason = f"the section failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            figures.append(pending(f"{name}.failed", title, "(whole section)", "—", reason))
        print(f"bench:   {time.monotonic() - section_started:.0f} s", file=sys.stderr, flush=True)
    loads.append(os.getloadavg()[0])
    meta = {
        # How busy the machine was (1-minute load average at each section's start and at the end):
        # a run on a loaded machine is not one to commit, however its intervals came out.
        "load": [round(x, 2) for x in loads],
        "children": bench_python().describe(),
        "section_notes": {profile.SECTION: profile.NOTES},
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "mode": "quick" if args.quick else "full",
        "only": args.only or [],
        "cpus": os.cpu_count(),
        "seconds": time.monotonic() - started,
        "params": params,
    }
    baseline = HERE / "baseline.json"
    write(figures, HERE, meta, None if args.save_baseline else baseline)
    if args.save_baseline:
        shutil.copyfile(HERE / "results.json", baseline)
    print(f"bench: wrote {HERE / 'RESULTS.md'} and results.json", file=sys.stderr)
    # Only a full run of every section is worth the README's tables.
    complete = not args.quick and not args.only
    scale.write_all(readme=complete)
    print("bench: wrote bench/SCALE.md" + (" and the README's tables" if complete else ""), file=sys.stderr)
    for figure in figures:
        print(f"  {figure.status:16} {figure.name}: {figure.shown}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
