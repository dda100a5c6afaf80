"""The local event pump: plays Lambda's event source mapping and SNS's Lambda subscription.

Deployed, Lambda polls the table's stream and invokes `publish_changes`, and SNS invokes
`record_notification`. Locally this pump does both, in the devstack process, against the
emulator: it reads the stream through the DynamoDB Streams API and invokes the real stream
handler from `app.py` with a payload of the exact shape Lambda delivers, honouring
`batchItemFailures` (retry from the reported record, bounded, then "on-failure destination":
logged and skipped); and it receives from an SQS queue subscribed to the topic and invokes the
real SNS handler with an SNS-event payload, retrying a failed delivery like Lambda's async
invocation (two retries, then dead-lettered: logged and dropped). The webhook fan-out is a
second SNS subscriber, fed the same way from its own subscribed queue; the webhook deliverer is
fed from the delivery queue as Lambda's SQS event source mapping does: batches of messages in
Lambda's SQS event shape, only the messages it reports in `batchItemFailures` (or all, if it
raises) left on the queue to come back after their visibility timeout, and a message received
`DELIVERY_MAX_RECEIVES` times moved to the failure queue (the redrive policy). The emulator's SQS
keeps a message invisible for its DelaySeconds, as SQS does.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devstack.provision import StackInfo, client
from infra import event_sources

log = logging.getLogger("devstack.pump")

Handler = Callable[[dict[str, Any], Any], Any]
STREAM_BATCH_SIZE = 100  # as app.py's on_dynamodb_record
# As deployed (infra/event_sources.py): the mapping's retry bound, and the async invocation's
# first attempt plus its retries.
STREAM_MAX_RETRY_ATTEMPTS = event_sources.STREAM_MAX_RETRY_ATTEMPTS
SNS_MAX_RECEIVES = event_sources.SUBSCRIBER_MAX_DELIVERIES


def retry_delay(attempt: int) -> float:
    """Seconds before the stream handler's retry number `attempt` (1, 2, ...): 0.5 s doubling to
    8 s, so the deployed bound of 5 retries rides out an outage of about 15 s locally (Lambda
    keeps retrying a failing batch for as long as the record age allows)."""
    return min(0.25 * 2.0**attempt, 8.0)


DELIVERY_BATCH_SIZE = event_sources.WEBHOOK_DELIVERY_BATCH_SIZE  # as app.py's on_sqs_message
DELIVERY_MAX_RECEIVES = event_sources.WEBHOOK_DELIVERY_MAX_RECEIVES  # the queue's redrive policy
# The stream is polled often right after activity and less when idle: every poll leaves a
# shard iterator behind in the emulator's memory.
POLL_SECONDS = (0.05, 0.5)


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def lambda_stream_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB Streams API record in the shape Lambda hands to a stream handler."""
    stream = dict(record["dynamodb"])
    stream["ApproximateCreationDateTime"] = int(_epoch(stream["ApproximateCreationDateTime"]))
    shaped = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        shaped["userIdentity"] = record["userIdentity"]
    return shaped


def _attributes(raw: dict[str, Any]) -> dict[str, Any]:
    shaped = {}
    for name, value in raw.items():
        if "DataType" in value:  # SQS/SNS API form -> the notification's form
            value = {"Type": value["DataType"], "Value": value.get("StringValue") or value.get("BinaryValue")}
        shaped[name] = {"Type": value.get("Type"), "Value": value.get("Value")}
    return shaped


def lambda_sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """SQS messages (as ReceiveMessage returns them) in the shape Lambda hands to an SQS handler."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": dict(m.get("Attributes") or {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def lambda_sns_event(notification: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """An SNS notification (as SQS receives it) in the shape Lambda hands to an SNS handler."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": notification.get("Type", "Notification"),
                    "MessageId": notification["MessageId"],
                    "TopicArn": notification["TopicArn"],
                    "Subject": notification.get("Subject"),
                    "Message": notification["Message"],
                    "Timestamp": notification.get("Timestamp"),
                    "SignatureVersion": notification.get("SignatureVersion", "1"),
                    "Signature": notification.get("Signature", ""),
                    "SigningCertUrl": notification.get("SigningCertURL", ""),
                    "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                    "MessageAttributes": _attributes(notification.get("MessageAttributes") or {}),
                },
            }
        ]
    }


class LocalContext:
    """The Lambda context fields handlers may read."""

    def __init__(self, function_name: str) -> None:
        import uuid

        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 128

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class _Shard:
    iterator: str | None
    attempts: int = 0
    retry_at: float = 0.0


