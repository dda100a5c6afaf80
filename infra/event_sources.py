"""How Lambda feeds the two event handlers: the one definition every path uses.

Chalice's decorators set only the stream, batch size and starting position; the rest below is
applied by `make deploy` (boto3, after `chalice deploy`), merged into `chalice package` output
by `make package` (a merge template generated from these values), and played by the local
stack's pump (devstack/pump.py). tests/deploy checks that each path uses these values.
"""

from __future__ import annotations

import json
from typing import Any, Final

APP_NAME: Final = "people-api"

# The stream handler (publish_changes): a failing record is retried at most this many times
# (the batch is halved on each error first), never once it is older than the record age; the
# batch's location then goes to the stack's stream-failures queue, so one poison record
# cannot block its shard. The handler reports partial failures (batchItemFailures).
STREAM_MAX_RETRY_ATTEMPTS: Final = 5
STREAM_MAX_RECORD_AGE_SECONDS: Final = 6 * 3600
STREAM_BISECT_ON_ERROR: Final = True
STREAM_RESPONSE_TYPES: Final = ("ReportBatchItemFailures",)

# The SNS subscriber (record_notification): SNS invokes it asynchronously; Lambda retries a
# failed event this many times, then sends it to the stack's subscriber dead-letter queue,
# which is also the subscription's redrive target for messages SNS could not deliver.
SUBSCRIBER_MAX_RETRY_ATTEMPTS: Final = 2
# Deliveries of one message in all: the first attempt and the retries (the local pump's bound).
SUBSCRIBER_MAX_DELIVERIES: Final = 1 + SUBSCRIBER_MAX_RETRY_ATTEMPTS

# The webhook deliverer (deliver_webhooks): batches of this size from the delivery queue, with
# partial batch failures; a message received this many times goes to the failure queue (the
# queue's redrive policy in infra/template.yaml).
WEBHOOK_DELIVERY_BATCH_SIZE: Final = 5
WEBHOOK_DELIVERY_MAX_RECEIVES: Final = 5
DELIVERY_RESPONSE_TYPES: Final = ("ReportBatchItemFailures",)

# The stack's queues (infra/template.yaml names them after the stage).
STREAM_FAILURE_QUEUE: Final = "{app}-{stage}-stream-failures"
SUBSCRIBER_DLQ: Final = "{app}-{stage}-subscriber-dlq"


def queue_name(template: str, stage: str) -> str:
    return template.format(app=APP_NAME, stage=stage)


def stream_mapping_settings(failure_queue_arn: Any) -> dict[str, Any]:
    """The event source mapping's settings, in the shape both boto3 and SAM take."""
    return {
        "MaximumRetryAttempts": STREAM_MAX_RETRY_ATTEMPTS,
        "MaximumRecordAgeInSeconds": STREAM_MAX_RECORD_AGE_SECONDS,
        "BisectBatchOnFunctionError": STREAM_BISECT_ON_ERROR,
        "FunctionResponseTypes": list(STREAM_RESPONSE_TYPES),
        "DestinationConfig": {"OnFailure": {"Destination": failure_queue_arn}},
    }


def subscriber_invoke_settings(dead_letter_queue_arn: Any) -> dict[str, Any]:
    """The subscriber's async invocation settings (boto3 put_function_event_invoke_config)."""
    return {
        "MaximumRetryAttempts": SUBSCRIBER_MAX_RETRY_ATTEMPTS,
        "DestinationConfig": {"OnFailure": {"Destination": dead_letter_queue_arn}},
    }


def delivery_mapping_settings() -> dict[str, Any]:
    """The delivery queue's event source mapping settings (boto3 and SAM)."""
    return {"FunctionResponseTypes": list(DELIVERY_RESPONSE_TYPES)}


def subscription_redrive(dead_letter_queue_arn: Any) -> dict[str, Any]:
    """The SNS subscription's redrive policy (CloudFormation takes it as an object)."""
    return {"deadLetterTargetArn": dead_letter_queue_arn}


def subscription_redrive_policy(dead_letter_queue_arn: str) -> str:
    """The same, as the SNS API's attribute value."""
    return json.dumps(subscription_redrive(dead_letter_queue_arn))


def stack_queue_arn(template: str, stage: str) -> dict[str, str]:
    """The ARN of one of the stage stack's queues, resolved where the SAM template is deployed."""
    name = queue_name(template, stage)
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


def merge_template(stage: str) -> dict[str, Any]:
    """`chalice package --merge-template` input: the same settings, on the stage stack's queues."""
    stream = stream_mapping_settings(stack_queue_arn(STREAM_FAILURE_QUEUE, stage))
    dead_letters = stack_queue_arn(SUBSCRIBER_DLQ, stage)
    invoke = subscriber_invoke_settings(dead_letters)
    invoke["DestinationConfig"]["OnFailure"]["Type"] = "SQS"
    # Chalice's names for the functions and their events (CamelCase of the handler's name).
    # The subscriptions' redrive policy is not merged here: cfn-lint's schema does not know SAM's
    # SNS event `RedrivePolicy`, so `make package` replaces each SNS event by an explicit
    # subscription carrying it (infra/deploy.py `complete_package`).
    return {
        "Resources": {
            "PublishChanges": {
                "Properties": {"Events": {"PublishChangesDynamodbEventSource": {"Properties": stream}}}
            },
            "RecordNotification": {"Properties": {"EventInvokeConfig": invoke}},
            "FanOutWebhooks": {"Properties": {"EventInvokeConfig": invoke}},
            "DeliverWebhooks": {
                "Properties": {
                    "Events": {"DeliverWebhooksSqsEventSource": {"Properties": delivery_mapping_settings()}}
                }
            },
        }
    }


def main(argv: list[str] | None = None) -> int:
    """python -m infra.event_sources <stage> <output path>: write the stage's merge template."""
    import sys
    from pathlib import Path

    stage, out = (argv if argv is not None else sys.argv[1:])[:2]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
