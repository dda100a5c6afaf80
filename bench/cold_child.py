"""One cold start, in a fresh process: `python -m bench.cold_child TARGET`.

Prints one JSON line: seconds to import the handler's module, seconds for the first
invocation, their total, the response status, and peak memory (ru_maxrss). The clock starts
before the handler's module is imported; only this file and the stdlib-only `bench.canned`
are loaded before it. DynamoDB is answered by canned responses (bench.canned.answer).

To add a target: write a function below that imports the module, wires canned answers for
the clients it uses, invokes the handler once with an event of the exact shape Lambda
delivers, and returns a status (200 when it did what it should); list it in TARGETS.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import canned


def _api_app() -> tuple[float, Any]:
    import app as module

    imported = time.perf_counter()
    canned.install(canned.app_dynamodb_client())
    response = module.app(canned.get_person_event(), canned.LambdaContext())
    return imported, response["statusCode"]


def _bare() -> tuple[float, Any]:
    from bench.apps import bare

    imported = time.perf_counter()
    return imported, bare.app(canned.get_person_event(), canned.LambdaContext())["statusCode"]


def _floor() -> tuple[float, Any]:
    from bench.apps import floor

    imported = time.perf_counter()
    canned.install(floor.client())
    return imported, floor.app(canned.get_person_event(), canned.LambdaContext())["statusCode"]


def _batch_status(result: Any) -> int:
    """200 when the stream batch was published whole (one Publish answered), else 500."""
    return 200 if result == {"batchItemFailures": []} and canned.SENT.get("Publish") == 1 else 500


def _stream() -> tuple[float, Any]:
    import app as module
    from chalicelib import wiring

    imported = time.perf_counter()
    canned.install_sns(wiring.sns_client())
    return imported, _batch_status(module.publish_changes(canned.stream_event(), canned.LambdaContext()))


def _floor_stream() -> tuple[float, Any]:
    from bench.apps import floor_events

    imported = time.perf_counter()
    canned.install_sns(floor_events.client("sns"))
    result = floor_events.publish_changes(canned.stream_event(), canned.LambdaContext())
    return imported, _batch_status(result)


def _sns() -> tuple[float, Any]:
    import app as module

    imported = time.perf_counter()
    canned.install(canned.app_dynamodb_client())
    module.record_notification(canned.sns_event(), canned.LambdaContext())
    return imported, 200 if canned.SENT == {"PutItem": 1} else 500


def _floor_sns() -> tuple[float, Any]:
    from bench.apps import floor_events

    imported = time.perf_counter()
    canned.install(floor_events.client("dynamodb"))
    floor_events.record_notification(canned.sns_event(), canned.LambdaContext())
    return imported, 200 if canned.SENT == {"PutItem": 1} else 500


TARGETS: dict[str, Callable[[], tuple[float, Any]]] = {
    "api_get_person": _api_app,
    "bare_chalice": _bare,
    "floor_chalice_getitem": _floor,
    "stream_publish": _stream,
    "floor_stream_publish": _floor_stream,
    "sns_record": _sns,
    "floor_sns_putitem": _floor_sns,
}


def main(target: str) -> int:
    started = time.perf_counter()
    imported, status = TARGETS[target]()
    done = time.perf_counter()
    result = {
        "target": target,
        "import_s": imported - started,
        "first_s": done - imported,
        "total_s": done - started,
        "status": status,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "modules": len(sys.modules),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
