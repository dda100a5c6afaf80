"""7. Where the time goes: the cold start and the warm paths, split by package.

Three public tools, on the interpreter the cold-start and warm children use (python3.13 when
`make bench` built its venv):

- `python -X importtime -m bench.cold_child TARGET`, run IMPORT_RUNS times for the API and for
  its floor: the median self time of every import, summed by top-level package, so what the
  API imports beyond the floor stands out (importtime adds its own overhead: compare columns,
  not against the cold-start table);
- cProfile around the whole cold start (import + first call) of the API, and around N warm
  requests of each operation: self time (tottime) summed by package, and the costliest
  functions (cProfile slows code with many small calls more than code in C: read shares,
  not absolute times);
- tracemalloc: what the cold start leaves allocated, by package, and the peak allocated
  during one warm request.

The children are `python -m bench.profile cold` and `python -m bench.profile warm N`, in the
environment of `bench.canned.lambda_environment()`, as in sections 2 and 3.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import re
import statistics
import subprocess
import sys
import sysconfig
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.canned import lambda_environment
from bench.common import ROOT, child_environment, run_child
from bench.interpreter import Interpreter, bench_python
from bench.report import INFO, Figure

SECTION = "7. Where the time goes (profiles, for the next round of cuts)"
IMPORT_RUNS = 5
COLD_RUNS = 3
TOP = 6
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")


_BUILTIN = re.compile(r"<built-in method ([\w.]+)>|<method '\w+' of '([\w.]+)' objects>")
_IMPORT_MACHINERY = {"marshal", "_imp", "posix", "nt", "_io", "io", "_frozen_importlib", "_thread"}


def package_of(filename: str, function: str = "") -> str:
    """The top-level package a profiled function belongs to (C functions by their module)."""
    if filename.startswith("<frozen "):  # frozen stdlib modules: importlib, collections.abc, ...
        module = filename.removeprefix("<frozen ").removesuffix(">")
        if module.startswith(("importlib", "zipimport")):
            return "import machinery"
        return f"stdlib {module.lstrip('_')}"
    if filename == "~" or filename.startswith("<"):
        found = _BUILTIN.fullmatch(function)
        dotted = (found.group(1) or found.group(2)) if found else ""
        module = dotted.split(".")[0] if "." in dotted else "builtins"
        if module in _IMPORT_MACHINERY:
            return "import machinery"
        return f"{module.lstrip('_')} (C)"
    found = _SITE.search(filename)
    if found:
        name = found.group(1)
        return name.removesuffix(".py").split(".")[0]
    path = Path(filename)
    try:
        relative = path.resolve().relative_to(ROOT)
        return relative.parts[0].removesuffix(".py")
    except ValueError:
        pass
    if "python3" in filename or str(_STDLIB) in filename:
        return f"stdlib {path.stem if path.parent.name.startswith('python3') else path.parent.name}"
    return "other"


def _by_package(profile: cProfile.Profile, calls: int) -> tuple[dict[str, float], list[list[Any]]]:
    """Self time per package (seconds per call of the profiled code), and the top functions."""
    stats = pstats.Stats(profile)
    per_package: Counter[str] = Counter()
    functions = []
    for (filename, line, name), (_, ncalls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        package = package_of(filename, name)
        per_package[package] += tottime / calls
        where = f"{Path(filename).name}:{line}" if filename != "~" else ""
        functions.append([f"{package}: {name} {where}".strip(), tottime / calls, ncalls / calls])
    functions.sort(key=lambda f: -f[1])
    return dict(per_package.most_common()), functions[:TOP]


def _memory_by_package(snapshot: tracemalloc.Snapshot) -> dict[str, int]:
    sizes: Counter[str] = Counter()
    for stat in snapshot.statistics("filename"):
        sizes[package_of(stat.traceback[0].filename)] += stat.size
    return dict(sizes.most_common())


def child_cold(target: str, memory: bool) -> dict[str, Any]:
    """cProfile, or else tracemalloc, around one whole cold start of the API (import + first GET).

    Not both in one process: tracemalloc slows every allocation and would skew the profile.
    """
    from bench import cold_child

    cold_child.prepare(target)
    if memory:
        tracemalloc.start()
        _, status = cold_child.TARGETS[target]()
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        return {"status": status, "memory": _memory_by_package(snapshot)}
    profile = cProfile.Profile()
    profile.enable()
    _, status = cold_child.TARGETS[target]()
    profile.disable()
    packages, top = _by_package(profile, 1)
    return {"status": status, "packages": packages, "top": top}


def child_warm(requests: int) -> dict[str, Any]:
    """cProfile over `requests` warm requests of each operation, ours and the floor's; and the
    tracemalloc peak of one request of ours."""
    import app as module
    from bench import canned
    from bench.apps import floor
    from bench.warm import OPERATIONS

    canned.install()
    context = canned.LambdaContext()
    out: dict[str, Any] = {}
    for key, _, make_event, status in OPERATIONS:
        event = make_event()
        result: dict[str, Any] = {}
        for name, handler, expected in (("ours", module.app, status), ("floor", floor.app, 200)):
            for _ in range(200):  # warm-up, unprofiled
                response = handler(event, context)
            if response["statusCode"] != expected:
                raise RuntimeError(f"{name} {key} answered {response['statusCode']}")
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(requests):
                handler(event, context)
            profile.disable()
            packages, top = _by_package(profile, requests)
            result[name] = {"packages": packages, "top": top}
        tracemalloc.start()
        module.app(event, context)  # the first traced call allocates tracemalloc's own tables
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        module.app(event, context)
        result["peak_bytes"] = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        out[key] = result
    return out


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")


def import_times(python: Interpreter, target: str, runs: int) -> dict[str, float]:
    """Median self time (seconds) of each module's import over `runs` fresh processes."""
    env = child_environment(lambda_environment())
    samples: dict[str, list[float]] = defaultdict(list)
    for run in range(runs):
        proc = subprocess.run(
            [python.executable, "-X", "importtime", "-m", "bench.cold_child", target],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        totals = {m.group(2): int(m.group(1)) / 1e6 for m in _IMPORT_LINE.finditer(proc.stderr)}
        for module in set(totals) | set(samples):
            samples[module] += [0.0] * (run - len(samples[module])) + [totals.get(module, 0.0)]
    return {module: statistics.median(values) for module, values in samples.items()}


def only_in(ours: dict[str, float], floor: dict[str, float]) -> dict[str, float]:
    """Self time of the modules ours imports and the floor does not, summed by top-level package.

    Modules both import are left out: their times differ only by noise on a shared machine.
    """
    extra: defaultdict[str, float] = defaultdict(float)
    for module, seconds in ours.items():
        if module not in floor:
            extra[module.split(".")[0]] += seconds
    return dict(sorted(extra.items(), key=lambda kv: -kv[1]))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def _shares(packages: dict[str, float], unit: Any, count: int = TOP) -> str:
    total = sum(packages.values())
    return ", ".join(
        f"{name} {unit(value)} ({value / total:.0%})" for name, value in list(packages.items())[:count]
    )


API, FLOOR = "api_get_person", "floor_chalice_getitem"


def _beyond(ours: dict[str, float], floor: dict[str, float], least: float) -> dict[str, float]:
    """What ours spends beyond the floor, by package, largest first (at least `least`)."""
    extra = {k: ours.get(k, 0.0) - floor.get(k, 0.0) for k in set(ours) | set(floor)}
    return dict(sorted(((k, v) for k, v in extra.items() if v >= least), key=lambda kv: -kv[1]))


def run(requests: int, python: Interpreter | None = None) -> list[Figure]:
    python = python or bench_python()
    env = child_environment(lambda_environment())
    ours = import_times(python, API, IMPORT_RUNS)
    floor = import_times(python, FLOOR, IMPORT_RUNS)
    extra = only_in(ours, floor)

    def cold_child(mode: str, target: str) -> dict[str, Any]:
        found = run_child(["bench.profile", mode, target], env, timeout=300, python=python.executable)
        if found["status"] != 200:
            raise RuntimeError(f"the profiled cold start of {target} answered {found['status']}")
        return found

    def median_packages(target: str) -> dict[str, Any]:
        """Self time by package: the median of COLD_RUNS fresh processes (one is too noisy here)."""
        found = [cold_child("cold", target) for _ in range(COLD_RUNS)]
        names = {k for f in found for k in f["packages"]}
        packages = {k: statistics.median(f["packages"].get(k, 0.0) for f in found) for k in names}
        return {"packages": dict(sorted(packages.items(), key=lambda kv: -kv[1])), "top": found[0]["top"]}

    cold, cold_floor = median_packages(API), median_packages(FLOOR)
    memory, memory_floor = (
        cold_child("cold-memory", API)["memory"],
        cold_child("cold-memory", FLOOR)["memory"],
    )
    warm = run_child(["bench.profile", "warm", str(requests)], env, timeout=900, python=python.executable)
    where = python.describe()
    figures = [
        Figure(
            "profile.cold.imports",
            SECTION,
            "Cold start, API: imports the floor does not make, self time by package (-X importtime)",
            sum(extra.values()),
            "s",
            f"{_ms(sum(ours.values()))} in all, {_ms(sum(extra.values()))} in "
            f"{sum(1 for m in ours if m not in floor)} modules the floor does not import: "
            + ", ".join(f"{k} {_ms(v)}" for k, v in list(extra.items())[:8]),
            f"floor: {_ms(sum(floor.values()))}; medians of {IMPORT_RUNS} runs each; {where}",
            "reported",
            INFO,
            detail={"ours": ours, "floor": floor},
        ),
        Figure(
            "profile.cold.cprofile",
            SECTION,
            "Cold start, API: self time by package beyond the floor's, import + first GET (cProfile)",
            sum(cold["packages"].values()),
            "s",
            f"{_ms(sum(cold['packages'].values()))} under cProfile, floor "
            f"{_ms(sum(cold_floor['packages'].values()))}; beyond the floor: "
            + ", ".join(
                f"{k} +{_ms(v)}"
                for k, v in list(_beyond(cold["packages"], cold_floor["packages"], 0.0002).items())[:8]
            ),
            "ours, all packages: "
            + _shares(cold["packages"], _ms)
            + "; costliest functions: "
            + "; ".join(f"{name} {_ms(t)}" for name, t, _ in cold["top"]),
            "reported",
            INFO,
            detail={"ours": cold, "floor": cold_floor},
        ),
        Figure(
            "profile.cold.memory",
            SECTION,
            "Cold start, API: memory left allocated by package beyond the floor's (tracemalloc)",
            float(sum(memory.values())),
            "bytes",
            f"{sum(memory.values()) / 2**20:.1f} MiB traced, "
            f"floor {sum(memory_floor.values()) / 2**20:.1f} MiB; beyond the floor: "
            + ", ".join(
                f"{k} +{v / 1024:.0f} KiB" for k, v in list(_beyond(memory, memory_floor, 1024).items())[:TOP]
            ),
            "ours, all: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in list(memory.items())[:TOP]),
            "reported",
            INFO,
        ),
    ]
    from bench.warm import OPERATIONS

    for key, name, _, _ in OPERATIONS:
        data = warm[key]
        ours_packages, floor_packages = data["ours"]["packages"], data["floor"]["packages"]
        beyond = _beyond(ours_packages, floor_packages, 2e-6)
        figures.append(
            Figure(
                f"profile.{key}",
                SECTION,
                f"Warm {name}: self time per request by package beyond the floor's (cProfile); "
                "peak memory of one request (tracemalloc)",
                sum(ours_packages.values()),
                "s",
                f"{_us(sum(ours_packages.values()))} per request under cProfile, floor "
                f"{_us(sum(floor_packages.values()))}; beyond the floor: "
                + ", ".join(f"{k} +{_us(v)}" for k, v in list(beyond.items())[:8])
                + f"; peak {data['peak_bytes'] / 1024:.0f} KiB per request",
                "ours, all packages: "
                + _shares(ours_packages, _us)
                + "; costliest functions: "
                + "; ".join(f"{fn} {_us(t)} ({calls:g} calls)" for fn, t, calls in data["ours"]["top"]),
                "reported",
                INFO,
                detail=data,
            )
        )
    return figures


COMMANDS = (
    "To reproduce, with the environment of `bench.canned.lambda_environment()` and the bench venv's "
    "python (`.venv-bench313/bin/python`): `python -X importtime -m bench.cold_child api_get_person` "
    "(and `floor_chalice_getitem`, `stream_publish`, `floor_stream_publish`); "
    "`python -m bench.profile cold api_get_person` (or `cold-memory`, or a floor target); "
    "`python -m bench.profile warm 2000`; each prints JSON. "
    "`python -m cProfile -s tottime -m bench.cold_child api_get_person` gives the raw cProfile listing."
)

# What the profiles of 2026-11-26 showed, what was cut, and what remains (the run above).
FINDINGS = """**Findings, and what this round cut** (profiles of 2026-11-26 on Python 3.13; cProfile \
inflates code with many small calls, so read shares, not absolute times):

- *PynamoDB model work* was the largest part of ours beyond the floor: 51 `Model` instances of \
17 attribute descriptors for a page of 50 (about 3.5 ms under cProfile), a model built and \
serialised attribute by attribute for a create, and 12 ms of PynamoDB imports in every cold \
start. Cut: get, create, list, the stream handler's images and tag entries and the SNS \
handler's history entry read and write plain attribute maps (`chalicelib/adapters/items.py`, \
checked against the models by `tests/unit/test_items.py`) on one botocore client; none of \
them imports PynamoDB (`tests/unit/test_cold_imports.py`). A page of 50 went from 1.45 to \
about 1.0 × the floor, whose own response is the raw Items.
- *The webhook handlers* (first measured this round, at about 1.5 × their floors) went through \
PynamoDB models too, and each model class makes its own botocore session and client on first \
use (about 50 ms of a cold start each: a fresh session loads the service model again). Cut: \
the fan-out's and the deliverer's reads and writes are plain items on the one client \
(`chalicelib/adapters/webhook_items.py`, checked by `tests/unit/test_webhook_items.py`), and the \
deliverer makes its SQS client only when it sends a message.
- *botocore's parameter validation* walked every attribute of every request, a fifth of a \
create's time under cProfile. Every request is built by our code and the service validates it \
again, so the app's clients are made with `parameter_validation=False` (`chalicelib/wiring.py`).
- *Garbage collection in the first call*: after `gc.freeze()`, the first invocation's \
botocore set-up allocates a few hundred thousand long-lived objects; at the default threshold \
(2,000) that was about 30 passes and 25–32 ms of the stream handler's cold start against the \
floor's 13–17 ms. `app.py` now raises the threshold to 20,000 after the freeze: 8–9 passes.
- *typing_extensions*: msgspec imports it (and `inspect` through it) when it is installed; it \
shipped only for python-ulid below Python 3.12, so `requirements.txt` now lists it only there.
- *A create's own work*: a valid body is checked by one msgspec conversion (the field-by-field \
path still reports every problem of an invalid one), ASCII names skip the Unicode folding \
steps, log lines are encoded by msgspec, timestamps by `isoformat`, and the app declares no \
binary media types (Chalice matched every response against its default list of 40).
- *What remains*: cold starts import msgspec and chalicelib (12 ms in `-X importtime` of \
about 145 ms), and the stream handler also the API's route modules, because Chalice registers \
every handler of one `app.py` at import. A warm create writes a 14-attribute item with a \
condition against the floor's 3 attributes, and validates, builds an id, an ETag and a log \
line (a `LogRecord` per request) that the floor does not.
- *Memory*: one warm list page peaks at about 385 KiB allocated, GET and POST at 15–20 KiB.
"""

NOTES = FINDINGS + "\n" + COMMANDS


if __name__ == "__main__":
    if sys.argv[1] in ("cold", "cold-memory"):
        print(json.dumps(child_cold(sys.argv[2], memory=sys.argv[1] == "cold-memory")))
    else:
        print(json.dumps(child_warm(int(sys.argv[2]))))
