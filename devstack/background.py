"""The local stack as a background process, exactly as `make run` starts it, on free ports.

For the end-to-end tests and the local-stack benchmark: start, read what it provisioned from
its state file, and stop it with Ctrl-C as a developer would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devstack import ROOT, stage_environment
from devstack.provision import StackInfo


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BackgroundStack:
    info: StackInfo
    api_url: str
    state_path: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    console_url: str = ""


def child_environment(state_path: Path) -> dict[str, str]:
    """The caller's environment without its AWS and app settings, plus free ports and a state file."""
    app_names = set(stage_environment("local")) | {"COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in app_names}
    env.update(
        PEOPLE_API_PORT=str(free_port()),
        PEOPLE_EMULATOR_PORT=str(free_port()),
        PEOPLE_CONSOLE_PORT=str(free_port()),
        DEVSTACK_STATE=str(state_path),
        PYTHONUNBUFFERED="1",
    )
    return env


def start(workdir: Path, timeout: float = 120, command: str = "run") -> BackgroundStack:
    """Start `python -m devstack run` with its state file and log in `workdir`; wait until it serves.

    `command="emulator"` starts what `make emulator` does: no API (`api_url` is then empty).
    """
    state_path, log_path = workdir / "state.json", workdir / "stack.log"
    env = child_environment(state_path)
    # The stack logs a line per request: into a file, since a pipe nobody reads fills up (64 KiB)
    # and then blocks every server thread that logs.
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not state_path.exists():  # written, in one go, once the API answers
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.2)
    state = json.loads(state_path.read_text())
    api_url, console_url = state.pop("api_url", ""), state.pop("console_url", "")
    return BackgroundStack(StackInfo(**state), api_url, state_path, log_path, process, env, console_url)


def stop(stack: BackgroundStack) -> int:
    """Ctrl-C, as a developer would, and wait for everything to exit; its exit code."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=30)
    finally:
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
