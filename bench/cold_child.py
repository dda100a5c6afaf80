"""One cold start, in a fresh process: `python -m bench.cold_child TARGET`.

Prints one JSON line: seconds to import the handler's module, seconds for the first
invocation and their total, each as wall-clock time and as this process's CPU time, the
response status, peak memory (ru_maxrss), and the garbage collector's passes and time. The clock starts
before the handler's module is imported; only this file and the stdlib-only `bench.canned`
are loaded before it. DynamoDB is answered by canned responses (bench.canned.answer).

To add a target: write a function below that imports the module, wires canned answers for
the clients it uses, invokes the handler once with an event of the exact shape Lambda
delivers, and returns a status (200 when it did what it should); list it in TARGETS, and in
PREPARE what must exist before the clock starts (the webhook deliverer's loopback receiver).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import canned

Mark = tuple[float, float]  # (wall clock, this process's CPU time)


def _mark() -> Mark:
    return time.perf_counter(), time.process_time()


def _api_app() -> tuple[Mark, Any]:
    import app as module

    imported = _mark()
    canned.install()
    response = module.app(canned.get_person_event(), canned.LambdaContext())
    return imported, response["statusCode"]


def _bare() -> tuple[Mark, Any]:
    from bench.apps import bare

    imported = _mark()
    return imported, bare.app(canned.get_person_event(), canned.LambdaContext())["statusCode"]


def _floor() -> tuple[Mark, Any]:
    from bench.apps import floor

    imported = _mark()
    canned.install()
    return imported, floor.app(canned.get_person_event(), canned.LambdaContext())["statusCode"]


def _batch_status(result: Any) -> int:
    """200 when the stream batch was handled whole (one Publish, one tag entry put per tag), else 500."""
    tags = len(canned.PERSON_BODY["tags"])
    whole = canned.SENT.get("Publish") == 1 and canned.SENT.get("PutItem") == tags
    return 200 if result == {"batchItemFailures": []} and whole else 500


def _stream() -> tuple[Mark, Any]:
    import app as module
    from chalicelib import wiring

    imported = _mark()
    canned.install()  # the tag entries of tag search
    canned.install_sns(wiring.sns_client())
    return imported, _batch_status(module.publish_changes(canned.stream_event(), canned.LambdaContext()))


def _floor_stream() -> tuple[Mark, Any]:
    from bench.apps import floor_events

    imported = _mark()
    canned.install()
    canned.install_sns(floor_events.client("sns"))
    result = floor_events.publish_changes(canned.stream_event(), canned.LambdaContext())
    return imported, _batch_status(result)


def _sns() -> tuple[Mark, Any]:
    import app as module

    imported = _mark()
    canned.install()
    module.record_notification(canned.sns_event(), canned.LambdaContext())
    return imported, 200 if canned.SENT == {"GetItem": 1, "PutItem": 1} else 500


def _floor_sns() -> tuple[Mark, Any]:
    from bench.apps import floor_events

    imported = _mark()
    canned.install()
    floor_events.record_notification(canned.sns_event(), canned.LambdaContext())
    return imported, 200 if canned.SENT == {"GetItem": 1, "PutItem": 1} else 500


FAN_OUT_SENT = {"GetItem": 1, "Query": 2, "PutItem": 1, "SendMessage": 1}


def _fan_out_status() -> int:
    """200 when the change reached its one endpoint: the owner check, both endpoint queries, the
    delivery record put and its queue message; else 500."""
    return 200 if canned.SENT == FAN_OUT_SENT else 500


def _fan_out() -> tuple[Mark, Any]:
    import app as module

    imported = _mark()
    canned.install()
    module.fan_out_webhooks(canned.sns_event(), canned.LambdaContext())
    return imported, _fan_out_status()


def _floor_fan_out() -> tuple[Mark, Any]:
    from bench.apps import floor_events

    imported = _mark()
    canned.install()
    floor_events.fan_out_webhooks(canned.sns_event(), canned.LambdaContext())
    return imported, _fan_out_status()


DELIVER_SENT = {"GetItem": 2, "Decrypt": 1, "POST": 1, "UpdateItem": 1}


def _deliver_status(result: Any) -> int:
    """200 when the attempt was made and recorded as delivered: the delivery and endpoint reads,
    the secret's Decrypt, one signed POST the receiver took, the UpdateItem, and no further
    queue message (a failed attempt would queue its retry); else 500."""
    return 200 if result == {"batchItemFailures": []} and canned.SENT == DELIVER_SENT else 500


def _prepare_delivery() -> None:
    """Before the clock: a receiver on loopback, and the local stage's permission to reach it."""
    import os

    canned.start_receiver()
    # Deployed stages refuse loopback (chalicelib/outbound.py); the local stage allows it.
    os.environ.update({"STAGE": "local", "WEBHOOKS_ALLOW_LOOPBACK": "true"})


def _deliver() -> tuple[Mark, Any]:
    import app as module

    imported = _mark()
    canned.install()
    return imported, _deliver_status(module.deliver_webhooks(canned.sqs_event(), canned.LambdaContext()))


def _floor_deliver() -> tuple[Mark, Any]:
    from bench.apps import floor_events

    imported = _mark()
    canned.install()
    return imported, _deliver_status(
        floor_events.deliver_webhooks(canned.sqs_event(), canned.LambdaContext())
    )


TARGETS: dict[str, Callable[[], tuple[Mark, Any]]] = {
    "api_get_person": _api_app,
    "bare_chalice": _bare,
    "floor_chalice_getitem": _floor,
    "stream_publish": _stream,
    "floor_stream_publish": _floor_stream,
    "sns_record": _sns,
    "floor_sns_putitem": _floor_sns,
    "webhook_fan_out": _fan_out,
    "floor_webhook_fan_out": _floor_fan_out,
    "webhook_deliver": _deliver,
    "floor_webhook_deliver": _floor_deliver,
}
# What a target needs in place before the clock starts (the world outside the function).
PREPARE: dict[str, Callable[[], None]] = {
    "webhook_deliver": _prepare_delivery,
    "floor_webhook_deliver": _prepare_delivery,
}


def prepare(target: str) -> None:
    """Set up what `target` expects outside the process before it is timed."""
    if target in PREPARE:
        PREPARE[target]()


class _GcMeter:
    """Counts the garbage collector's passes and the time they take (gc.callbacks)."""

    def __init__(self) -> None:
        self.passes, self.full_passes, self.seconds, self._started = 0, 0, 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.passes += 1
        self.full_passes += info["generation"] == 2


def main(target: str) -> int:
    prepare(target)
    collector = _GcMeter()
    started = _mark()
    imported, status = TARGETS[target]()
    done = _mark()
    result = {
        "target": target,
        "import_s": imported[0] - started[0],
        "first_s": done[0] - imported[0],
        "total_s": done[0] - started[0],
        # CPU time: what other processes on a shared machine cannot inflate.
        "cpu_import_s": imported[1] - started[1],
        "cpu_first_s": done[1] - imported[1],
        "cpu_total_s": done[1] - started[1],
        "gc_passes": collector.passes,
        "gc_full_passes": collector.full_passes,
        "gc_s": collector.seconds,
        "status": status,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "modules": len(sys.modules),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
