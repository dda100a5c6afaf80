"""The only module that creates adapters and clients: each on first use, then reused for the process."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.config import settings

if TYPE_CHECKING:
    from pynamodb.connection import Connection

    from chalicelib.outbound import Policy
    from chalicelib.ports import (
        DeliveryQueue,
        HistoryRepository,
        PeopleRepository,
        Publisher,
        SecretBox,
        StreamReader,
        TagIndex,
        WebhookRepository,
    )
    from chalicelib.web.pagination import CursorCodec
    from chalicelib.webhooks.pipeline import Deliverer


@cache
def bind_models() -> None:
    from chalicelib.adapters import models

    models.bind(settings())


@cache
def dynamodb_connection() -> Connection:
    """PynamoDB's low-level connection (transactions, conditional updates), bounded like the models."""
    from pynamodb.connection import Connection

    s = settings()
    return Connection(
        region=s.region,
        connect_timeout_seconds=s.ddb_connect_timeout,
        read_timeout_seconds=s.ddb_read_timeout,
        max_retry_attempts=s.ddb_max_attempts,
    )


@cache
def dynamodb_client() -> Any:
    """The process's botocore DynamoDB client: the repositories' plain-item requests."""
    return _client("dynamodb")


@cache
def people_repo() -> PeopleRepository:
    from chalicelib.adapters.people import PynamoPeopleRepository

    s = settings()
    return PynamoPeopleRepository(
        dynamodb_client(),
        s.table_name,
        connection=dynamodb_connection,
        bind_models=bind_models,
        tombstone_days=s.history_ttl_days,
    )


@cache
def history_repo() -> HistoryRepository:
    from chalicelib.adapters.history import PynamoHistoryRepository

    return PynamoHistoryRepository(dynamodb_client(), settings().table_name, bind_models=bind_models)


@cache
def tag_index() -> TagIndex:
    """The tag entries the stream handler keeps."""
    from chalicelib.adapters.tags import PynamoTagIndex

    return PynamoTagIndex(dynamodb_client(), settings().table_name)


@cache
def webhook_repo() -> WebhookRepository:
    from chalicelib.adapters.webhooks import PynamoWebhookRepository

    return PynamoWebhookRepository(
        dynamodb_client(), settings().table_name, connection=dynamodb_connection, bind_models=bind_models
    )


@cache
def secret_box() -> SecretBox:
    """Webhook secrets sealed with the stage's KMS key (WEBHOOK_SECRETS_KEY)."""
    from chalicelib.adapters.kms import KmsSecretBox

    return KmsSecretBox(_client("kms"), settings().webhooks.secrets_key())


@cache
def webhook_policy() -> Policy:
    """Where webhook requests may go on this stage (loopback only on the local stage)."""
    from chalicelib.outbound import Policy

    w = settings().webhooks
    return Policy(allow_loopback=w.allow_loopback, runtime_api=w.lambda_runtime_api)


@cache
def delivery_queue() -> DeliveryQueue:
    """The webhook delivery queue (and its failure queue)."""
    from chalicelib.adapters.sqs import SqsDeliveryQueue

    w = settings().webhooks
    return SqsDeliveryQueue(sqs_client, w.delivery_queue(), w.failure_queue())


@cache
def sqs_client() -> Any:
    """The SQS client of the delivery queues: made on the first message sent, not before (a
    delivery that succeeds sends none)."""
    return _client("sqs")


@cache
def deliverer() -> Deliverer:
    """The webhook deliverer with the stage's storage, key, queues and outbound policy."""
    from chalicelib.webhooks.pipeline import Deliverer

    return Deliverer(webhook_repo(), secret_box(), delivery_queue(), webhook_policy())


@cache
def cursors() -> CursorCodec:
    """The cursor codec, with the stage's key: from SSM on first use (never at a cold start that
    needs no cursor), or the local stage's own key; no key at all is a configuration error."""
    from chalicelib.config import ConfigError
    from chalicelib.web.pagination import CursorCodec

    s = settings()
    if s.cursor_secret_parameter is not None:
        return CursorCodec(_parameter(s.cursor_secret_parameter).encode())
    if s.cursor_secret is not None:
        return CursorCodec(s.cursor_secret)
    raise ConfigError(
        "no cursor key: set CURSOR_SECRET_PARAMETER to the SSM parameter holding it (make deploy does)"
    )


def _parameter(name: str) -> str:
    """A SecureString from SSM Parameter Store, decrypted."""
    return str(_client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def _client(service: str) -> Any:
    """A botocore client with the same bounded timeouts and retries as DynamoDB's."""
    import botocore.session
    from botocore.config import Config

    s = settings()
    config = Config(  # type: ignore[no-untyped-call]
        connect_timeout=s.ddb_connect_timeout,
        read_timeout=s.ddb_read_timeout,
        retries={"max_attempts": s.ddb_max_attempts, "mode": "standard"},
        # Every request is built by this code, and the service validates it again: botocore's
        # own walk over each parameter is a fifth of a create's time (bench/RESULTS.md).
        parameter_validation=False,
    )
    session = botocore.session.get_session()  # type: ignore[no-untyped-call]
    return session.create_client(service, region_name=s.region, config=config)


@cache
def sns_client() -> Any:
    """The SNS client of the change publisher."""
    return _client("sns")


@cache
def change_publisher() -> Publisher:
    from chalicelib.adapters.sns import SnsPublisher

    return SnsPublisher(sns_client(), settings().events.topic_arn)


@cache
def stream_reader() -> StreamReader:
    from chalicelib.adapters.stream import read_change

    return read_change
