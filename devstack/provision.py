"""Create what the app needs inside the emulator: the table (with its stream), the Cognito user
pool, the changes topic and the SQS queues through which the local pump receives its messages
(history and webhook fan-out, each subscribed to the topic), the webhook delivery queue and its
failure queue, and the KMS key that seals webhook secrets."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

import boto3

from devstack import REGION, aws_environment, stage_environment

POOL_NAME = "people-local"
CLIENT_NAME = "people-local-cli"
ADMIN_GROUP = "admins"
QUEUE_NAME = "people-local-changes-subscriber"
FANOUT_QUEUE_NAME = "people-local-webhook-fanout-subscriber"
FAILURE_QUEUE_NAME = "people-local-webhook-failures"


@dataclass(frozen=True)
class StackInfo:
    endpoint: str
    region: str
    table_name: str
    user_pool_id: str
    app_client_id: str
    stream_arn: str = ""
    topic_arn: str = ""
    queue_url: str = ""
    fanout_queue_url: str = ""
    delivery_queue_url: str = ""
    failure_queue_url: str = ""
    secrets_key_id: str = ""

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    def app_environment(self) -> dict[str, str]:
        """What chalice local needs on top of the stage's config.json values."""
        return {
            **aws_environment(self.endpoint),
            "COGNITO_USER_POOL_ID": self.user_pool_id,
            "COGNITO_APP_CLIENT_ID": self.app_client_id,
            "COGNITO_JWKS_URL": self.jwks_url,
            # The stream's label is the table's creation time, known only once it exists.
            "TABLE_STREAM_ARN": self.stream_arn,
            "CHANGES_TOPIC_ARN": self.topic_arn,
            "WEBHOOK_DELIVERY_QUEUE_URL": self.delivery_queue_url,
            "WEBHOOK_FAILURE_QUEUE_URL": self.failure_queue_url,
            "WEBHOOK_SECRETS_KEY": self.secrets_key_id,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def client(service: str, endpoint: str) -> Any:
    env = aws_environment(endpoint)
    return boto3.client(  # type: ignore[no-untyped-call]
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
    )


def create_table(endpoint: str, table_name: str) -> str:
    """Create the table from the PynamoDB models (keys, index, stream, TTL)."""
    os.environ.update(aws_environment(endpoint))
    from chalicelib.adapters import models
    from chalicelib.config import load_settings

    settings = load_settings(
        {
            **stage_environment(),
            "TABLE_NAME": table_name,
            "COGNITO_USER_POOL_ID": "-",
            "COGNITO_APP_CLIENT_ID": "-",
        }
    )
    models.bind(settings)
    models.PersonModel.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
    table = client("dynamodb", endpoint).describe_table(TableName=table_name)["Table"]
    return str(table["LatestStreamArn"])


def create_topic_and_queue(endpoint: str, topic_name: str) -> tuple[str, str]:
    """The changes topic, and an SQS queue subscribed to it (as SNS would invoke the Lambda)."""
    topic_arn = client("sns", endpoint).create_topic(Name=topic_name)["TopicArn"]
    sqs = client("sqs", endpoint)
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    subscribe_queue(endpoint, topic_arn, queue_url)
    return str(topic_arn), str(queue_url)


def subscribe_queue(endpoint: str, topic_arn: str, queue_url: str) -> None:
    """Subscribe the queue to the topic with the SNS envelope kept (not raw delivery)."""
    queue_arn = client("sqs", endpoint).get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    client("sns", endpoint).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)


def create_webhook_resources(endpoint: str, topic_arn: str, delivery_queue: str) -> tuple[str, str, str, str]:
    """The fan-out's subscribed queue, the delivery queue, its failure queue, and the secrets key."""
    sqs = client("sqs", endpoint)
    fanout = sqs.create_queue(QueueName=FANOUT_QUEUE_NAME, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    subscribe_queue(endpoint, topic_arn, fanout)
    # The pump deletes a delivery message only after the handler reports it done; a failed one
    # comes back after the visibility timeout, as from an event source mapping.
    delivery = sqs.create_queue(QueueName=delivery_queue, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    failures = sqs.create_queue(QueueName=FAILURE_QUEUE_NAME)["QueueUrl"]
    key = client("kms", endpoint).create_key(Description="people-local webhook secrets")["KeyMetadata"]["Arn"]
    return str(fanout), str(delivery), str(failures), str(key)


def create_user_pool(endpoint: str) -> tuple[str, str]:
    """A pool that signs users in by email, an app client for USER_PASSWORD_AUTH, the admins group."""
    cognito = client("cognito-idp", endpoint)
    pool_id = cognito.create_user_pool(
        PoolName=POOL_NAME,
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP)
    return pool_id, client_id


def create_cursor_key(endpoint: str, name: str) -> None:
    """The stage's cursor key as an SSM SecureString, as `make deploy` makes one: a fresh random
    key for each emulator, so no key is ever written into a tracked file."""
    import secrets

    client("ssm", endpoint).put_parameter(
        Name=name, Value=secrets.token_urlsafe(32), Type="SecureString", Overwrite=True
    )


def provision(endpoint: str, table_name: str | None = None) -> StackInfo:
    """Provision a fresh emulator and describe what was created."""
    env = stage_environment()
    table_name = table_name or env["TABLE_NAME"]
    stream_arn = create_table(endpoint, table_name)
    pool_id, client_id = create_user_pool(endpoint)
    # config.json names the local topic; the emulator gives it the same ARN.
    topic_arn, queue_url = create_topic_and_queue(endpoint, env["CHANGES_TOPIC_ARN"].rsplit(":", 1)[-1])
    fanout, delivery, failures, key = create_webhook_resources(
        endpoint, topic_arn, env["WEBHOOK_DELIVERY_QUEUE"]
    )
    create_cursor_key(endpoint, env["CURSOR_SECRET_PARAMETER"])
    return StackInfo(
        endpoint,
        REGION,
        table_name,
        pool_id,
        client_id,
        stream_arn,
        topic_arn,
        queue_url,
        fanout_queue_url=fanout,
        delivery_queue_url=delivery,
        failure_queue_url=failures,
        secrets_key_id=key,
    )
