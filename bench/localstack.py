"""5. The local stack: throughput of `make run` (python -m devstack run) on loopback.

Starts its own stack on free ports with its own DEVSTACK_STATE file, so it never meets a
stack you are running. Load is bounded by both a request count and a time limit.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, child_environment
from bench.report import INFO, Figure, pending

SECTION = "5. Local stack (`make run`, 4 concurrent clients on loopback)"
CLIENTS = 4


def _wait_for_state(path: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"python -m devstack run exited with code {proc.returncode}")
        if path.exists():
            try:
                state: dict[str, Any] = json.loads(path.read_text())
                return state
            except json.JSONDecodeError:
                pass  # being written
        time.sleep(0.2)
    raise RuntimeError(f"the local stack did not start within {timeout:.0f}s")


def _load(port: int, path: str, headers: dict[str, str], seconds: float, max_requests: int) -> dict[str, Any]:
    """CLIENTS threads, each one request at a time, until the count or the time runs out."""
    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0, "issued": 0}
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if counts["issued"] >= max_requests:
                    break
                counts["issued"] += 1
            started = time.perf_counter()
            # A connection per request: chalice local's keep-alive answers stall on delayed ACKs.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                good = response.status == 200
            except (OSError, http.client.HTTPException):
                good = False
            finally:
                conn.close()
            elapsed = time.perf_counter() - started
            with lock:
                counts["ok" if good else "failed"] += 1
                latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        **counts,
        "seconds": wall,
        "rps": counts["ok"] / wall,
        "p50_s": latencies[len(latencies) // 2],
        "p95_s": latencies[int(len(latencies) * 0.95)],
    }


def run(seconds: float, max_requests: int) -> list[Figure]:
    from devstack.provision import StackInfo
    from devstack.tokens import id_token
    from tests.support import free_port

    api_port, emulator_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
        state_path = Path(tmp) / "state.json"
        env = child_environment(
            {
                "PEOPLE_API_PORT": str(api_port),
                "PEOPLE_EMULATOR_PORT": str(emulator_port),
                "DEVSTACK_STATE": str(state_path),
                "PYTHONUNBUFFERED": "1",
            }
        )
        with open(Path(tmp) / "stack.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "devstack", "run"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            state = _wait_for_state(state_path, proc)
            state.pop("api_url")
            saved = dict(os.environ)
            token = id_token(StackInfo(**state), "bench-load")
            os.environ.clear()
            os.environ.update(saved)
            auth = {"Authorization": f"Bearer {token}"}
            conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=10)
            conn.request(
                "POST",
                "/people",
                body=json.dumps({"name": "Ada Lovelace"}),
                headers={**auth, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            created = json.loads(response.read())
            conn.close()
            if response.status != 201:
                raise RuntimeError(f"POST /people on the local stack answered {response.status}: {created}")
            person = _load(api_port, f"/people/{created['id']}", auth, seconds, max_requests)
            health = _load(api_port, "/health", {}, seconds, max_requests)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    failures = f"; {person['failed']} failed" if person["failed"] else ""
    return [
        Figure(
            "local.get_person.rps",
            SECTION,
            "GET /people/{id}: requests per second",
            person["rps"],
            "requests/s",
            f"{person['rps']:.0f}/s (p50 {person['p50_s'] * 1000:.1f} ms, "
            f"p95 {person['p95_s'] * 1000:.1f} ms, {person['ok']} requests{failures})",
            f"GET /health (no token check, no DynamoDB): {health['rps']:.0f}/s",
            "reported (no goal set; chalice local is a development server)",
            INFO,
            detail={"get_person": person, "health": health},
        ),
        pending(
            "local.history_latency",
            SECTION,
            "Write-to-history latency p50/p95",
            "reported",
            "notifications and history (issue 3) do not exist yet",
        ),
    ]
