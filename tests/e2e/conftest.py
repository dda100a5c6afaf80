"""The real local stack (`python -m devstack run`, what `make run` starts) on free ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import ROOT
from devstack.provision import StackInfo
from tests.support import free_port


@dataclass
class RunningStack:
    info: StackInfo
    api_url: str
    state_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]


def start_stack(tmp_path: Path) -> RunningStack:
    state_path = tmp_path / "state.json"
    env = {
        **os.environ,
        "PEOPLE_API_PORT": str(free_port()),
        "PEOPLE_EMULATOR_PORT": str(free_port()),
        "DEVSTACK_STATE": str(state_path),
    }
    # The stack logs a line per request: into a file, since a pipe nobody reads fills up (64 KiB)
    # and then blocks every server thread that logs.
    log_path = tmp_path / "stack.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while not state_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"the local stack did not start:\n{output}")
        time.sleep(0.2)
    state = json.loads(state_path.read_text())
    api_url = state.pop("api_url")
    return RunningStack(StackInfo(**state), api_url, state_path, process, env)


def stop_stack(stack: RunningStack) -> int:
    """Ctrl-C, as a developer would, and wait for everything to exit."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=30)
    finally:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield stack
    finally:
        stop_stack(stack)
