"""people-api: the Chalice app. A table of contents: routes, middleware, event handlers.

The HTTP routes and the authorizer choice live in `chalicelib/web/routes.py` (a Blueprint).
"""

from __future__ import annotations

import gc
from typing import Any

from chalice.app import Chalice, DynamoDBEvent, Request, Response, SNSEvent

from chalicelib.config import cors_allowed_origins, event_sources, settings
from chalicelib.web import routes
from chalicelib.web.cors import with_cors
from chalicelib.web.middleware import log_and_shape

app = Chalice(app_name="people-api")
app.register_blueprint(routes.bp)

_sources = event_sources()


def _request_id(event: DynamoDBEvent | SNSEvent) -> str | None:
    return getattr(event.context, "aws_request_id", None)


@app.middleware("http")
def shape_and_log(request: Request, get_response: Any) -> Response:
    response = log_and_shape(request, get_response, routes.request_id())
    return with_cors(request, response, cors_allowed_origins())


# Chalice cannot set FunctionResponseTypes, retry bounds or failure destinations on the event
# sources; `make deploy` and `make package` add them from infra/event_sources.py (see the README).
@app.on_dynamodb_record(stream_arn=_sources.stream_arn, starting_position="TRIM_HORIZON", batch_size=100)
def publish_changes(event: DynamoDBEvent) -> dict[str, Any]:
    """Keep the tag entries and publish one SNS message per person change on the table's stream."""
    # Imported here, not at import: the API's cold start never needs them.
    from chalicelib import notifications, wiring
    from chalicelib.logs import logged_invocation

    records = event.to_dict()["Records"]
    with logged_invocation("publish_changes", _request_id(event), len(records)) as stats:
        return notifications.publish_batch(
            records,
            wiring.stream_reader(),
            wiring.change_publisher(),
            settings().event_source,
            stats,
            tags=wiring.tag_index(),
        )


@app.on_sns_message(topic=_sources.topic_arn)
def record_notification(event: SNSEvent) -> None:
    """Record each change event in its person's history (idempotently)."""
    from chalicelib import notifications, wiring
    from chalicelib.logs import logged_invocation

    records = event.to_dict().get("Records") or []
    with logged_invocation("record_notification", _request_id(event), len(records)) as stats:
        notifications.record_notifications(
            records,
            wiring.history_repo(),
            ttl_days=settings().history_ttl_days,
            source=settings().event_source,
            stats=stats,
        )


# What the import created lives as long as the Lambda process. Freezing it moves it out of the
# cyclic garbage collector's generations, so no collection traverses it again; without this the
# first invocation's allocations (botocore's client set-up) set off a full collection over the
# whole import-time heap, about a tenth of the cold start (see bench/RESULTS.md).
gc.freeze()
