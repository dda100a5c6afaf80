"""The interpreter the Lambda functions run (python3.13), for the benchmark children.

`python -m bench.interpreter` prints the path of a python3.13 found on this machine, or
nothing: the Makefile builds the bench venv (`.venv-bench313`) with it. Stdlib only, so it
runs before any venv exists. Looked for, in order:

1. `$BENCH_PYTHON`, if set (any interpreter: the figures then say which one ran);
2. `python3.13` on PATH, if it runs (a pyenv shim of a version not selected does not);
3. pyenv's installed versions (`pyenv versions --bare`), the newest 3.13.x.

`bench_python()` is what the benchmark sections run their children with: the bench venv's
interpreter when it exists, else this process's own, and why (the figures name it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LAMBDA_PYTHON = (3, 13)
ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-bench313"
_TAG = "python{}.{}".format(*LAMBDA_PYTHON)


def version_of(executable: str) -> tuple[int, int, int] | None:
    """(major, minor, micro) of an interpreter, or None when it does not run."""
    try:
        proc = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    parts = proc.stdout.split()
    if proc.returncode != 0 or len(parts) != 3:
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def _pyenv_candidates() -> list[str]:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False)
    prefix = "{}.{}.".format(*LAMBDA_PYTHON)
    versions = [v.strip() for v in listed.stdout.splitlines() if v.strip().startswith(prefix)]
    versions = [v for v in versions if v[len(prefix) :].isdigit()]  # final releases only
    found = []
    for version in sorted(versions, key=lambda v: int(v[len(prefix) :]), reverse=True):
        where = subprocess.run([pyenv, "prefix", version], capture_output=True, text=True, check=False)
        if where.returncode == 0 and where.stdout.strip():
            found.append(str(Path(where.stdout.strip()) / "bin" / _TAG))
    return found


def candidates() -> list[str]:
    """Where to look for python3.13, in order of preference."""
    found = [os.environ["BENCH_PYTHON"]] if os.environ.get("BENCH_PYTHON") else []
    on_path = shutil.which(_TAG)
    if on_path:
        found.append(on_path)
    return found + _pyenv_candidates()


def find() -> str | None:
    """The first candidate that runs and is python3.13 (or is $BENCH_PYTHON), else None."""
    for executable in candidates():
        version = version_of(executable)
        if version is not None and (
            version[:2] == LAMBDA_PYTHON or executable == os.environ.get("BENCH_PYTHON")
        ):
            return executable
    return None


@dataclass(frozen=True)
class Interpreter:
    """The interpreter a benchmark child runs on, and why that one."""

    executable: str
    version: str
    why: str

    @property
    def is_lambda_runtime(self) -> bool:
        return self.version.startswith("{}.{}.".format(*LAMBDA_PYTHON))

    def describe(self) -> str:
        return f"Python {self.version} ({self.why})"


def bench_python() -> Interpreter:
    """The bench venv's interpreter if `make bench` built it, else this one, saying which."""
    candidate = VENV / "bin" / "python"
    version = version_of(str(candidate)) if candidate.exists() else None
    if version is not None:
        shown = ".".join(map(str, version))
        runtime = (
            "the Lambda runtime's version" if version[:2] == LAMBDA_PYTHON else "NOT the Lambda runtime's"
        )
        return Interpreter(str(candidate), shown, f"{VENV.name}, {runtime}")
    shown = ".".join(map(str, sys.version_info[:3]))
    return Interpreter(
        sys.executable,
        shown,
        f"no {VENV.name}: no {_TAG} was found, so the figures come from this interpreter, "
        "not the Lambda runtime's",
    )


if __name__ == "__main__":
    print(find() or "")
