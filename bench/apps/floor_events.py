"""The floor for the event handlers: bare Chalice handlers making the same requests with raw botocore.

The stream handler publishes one SNS message per record; the SNS handler puts one DynamoDB
item per message. The webhook fan-out reads the person's owner and the endpoints, then puts a
delivery and queues its message per matching endpoint; the deliverer reads the delivery and the
endpoint, decrypts the secret, POSTs the signed body with http.client and records the attempt.
Anything the real handlers do beyond this (building CloudEvents, msgspec, PynamoDB models,
conditional puts, the retry state machine, the outbound client's checks) is what the benchmarks
call overhead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from chalice.app import Chalice, DynamoDBEvent, SNSEvent, SQSEvent

app = Chalice(app_name="bench-floor-events")
REGION = os.environ.get("AWS_REGION", "us-east-1")
TOPIC = os.environ.get("CHANGES_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:bench")
STREAM = os.environ.get("TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/s")
TABLE = os.environ.get("TABLE_NAME", "people")
QUEUE = os.environ.get("WEBHOOK_DELIVERY_QUEUE", "bench-deliveries")
QUEUE_URL = os.environ.get("WEBHOOK_DELIVERY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/0/bench")
SECRETS_KEY = os.environ.get("WEBHOOK_SECRETS_KEY", "alias/bench")


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


@app.on_sns_message(topic=TOPIC)
def fan_out_webhooks(event: SNSEvent) -> None:
    message = json.loads(event.message)
    owner = message["data"]["owner"]
    # The same requests as the app: the person's owner, the owner's endpoints, the scope-all
    # listing, then per matching endpoint the conditional put of its delivery and its message.
    key = {"pk": {"S": f"PERSON#{message['subject']}"}, "sk": {"S": "PERSON"}}
    found = client("dynamodb").get_item(
        TableName=TABLE,
        Key=key,
        ConsistentRead=True,
        ProjectionExpression="#o",
        ExpressionAttributeNames={"#o": "owner"},
    )
    if found.get("Item", {}).get("owner", {}).get("S") != owner:
        return
    endpoints = client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"OWNER#{owner}"}, ":prefix": {"S": "WEBHOOK#"}},
    )["Items"]
    endpoints += client("dynamodb").query(
        TableName=TABLE,
        IndexName="by-owner",
        KeyConditionExpression="list_owner = :all",
        ExpressionAttributeValues={":all": {"S": "WEBHOOKS#SCOPE#ALL"}},
    )["Items"]
    for endpoint in endpoints:
        types = [t["S"] for t in endpoint.get("events", {}).get("L", [])] or [message["type"]]
        if not endpoint["enabled"]["BOOL"] or message["type"] not in types:
            continue
        endpoint_id = endpoint["id"]["S"]
        delivery_key = f"{message['time']}#{message['id']}.{endpoint_id}"
        item = {
            "pk": {"S": f"DELIVERIES#{endpoint_id}"},
            "sk": {"S": f"DELIVERY#{delivery_key}"},
            "state": {"S": "pending"},
            "payload": {"S": event.message},
        }
        client("dynamodb").put_item(
            TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
        body = json.dumps({"endpoint_id": endpoint_id, "owner": owner, "key": delivery_key, "attempt": 1})
        client("sqs").send_message(QueueUrl=QUEUE_URL, MessageBody=body, DelaySeconds=0)


@app.on_sqs_message(queue=QUEUE, batch_size=5)
def deliver_webhooks(event: SQSEvent) -> dict[str, Any]:
    for record in event:
        message = json.loads(record.body)
        # The same requests as the app: the delivery, the endpoint, the secret's Decrypt, the
        # signed POST (plain http.client) and the attempt's update.
        delivery_key = {
            "pk": {"S": f"DELIVERIES#{message['endpoint_id']}"},
            "sk": {"S": f"DELIVERY#{message['key']}"},
        }
        delivery = client("dynamodb").get_item(TableName=TABLE, Key=delivery_key, ConsistentRead=True)["Item"]
        endpoint_key = {
            "pk": {"S": f"OWNER#{message['owner']}"},
            "sk": {"S": f"WEBHOOK#{message['endpoint_id']}"},
        }
        endpoint = client("dynamodb").get_item(TableName=TABLE, Key=endpoint_key, ConsistentRead=True)["Item"]
        if not endpoint["enabled"]["BOOL"]:
            continue
        secret = client("kms").decrypt(
            KeyId=SECRETS_KEY,
            CiphertextBlob=base64.b64decode(endpoint["secret"]["S"]),
            EncryptionContext={"webhook": message["endpoint_id"], "owner": message["owner"]},
        )["Plaintext"]
        body = delivery["payload"]["S"].encode()
        webhook_id, timestamp = delivery["id"]["S"], int(time.time())
        signed = b"%s.%d.%s" % (webhook_id.encode(), timestamp, body)
        digest = hmac.new(base64.b64decode(secret[len(b"whsec_") :]), signed, hashlib.sha256).digest()
        url = urlsplit(endpoint["url"]["S"])
        connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
        connection.request("POST", url.path, body=body, headers=headers)
        status = connection.getresponse().status
        connection.close()
        client("dynamodb").update_item(
            TableName=TABLE,
            Key=delivery_key,
            UpdateExpression="SET #state = :state, attempt_count = :made",
            ConditionExpression="attempt_count = :before",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": {"S": "succeeded" if 200 <= status < 300 else "pending"},
                ":made": {"N": "1"},
                ":before": {"N": "0"},
            },
        )
    return {"batchItemFailures": []}
