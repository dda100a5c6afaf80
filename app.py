"""people-api: the Chalice app. A table of contents: routes, middleware, event handlers.

The HTTP routes and the authorizer choice live in `chalicelib/web/routes.py` (a Blueprint).
"""

from __future__ import annotations

import gc
from typing import Any

from chalice.app import Chalice, DynamoDBEvent, Request, Response, SNSEvent, SQSEvent

from chalicelib.config import cors_allowed_origins, event_sources, settings
from chalicelib.web import routes
from chalicelib.web.cors import with_cors
from chalicelib.web.middleware import log_and_shape

app = Chalice(app_name="people-api")
# A JSON-only API: no binary media types (Chalice's default lists 40), so API Gateway never
# base64-encodes a body, and no response is matched against the list (a tenth of a create's
# own time, bench/RESULTS.md). Bodies of other types are refused with 415 as before.
app.api.binary_types = []
app.register_blueprint(routes.bp)

_sources = event_sources()


def _request_id(event: DynamoDBEvent | SNSEvent | SQSEvent) -> str | None:
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


@app.on_sns_message(topic=_sources.topic_arn)
def fan_out_webhooks(event: SNSEvent) -> None:
    """Queue one webhook delivery per matching endpoint for each change event."""
    from chalicelib import wiring
    from chalicelib.logs import logged_invocation
    from chalicelib.webhooks import pipeline

    records = event.to_dict().get("Records") or []
    with logged_invocation("fan_out_webhooks", _request_id(event), len(records)) as stats:
        pipeline.fan_out(
            records,
            wiring.webhook_repo(),
            wiring.delivery_queue(),
            wiring.history_repo(),
            source=settings().event_source,
            stats=stats,
        )


# Each message is one attempt of one delivery (at most 10 s); a failed message is retried alone.
@app.on_sqs_message(queue=_sources.delivery_queue, batch_size=5)
def deliver_webhooks(event: SQSEvent) -> dict[str, Any]:
    """POST due webhook attempts, record them, and queue the next hop or the failure."""
    from chalicelib import wiring
    from chalicelib.logs import logged_invocation

    records = event.to_dict().get("Records") or []
    with logged_invocation("deliver_webhooks", _request_id(event), len(records)) as stats:
        return wiring.deliverer().handle_batch(records, stats)


# What the import created lives as long as the Lambda process. Freezing it moves it out of the
# cyclic garbage collector's generations, so no collection traverses it again; without this the
# first invocation's allocations (botocore's client set-up) set off a full collection over the
# whole import-time heap, about a tenth of the cold start (see bench/RESULTS.md).
gc.freeze()
# The first invocation then allocates a few hundred thousand objects that live as long as the
# process (botocore's service models and clients) and frees few: at the default threshold of
# 2,000 that is about thirty passes moving them up the generations, a tenth of the stream
# handler's cold start. Ten times fewer passes; what a warm request leaves is a few hundred.
gc.set_threshold(20_000, 20, 20)
