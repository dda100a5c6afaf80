"""The floor for the event handlers: bare Chalice handlers that each make one raw botocore call.

The stream handler publishes one SNS message per record; the SNS handler puts one DynamoDB
item per message. Anything the real handlers do beyond this (building CloudEvents, msgspec,
PynamoDB models, conditional puts) is what the benchmarks call overhead.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from chalice.app import Chalice, DynamoDBEvent, SNSEvent

app = Chalice(app_name="bench-floor-events")
REGION = os.environ.get("AWS_REGION", "us-east-1")
TOPIC = os.environ.get("CHANGES_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:bench")
STREAM = os.environ.get("TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/s")
TABLE = os.environ.get("TABLE_NAME", "people")


@cache
def client(service: str) -> Any:
    """One botocore client per service, created on first use as the app's are."""
    import botocore.session

    return botocore.session.get_session().create_client(service, region_name=REGION)  # type: ignore[no-untyped-call]


@app.on_dynamodb_record(stream_arn=STREAM)
def publish_changes(event: DynamoDBEvent) -> dict[str, Any]:
    for record in event:
        # The same requests as the app: a tag entry per tag (tag search), then the publish.
        person = record.new_image
        for tag in person.get("tags", {}).get("L", []):
            item = {
                "pk": {"S": f"TAG#{person['owner']['S']}#{tag['S']}"},
                "sk": person["id"],
                "v": person["version"],
            }
            client("dynamodb").put_item(TableName=TABLE, Item=item)
        client("sns").publish(TopicArn=TOPIC, Message=json.dumps(person))
    return {"batchItemFailures": []}


@app.on_sns_message(topic=TOPIC)
def record_notification(event: SNSEvent) -> None:
    message = json.loads(event.message)
    # The same two requests as the app: read the person's owner, then the conditional put.
    key = {"pk": {"S": f"PERSON#{message['subject']}"}, "sk": {"S": "PERSON"}}
    client("dynamodb").get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    item = {"pk": {"S": f"PERSON#{message['subject']}"}, "sk": {"S": "HISTORY#1"}, "id": {"S": message["id"]}}
    client("dynamodb").put_item(TableName=TABLE, Item=item)
