"""Structured logs: one JSON object per line, for requests, handler invocations and errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

log = logging.getLogger("people_api")
# Lambda's root logger passes only WARNING and above; our request lines are INFO.
log.setLevel(logging.INFO)


_encode = msgspec.json.Encoder().encode


def log_json(level: int, event: str, **fields: Any) -> None:
    """Write one JSON log line `{"event": event, **fields}` at `level`."""
    if log.isEnabledFor(level):
        log.log(level, _encode({"event": event, **fields}).decode())


class Invocation(msgspec.Struct):
    """What one invocation of an event handler did, for its log line."""

    records_in: int
    records_out: int = 0  # published (stream) or newly recorded (SNS)
    skipped: int = 0  # not person changes, duplicates, or malformed messages
    failures: int = 0  # left for Lambda to retry


@contextmanager
def logged_invocation(handler: str, request_id: str | None, records_in: int) -> Iterator[Invocation]:
    """One structured JSON log line per handler invocation, also when the handler raises."""
    started = time.perf_counter()
    stats = Invocation(records_in)
    outcome = "ok"
    try:
        yield stats
    except Exception:
        outcome = "error"
        stats.failures = max(stats.failures, records_in - stats.records_out - stats.skipped)
        raise
    finally:
        log_json(
            logging.INFO,
            "invocation",
            handler=handler,
            request_id=request_id,
            records_in=stats.records_in,
            records_out=stats.records_out,
            skipped=stats.skipped,
            failures=stats.failures,
            outcome=outcome,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
        )