@dataclass
class PumpStats:
    """What the pump did, for the log and for tests."""

    stream_invocations: int = 0
    stream_failures: int = 0
    sent_to_on_failure_destination: list[dict[str, Any]] = field(default_factory=list)
    sns_invocations: int = 0
    sns_failures: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    delivery_invocations: int = 0
    delivery_failures: int = 0


class Pump:
    """Feeds the stream handler and the SNS handler until stopped."""

    def __init__(
        self,
        info: StackInfo,
        stream_handler: Handler,
        sns_handler: Handler,
        *,
        fanout_handler: Handler | None = None,
        delivery_handler: Handler | None = None,
        max_retry_attempts: int = STREAM_MAX_RETRY_ATTEMPTS,
    ) -> None:
        self.info = info
        self.stream_handler = stream_handler
        self.sns_handler = sns_handler
        self.fanout_handler = fanout_handler
        self.delivery_handler = delivery_handler
        self.max_retry_attempts = max_retry_attempts
        self.stats = PumpStats()
        self._streams = client("dynamodbstreams", info.endpoint)
        self._sqs = client("sqs", info.endpoint)
        self._shards: dict[str, _Shard] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- the stream: Lambda's event source mapping -------------------------------------------

    def _refresh_shards(self) -> None:
        description = self._streams.describe_stream(StreamArn=self.info.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self._shards:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self.info.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._shards[shard["ShardId"]] = _Shard(iterator)

    def _iterator_at(self, shard_id: str, sequence: str, kind: str) -> str:
        return str(
            self._streams.get_shard_iterator(
                StreamArn=self.info.stream_arn,
                ShardId=shard_id,
                ShardIteratorType=kind,
                SequenceNumber=sequence,
            )["ShardIterator"]
        )

    def pump_stream(self) -> int:
        """One poll of every shard; returns how many records the handler was given."""
        self._refresh_shards()
        given = 0
        for shard_id, shard in self._shards.items():
            if shard.iterator is None or time.monotonic() < shard.retry_at:
                continue
            response = self._streams.get_records(ShardIterator=shard.iterator, Limit=STREAM_BATCH_SIZE)
            records = response.get("Records") or []
            if not records:
                shard.iterator = response.get("NextShardIterator")
                continue
            payload = {
                "Records": [lambda_stream_record(r, self.info.stream_arn, self.info.region) for r in records]
            }
            given += len(records)
            self.stats.stream_invocations += 1
            failed = self._invoke_stream(payload)
            if failed is None:
                shard.iterator, shard.attempts = response.get("NextShardIterator"), 0
                continue
            self.stats.stream_failures += 1
            shard.attempts += 1
            if shard.attempts > self.max_retry_attempts:
                # Lambda's on-failure destination receives the batch's metadata; we log it.
                self.stats.sent_to_on_failure_destination.append({"shard": shard_id, "sequence": failed})
                log.error(
                    "stream record %s failed %d times: sent to the on-failure destination",
                    failed,
                    shard.attempts,
                )
                shard.iterator, shard.attempts = (
                    self._iterator_at(shard_id, failed, "AFTER_SEQUENCE_NUMBER"),
                    0,
                )
            else:
                shard.iterator = self._iterator_at(shard_id, failed, "AT_SEQUENCE_NUMBER")
                shard.retry_at = time.monotonic() + retry_delay(shard.attempts)
        return given

    def _invoke_stream(self, payload: dict[str, Any]) -> str | None:
        """The sequence number to retry from, or None if the whole batch succeeded."""
        first = str(payload["Records"][0]["dynamodb"]["SequenceNumber"])
        try:
            result = self.stream_handler(payload, LocalContext("people-api-local-publish_changes"))
        except Exception:
            log.exception("publish_changes failed: the whole batch is retried")
            return first
        failures = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
        if not failures:
            return None
        # Lambda retries from the lowest reported sequence number.
        return min((str(f.get("itemIdentifier") or first) for f in failures), key=int)

    # -- SNS -> Lambda, through the subscribed queue ------------------------------------------

    def pump_queue(self, wait_seconds: int = 1) -> int:
        """One receive from the history subscriber's queue; how many notifications were handled."""
        return self._pump_subscriber(
            self.info.queue_url, self.sns_handler, "record_notification", wait_seconds
        )

    def pump_fanout(self, wait_seconds: int = 1) -> int:
        """One receive from the webhook fan-out's queue; how many notifications were handled."""
        assert self.fanout_handler is not None
        return self._pump_subscriber(
            self.info.fanout_queue_url, self.fanout_handler, "fan_out_webhooks", wait_seconds
        )

    def _pump_subscriber(self, queue_url: str, handler: Handler, name: str, wait_seconds: int) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages:
            self._deliver(message, queue_url, handler, name)
        return len(messages)

    def _deliver(self, message: dict[str, Any], queue_url: str, handler: Handler, name: str) -> None:
        receipt = message["ReceiptHandle"]
        try:
            notification = json.loads(message["Body"])
            payload = lambda_sns_event(notification, f"{self.info.topic_arn}:local-pump")
        except (ValueError, KeyError, TypeError):
            log.error("dropping a queue message that is not an SNS notification: %.200s", message["Body"])
            self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
            return
        self.stats.sns_invocations += 1
        try:
            handler(payload, LocalContext(f"people-api-local-{name}"))
        except Exception:
            self.stats.sns_failures += 1
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives < SNS_MAX_RECEIVES:
                log.exception("%s failed: retrying the delivery", name)
                self._sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=1
                )
                return
            log.exception("%s failed %d times: dead-lettered", name, receives)
            self.stats.dead_lettered.append(notification.get("MessageId", ""))
        self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)

    # -- SQS -> Lambda: the webhook delivery queue's event source mapping ---------------------

    def pump_deliveries(self, wait_seconds: int = 1) -> int:
        """One receive from the delivery queue, handed to the deliverer as one batch."""
        assert self.delivery_handler is not None
        url = self.info.delivery_queue_url
        messages = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=DELIVERY_BATCH_SIZE,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        queue_arn = f"arn:aws:sqs:{self.info.region}:000000000000:{url.rsplit('/', 1)[-1]}"
        self.stats.delivery_invocations += 1
        failed: set[str]
        try:
            result = self.delivery_handler(
                lambda_sqs_event(messages, queue_arn, self.info.region),
                LocalContext("people-api-local-deliver_webhooks"),
            )
            reported = (result or {}).get("batchItemFailures") if isinstance(result, dict) else None
            failed = {str(f.get("itemIdentifier")) for f in reported or ()}
        except Exception:
            log.exception("deliver_webhooks failed: the whole batch comes back")
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            receipt = message["ReceiptHandle"]
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
                continue
            self.stats.delivery_failures += 1
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if receives >= DELIVERY_MAX_RECEIVES:
                log.error("a delivery message failed %d times: moved to the failure queue", receives)
                self._sqs.send_message(QueueUrl=self.info.failure_queue_url, MessageBody=message["Body"])
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
            else:
                self._sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=1)
        return len(messages)

    # -- threads --------------------------------------------------------------------------------

    def _loop(self, step: Callable[[], int], idle: tuple[float, float]) -> None:
        wait = idle[0]
        while not self._stop.is_set():
            try:
                if step():
                    wait = idle[0]
                else:
                    self._stop.wait(wait)
                    wait = min(wait * 1.5, idle[1])
            except Exception:
                # The emulator going away at shutdown, or a bug: keep the stack up, say so.
                if not self._stop.is_set():
                    log.exception("event pump step failed")
                    self._stop.wait(1)

    def start(self) -> None:
        steps: list[tuple[str, Callable[[], int], tuple[float, float]]] = [
            ("stream-pump", self.pump_stream, POLL_SECONDS),
            ("sns-pump", self.pump_queue, (0.0, 0.0)),  # a long poll waits by itself
        ]
        if self.fanout_handler is not None and self.info.fanout_queue_url:
            steps.append(("webhook-fanout-pump", self.pump_fanout, (0.0, 0.0)))
        if self.delivery_handler is not None and self.info.delivery_queue_url:
            steps.append(("webhook-delivery-pump", self.pump_deliveries, (0.0, 0.0)))
        for name, step, idle in steps:
            thread = threading.Thread(target=self._loop, args=(step, idle), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


def app_pump(info: StackInfo, **options: Any) -> Pump:
    """A pump driving the real handlers of `app.py` (the environment must already be the app's)."""
    import app as app_module

    return Pump(
        info,
        app_module.publish_changes,
        app_module.record_notification,
        fanout_handler=app_module.fan_out_webhooks,
        delivery_handler=app_module.deliver_webhooks,
        **options,
    )
