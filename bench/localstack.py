"""5. The local stack: throughput of `make run` (python -m devstack run) on loopback.

Starts its own stack on free ports with its own DEVSTACK_STATE file, so it never meets a
stack you are running. Load is bounded by both a request count and a time limit. Then the
write-to-history latency: one write at a time, polling the history until its entry appears
(bounded by a write count and a time limit); and the write-to-delivery latency of webhooks: a
receiver on loopback registered with POST /webhooks, one write at a time until its signed event
arrives there.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.report import INFO, Figure
from devstack.pump import POLL_SECONDS

SECTION = "5. Local stack (`make run`, 4 concurrent clients on loopback)"
CLIENTS = 4
HISTORY_POLL_SECONDS = 0.01
HISTORY_SECONDS = 120.0  # the bound on the whole write-to-history measurement


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


def _request(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body) if body is not None else None
        sent = {**headers, "Content-Type": "application/json"} if data is not None else headers
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _history_latency(port: int, auth: dict[str, str], writes: int, seconds: float) -> dict[str, Any]:
    """Write, then poll the person's history until the entry is there; one write at a time.

    Each sample creates a person (POST /people) and polls GET /people/{id}/history every
    POLL_SECONDS until it holds the `created` entry. Bounded by `writes` and by `seconds`.
    """
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while len(latencies) < writes and time.monotonic() < deadline:
        started = time.perf_counter()
        status, created = _request(port, "POST", "/people", auth, {"name": f"History {len(latencies)}"})
        if status != 201:
            raise RuntimeError(f"POST /people on the local stack answered {status}: {created}")
        while True:
            status, entries = _request(port, "GET", f"/people/{created['id']}/history?limit=1", auth)
            if status != 200:
                raise RuntimeError(f"GET history on the local stack answered {status}: {entries}")
            if entries:
                latencies.append(time.perf_counter() - started)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no history entry appeared within {seconds:.0f}s of a write")
            time.sleep(HISTORY_POLL_SECONDS)
    latencies.sort()
    return {
        "writes": len(latencies),
        "p50_s": latencies[len(latencies) // 2],
        "p95_s": latencies[min(int(len(latencies) * 0.95), len(latencies) - 1)],
        "max_s": latencies[-1],
        "samples": latencies,
    }


def _delivery_latency(port: int, auth: dict[str, str], writes: int, seconds: float) -> dict[str, Any]:
    """Register a loopback receiver, then write one person at a time until its event is POSTed there."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrived: dict[str, float] = {}
    event = threading.Event()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            subject = json.loads(body).get("subject", "")
            arrived.setdefault(subject, time.perf_counter())
            event.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    latencies: list[float] = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        status, endpoint = _request(
            port, "POST", "/webhooks", auth, {"url": url, "events": ["people.person.created"]}
        )
        if status != 201:
            raise RuntimeError(f"POST /webhooks on the local stack answered {status}: {endpoint}")
        deadline = time.monotonic() + seconds
        while len(latencies) < writes and time.monotonic() < deadline:
            started = time.perf_counter()
            status, created = _request(port, "POST", "/people", auth, {"name": f"Hook {len(latencies)}"})
            if status != 201:
                raise RuntimeError(f"POST /people on the local stack answered {status}: {created}")
            while created["id"] not in arrived:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no webhook arrived within {seconds:.0f}s of a write")
                event.wait(0.01)
                event.clear()
            latencies.append(arrived[created["id"]] - started)
    finally:
        server.shutdown()
        server.server_close()
    latencies.sort()
    return {
        "writes": len(latencies),
        "p50_s": latencies[len(latencies) // 2],
        "p95_s": latencies[min(int(len(latencies) * 0.95), len(latencies) - 1)],
        "max_s": latencies[-1],
        "samples": latencies,
    }


def run(seconds: float, max_requests: int, history_writes: int) -> list[Figure]:
    from devstack import background
    from devstack.tokens import id_token

    with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
        stack = background.start(Path(tmp))
        try:
            api_port = int(stack.env["PEOPLE_API_PORT"])
            token = id_token(stack.info, "bench-load")
            auth = {"Authorization": f"Bearer {token}"}
            status, created = _request(api_port, "POST", "/people", auth, {"name": "Ada Lovelace"})
            if status != 201:
                raise RuntimeError(f"POST /people on the local stack answered {status}: {created}")
            person = _load(api_port, f"/people/{created['id']}", auth, seconds, max_requests)
            health = _load(api_port, "/health", {}, seconds, max_requests)
            history = _history_latency(api_port, auth, history_writes, HISTORY_SECONDS)
            delivery = _delivery_latency(api_port, auth, history_writes, HISTORY_SECONDS)
        finally:
            background.stop(stack)
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
        Figure(
            "local.history_latency",
            SECTION,
            "Write-to-history latency: POST /people until GET /people/{id}/history shows the entry",
            history["p50_s"],
            "s",
            f"p50 {history['p50_s'] * 1000:.0f} ms, p95 {history['p95_s'] * 1000:.0f} ms "
            f"(max {history['max_s'] * 1000:.0f} ms, {history['writes']} writes, one at a time)",
            "the path: stream poll → stream handler → SNS → queue long poll → SNS handler; the local "
            f"pump polls the stream every {POLL_SECONDS[0]:g}–{POLL_SECONDS[1]:g} s (backing off when "
            f"idle), the history is polled every {HISTORY_POLL_SECONDS * 1000:.0f} ms",
            "reported (no goal set; on AWS the stream poller and SNS set it)",
            INFO,
            detail=history,
        ),
        Figure(
            "local.webhook_latency",
            SECTION,
            "Write-to-delivery latency: POST /people until a registered loopback receiver gets the webhook",
            delivery["p50_s"],
            "s",
            f"p50 {delivery['p50_s'] * 1000:.0f} ms, p95 {delivery['p95_s'] * 1000:.0f} ms "
            f"(max {delivery['max_s'] * 1000:.0f} ms, {delivery['writes']} writes, one at a time)",
            "the path: stream poll → stream handler → SNS → queue long poll → fan-out → delivery queue "
            "long poll → signed POST (a KMS Decrypt and the DynamoDB reads and writes of each attempt)",
            "reported (no goal set; on AWS the stream poller, SNS and SQS set it)",
            INFO,
            detail=delivery,
        ),
    ]
