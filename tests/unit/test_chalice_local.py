"""The local stack's chalice local shim: each request thread sees only its own request."""

from __future__ import annotations

import threading

from chalice import Chalice

from devstack.chalice_local import isolate_requests


def test_concurrent_request_threads_do_not_see_each_others_request() -> None:
    app = Chalice(app_name="isolation")
    isolate_requests(app)
    both_set = threading.Barrier(2)
    seen: dict[str, object] = {}

    def handle(name: str) -> None:
        app.current_request = name  # type: ignore[assignment]
        app.lambda_context = f"context of {name}"
        both_set.wait()  # the other thread has set its own request by now
        seen[name] = (app.current_request, app.lambda_context)

    threads = [threading.Thread(target=handle, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"first": ("first", "context of first"), "second": ("second", "context of second")}
    assert isinstance(app, Chalice) and app.current_request is None
