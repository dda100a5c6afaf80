"""`make bench`: measure, then write bench/results.json and bench/RESULTS.md.

Sections (each module's docstring gives its method):
  1. bench/ddb_work.py   DynamoDB requests and capacity per API operation (emulator, real app)
  2. bench/coldstart.py  cold start vs a bare Chalice app and the floor (fresh processes)
  3. bench/warm.py       warm time per request vs the floor (Lambda entry point)
  4. bench/package.py    size of the zip `make package` builds (infra.deploy.chalice)
  5. bench/localstack.py throughput and write-to-history latency of the local stack
  6. bench/headers.py    the worst parse time of a hostile 1 KiB header

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
import os
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import coldstart, ddb_work, headers, localstack, package, warm
from bench.report import Figure, pending, write

HERE = Path(__file__).resolve().parent
FULL = {
    "cold_rounds": 11,
    "warm_requests": 20_000,
    "local_seconds": 10.0,
    "local_requests": 5_000,
    "history_writes": 40,
}
QUICK = {
    "cold_rounds": 3,
    "warm_requests": 1_000,
    "local_seconds": 3.0,
    "local_requests": 1_000,
    "history_writes": 5,
}


def sections(p: dict[str, float]) -> dict[str, tuple[str, Callable[[], list[Figure]]]]:
    return {
        "ddb": (ddb_work.SECTION, ddb_work.run),
        "cold": (coldstart.SECTION, lambda: coldstart.run(int(p["cold_rounds"]))),
        "warm": (warm.SECTION, lambda: warm.run(int(p["warm_requests"]))),
        "package": (package.SECTION, package.run),
        "headers": (headers.SECTION, headers.run),
        "local": (
            localstack.SECTION,
            lambda: localstack.run(p["local_seconds"], int(p["local_requests"]), int(p["history_writes"])),
        ),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; figures are noisy")
    parser.add_argument("--only", action="append", choices=list(sections(FULL)), help="run only this section")
    parser.add_argument("--save-baseline", action="store_true", help="also write bench/baseline.json")
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL
    started = time.monotonic()
    figures: list[Figure] = []
    failed = []
    for name, (title, run) in sections(params).items():
        if args.only and name not in args.only:
            continue
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        section_started = time.monotonic()
        try:
            figures += run()
        except Exception as exc:
            traceback.print_exc()
            failed.append(name)
            reason = f"the section failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            figures.append(pending(f"{name}.failed", title, "(whole section)", "—", reason))
        print(f"bench:   {time.monotonic() - section_started:.0f} s", file=sys.stderr, flush=True)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "mode": "quick" if args.quick else "full",
        "cpus": os.cpu_count(),
        "seconds": time.monotonic() - started,
        "params": params,
    }
    baseline = HERE / "baseline.json"
    write(figures, HERE, meta, None if args.save_baseline else baseline)
    if args.save_baseline:
        shutil.copyfile(HERE / "results.json", baseline)
    print(f"bench: wrote {HERE / 'RESULTS.md'} and results.json", file=sys.stderr)
    for figure in figures:
        print(f"  {figure.status:16} {figure.name}: {figure.shown}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
