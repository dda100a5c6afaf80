"""Helpers shared by the benchmark sections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """A clean environment for a benchmark child: no AWS settings leak in from the caller."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {**keep, "PYTHONPATH": str(ROOT), **extra}


def run_child(
    args: list[str], env: dict[str, str], timeout: float, python: str | None = None
) -> dict[str, Any]:
    """Run `python -m <args>` (this interpreter unless `python` names another) and parse the
    JSON object on its last stdout line."""
    proc = subprocess.run(
        [python or sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
