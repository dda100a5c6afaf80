"""`chalice local --stage local`, run as Chalice users run it, beside `make emulator`.

The real CLI from the project directory with no exports: the local stage finds the running
stack (pool, app client, keys, emulator endpoint) through the stack's state file. A server
that cannot find its stack answers 500 with a log line, never 401 "invalid token".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import ROOT, stage_environment
from devstack.background import BackgroundStack, free_port, start, stop
from devstack.tokens import id_token

pytestmark = pytest.mark.e2e

CHALICE = Path(sys.executable).with_name("chalice")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundStack]:
    stack = start(tmp_path_factory.mktemp("emulator"), command="emulator")
    try:
        yield stack
    finally:
        stop(stack)


def _shell_environment(state_path: Path) -> dict[str, str]:
    """A developer's shell: none of the app's settings, only where the stack describes itself.

    DEVSTACK_STATE points at this test's stack rather than a developer's own `make emulator`;
    left out, it is `.devstack/state.json`, which `make emulator` writes.
    """
    app_names = set(stage_environment("local")) | {"COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in app_names}
    env["DEVSTACK_STATE"] = str(state_path)
    # A shell set up for a real AWS account: the local stage must not use any of it.
    env.update(AWS_DEFAULT_REGION="eu-west-1", AWS_PROFILE="a-real-account")
    return env


class ChaliceLocal:
    def __init__(self, state_path: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(CHALICE), "local", "--stage", "local", "--port", str(self.port), "--no-autoreload"],
                cwd=ROOT,
                env=_shell_environment(state_path),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while self.call("GET", "/health")[0] != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chalice local did not start:\n{self.log()}")
            time.sleep(0.2)

    def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if data is not None:
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null"), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), dict(error.headers)
        except (urllib.error.URLError, ConnectionError):
            return 0, None, {}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def test_plain_chalice_local_serves_a_crud_round_trip_with_no_exports(
    emulator: BackgroundStack, tmp_path: Path
) -> None:
    server = ChaliceLocal(emulator.state_path, tmp_path / "chalice.log")
    try:
        auth = {"Authorization": f"Bearer {id_token(emulator.info, 'plain-chalice')}"}
        status, created, headers = server.call("POST", "/people", {"name": "Ada"}, **auth)
        assert status == 201, (created, server.log())
        path = headers["Location"]
        assert server.call("GET", path, **auth)[:2] == (200, created)
        status, patched, headers = server.call("PUT", path, {"name": "Ada King"}, **auth, If_Match='"1"')
        assert (status, patched["name"], headers["ETag"]) == (200, "Ada King", '"2"')
        assert [p["id"] for p in server.call("GET", "/people", **auth)[1]] == [created["id"]]
        assert server.call("DELETE", path, **auth, If_Match='"2"')[:2] == (200, {})
        status, problem, _ = server.call("GET", path, **auth)
        assert (status, problem["type"]) == (404, "urn:people-api:problem:not-found")
        # A token that is not the pool's is still the client's fault.
        status, problem, _ = server.call("GET", "/people", Authorization="Bearer not-a-token")
        assert (status, problem["type"]) == (401, "urn:people-api:problem:unauthenticated")
    finally:
        server.stop()


def test_without_a_running_stack_a_valid_token_gets_500_and_the_log_says_why(
    emulator: BackgroundStack, tmp_path: Path
) -> None:
    server = ChaliceLocal(tmp_path / "no-stack-here.json", tmp_path / "chalice.log")
    try:
        token = id_token(emulator.info, "plain-chalice")
        status, problem, headers = server.call("GET", "/people", Authorization=f"Bearer {token}")
        assert status == 500, problem
        assert headers["Content-Type"] == "application/problem+json"
        assert problem["status"] == 500 and "configuration" in problem["detail"]
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    (logged,) = [line for line in lines if line.get("event") == "authorizer_unavailable"]
    assert "no running local stack" in logged["error"] and "make emulator" in logged["error"]
