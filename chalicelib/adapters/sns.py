"""Publishing to the changes topic with SNS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SnsPublisher:
    """Publishes each message to the topic, with String message attributes for filter policies."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, message: str, attributes: Mapping[str, str]) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Message=message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        )
