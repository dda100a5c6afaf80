"""The webhook delivery queue and its failure queue on SQS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SqsDeliveryQueue:
    """`DeliveryQueue` on two SQS queues (by URL).

    `client` returns the SQS client, called on the first message sent: a deliverer whose
    attempt succeeds sends nothing, and its cold start makes no client it does not use.
    """

    def __init__(self, client: Callable[[], Any], queue_url: str, failure_queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._failure_queue_url = failure_queue_url

    def send(self, body: str, *, delay_seconds: int) -> None:
        self._client().send_message(QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=delay_seconds)

    def send_failed(self, body: str) -> None:
        self._client().send_message(QueueUrl=self._failure_queue_url, MessageBody=body)
