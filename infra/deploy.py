"""`make deploy` / `make destroy`: one stage of people-api on AWS, with boto3 only.

deploy:  create or update the stage's CloudFormation stack (infra/template.yaml), write its
         outputs and the cursor key into the stage's `environment_variables` and its IAM
         policy file in `.chalice/`, run `chalice deploy --stage <stage>`, then do what
         Chalice cannot express: problem+json gateway responses with CORS headers, bounded
         retries and an on-failure queue for the stream handler, a dead-letter queue for the
         SNS subscriber. Every step converges, so re-running is safe.
destroy: `chalice delete`, then the stack and the cursor key (asks first on prod).
package: `chalice package`, completed with what deploy sets after `chalice deploy` (from the
         same definitions): one SAM template of the same infrastructure, importing what the
         deploy takes from the stage's stack (a fresh clone's placeholders in config.json do).

Usage: python -m infra.deploy deploy --stage dev [--project-dir DIR]
                                 [--user-pool-id ID --app-client-id ID]
       python -m infra.deploy destroy --stage dev [--yes] [--project-dir DIR]
       python -m infra.deploy package --stage dev [--out DIR] [--project-dir DIR]

--project-dir (default: the checkout this file is in; the Makefile passes its own directory)
is the one place that says which project is deployed: the template, the gateway responses,
`.chalice/` and the code `chalice deploy` packages are all read from it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import event_sources

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Project:
    """Where everything the deploy reads and writes lives."""

    root: Path

    @property
    def template(self) -> Path:
        return self.root / "infra" / "template.yaml"

    @property
    def gateway_responses(self) -> Path:
        return self.root / "infra" / "gateway-responses.json"

    @property
    def chalice_dir(self) -> Path:
        return self.root / ".chalice"


@dataclass(frozen=True)
class ExistingUserPool:
    """A user pool made outside the stack (the template then creates none)."""

    pool_id: str
    pool_arn: str
    app_client_id: str


APP_NAME = "people-api"
# app.py's handlers: Chalice deploys one function (and role) for each.
HANDLERS = ("api_handler", "publish_changes", "record_notification", "fan_out_webhooks", "deliver_webhooks")
PROTECTED_STAGES = frozenset({"prod"})

# Stack output -> environment variable the app reads (chalicelib/config.py).
OUTPUT_TO_ENV = {
    "TableName": "TABLE_NAME",
    "TableStreamArn": "TABLE_STREAM_ARN",
    "ChangesTopicArn": "CHANGES_TOPIC_ARN",
    "UserPoolArn": "COGNITO_USER_POOL_ARN",
    "UserPoolId": "COGNITO_USER_POOL_ID",
    "AppClientId": "COGNITO_APP_CLIENT_ID",
    "WebhookDeliveryQueueName": "WEBHOOK_DELIVERY_QUEUE",
    "WebhookDeliveryQueueUrl": "WEBHOOK_DELIVERY_QUEUE_URL",
    "WebhookFailureQueueUrl": "WEBHOOK_FAILURE_QUEUE_URL",
    "WebhookSecretsKeyArn": "WEBHOOK_SECRETS_KEY",
}

# Least privilege: the only actions the code performs, on this stage's resources only.
# tests/integration/test_policy.py derives the DynamoDB actions by running the API and
# fails if this grants more or less than the code uses.
# Query on the table itself reads a person's history (one partition); the index serves listings.
# IAM has no TransactWriteItems action: each item of a transaction is authorised as the
# operation it performs (Put -> dynamodb:PutItem, ConditionCheck -> dynamodb:ConditionCheckItem),
# so the idempotent POST's transaction of two Puts needs only PutItem.
# DeleteItem: a webhook endpoint's delete (in one transaction with its owner's counter).
API_TABLE_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
# The SNS subscriber reads the person's owner (one GetItem, to refuse forged events) and writes
# each history entry once, with a condition (a conditional PutItem).
RECORDER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
# Webhooks: the fan-out finds endpoints and writes delivery records (conditional puts); the
# deliverer reads a delivery and its endpoint and records each attempt (conditional updates).
FAN_OUT_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
DELIVERER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
# Lambda's SQS event source mapping polls the delivery queue with the deliverer's role.
SQS_SOURCE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
# The stream handler keeps the tag entries of tag search (conditional puts, deletes).
TAG_ENTRY_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:PutItem")
# The API's listings and searches: creation order, and name order (prefix search, sort=name).
INDEXES = ("by-owner", "by-owner-name")
INDEX_ACTIONS = ("dynamodb:Query",)
# Used by Lambda's event source mapping (on the function's role) to read the stream.
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
TOPIC_ACTIONS = ("sns:Publish",)
# The API function reads the cursor key on first use (GetParameter WithDecryption).
PARAMETER_ACTIONS = ("ssm:GetParameter",)
# Lambda sends failed stream batches and failed SNS-triggered events with the function's role.
QUEUE_ACTIONS = ("sqs:SendMessage",)
# Set here, not with Chalice's log_retention_in_days: `chalice package` then emits a log group
# referring to a function resource that does not exist (ApiHandler vs APIHandler).
LOG_RETENTION_DAYS = {"prod": 90}
DEFAULT_LOG_RETENTION_DAYS = 14
# API Gateway stage throttling (requests per second, burst): one client cannot take all of the
# account's Lambda concurrency. The API function's reserved concurrency on prod is 50.
THROTTLING = {"prod": (100.0, 200)}
DEFAULT_THROTTLING = (20.0, 40)
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


class DeployError(RuntimeError):
    """A step of the deployment failed in a way the user must fix."""


# Chalice gives the functions the Lambda runtime of the Python it runs under. python3.11 runs on
# Amazon Linux 2 (end of life 2026-06-30); 3.12 and 3.13 run on Amazon Linux 2023.
OLDEST_DEPLOY_PYTHON = (3, 12)


def check_runtime(version: tuple[int, ...], endpoint: str | None) -> None:
    """Refuse to deploy to AWS from an interpreter whose Lambda runtime has no future.

    An emulator on loopback (AWS_ENDPOINT_URL, as in the tests) takes any runtime, so the
    tests also run where only Python 3.11 is installed.
    """
    from urllib.parse import urlsplit

    if endpoint and urlsplit(endpoint).hostname in {"127.0.0.1", "localhost", "::1"}:
        return
    if tuple(version[:2]) < OLDEST_DEPLOY_PYTHON:
        have = ".".join(map(str, version[:2]))
        raise DeployError(
            f"this is Python {have}, and Chalice deploys the functions on the Lambda runtime of the "
            f"Python it runs under: python{have} runs on Amazon Linux 2, which reaches end of life on "
            "2026-06-30. Install Python 3.13 (or 3.12), then `make clean` and `make deploy` again "
            "(the Makefile builds .venv with python3.13 when it finds one)."
        )


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def cursor_secret_parameter(stage: str) -> str:
    return f"/{APP_NAME}/{stage}/cursor-secret"


# --- the stack -------------------------------------------------------------------------


def _stack_outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


POOL_PARAMETERS = ("ExistingUserPoolId", "ExistingUserPoolArn", "ExistingAppClientId")
GITHUB_PARAMETERS = ("GitHubRepository",)


def stack_parameters(
    stage: str,
    pool: ExistingUserPool | None,
    *,
    previous: Mapping[str, str] | None = None,
    github_repository: str = "",
) -> list[dict[str, Any]]:
    """The template's parameters; on an update, what is not given keeps its previous value.

    (The previous value is passed explicitly rather than with UsePreviousValue, which the
    emulator's CloudFormation cannot resolve for a parameter left at its default.)
    """
    given: dict[str, str] = {"Stage": stage}
    if pool is not None:
        values = (pool.pool_id, pool.pool_arn, pool.app_client_id)
        given.update(zip(POOL_PARAMETERS, values, strict=True))
    if github_repository:
        given["GitHubRepository"] = github_repository
    for key in (*POOL_PARAMETERS, *GITHUB_PARAMETERS):
        if key not in given and previous and key in previous:
            given[key] = previous[key]
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]


def ensure_stack(
    cfn: Any,
    stage: str,
    template_body: str,
    *,
    pool: ExistingUserPool | None = None,
    github_repository: str = "",
    wait: bool = True,
) -> dict[str, str]:
    """Create the stage's stack or update it to the template; return its outputs."""
    from botocore.exceptions import ClientError

    name = stack_name(stage)
    try:
        existing = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        existing = None
    previous = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in (existing or {}).get("Parameters", [])
    }
    parameters = stack_parameters(stage, pool, previous=previous, github_repository=github_repository)
    args: dict[str, Any] = {
        "StackName": name,
        "TemplateBody": template_body,
        "Parameters": parameters,
        "Tags": [{"Key": "app", "Value": APP_NAME}, {"Key": "stage", "Value": stage}],
        # The optional GitHub deploy role has a name (people-api-<stage>-github-deploy).
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {name} failed to create earlier (ROLLBACK_COMPLETE); "
            f"run `make destroy STAGE={stage}` and deploy again"
        )
    if existing is None:
        print(f"creating stack {name} ...", file=sys.stderr)
        cfn.create_stack(**args, EnableTerminationProtection=stage in PROTECTED_STAGES)
        waiter = "stack_create_complete"
    else:
        try:
            cfn.update_stack(**args)
            print(f"updating stack {name} ...", file=sys.stderr)
            waiter = "stack_update_complete"
        except ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            print(f"stack {name} is up to date", file=sys.stderr)
            waiter = ""
    if waiter and wait:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360})
    return _stack_outputs(cfn.describe_stacks(StackName=name)["Stacks"][0])


def delete_stack(cfn: Any, stage: str, *, wait: bool = True) -> None:
    name = stack_name(stage)
    if stage in PROTECTED_STAGES:
        cfn.update_termination_protection(EnableTerminationProtection=False, StackName=name)
    cfn.delete_stack(StackName=name)
    if wait:
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=name, WaiterConfig={"Delay": 5, "MaxAttempts": 360}
        )


# --- the cursor key --------------------------------------------------------------------


def ensure_cursor_secret(ssm: Any, stage: str) -> str:
    """The stage's cursor HMAC key: an SSM SecureString, generated once, then reused.

    Kept out of git and out of the template (CloudFormation cannot create SecureStrings),
    and stable across deploys from any clone, so issued cursors stay valid.
    """
    name = cursor_secret_parameter(stage)
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        pass
    # If another deploy wins the race to create it, use its key.
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(
            Name=name,
            Value=secrets.token_urlsafe(32),
            Type="SecureString",
            Overwrite=False,
            Description=f"HMAC key for {APP_NAME} {stage} pagination cursors",
        )
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


# --- .chalice/ files -------------------------------------------------------------------


def stage_env_from(outputs: Mapping[str, str], stage: str) -> dict[str, str]:
    """The environment variables the stack gives the stage: names and ARNs, never a secret.

    The cursor key stays in SSM: the API function gets the parameter's name and reads the value
    on first use of a cursor.
    """
    missing = sorted(set(OUTPUT_TO_ENV) - set(outputs))
    if missing:
        raise DeployError(f"the stack has no outputs {missing}; is infra/template.yaml deployed?")
    env = {variable: outputs[output] for output, variable in OUTPUT_TO_ENV.items()}
    env["CURSOR_SECRET_PARAMETER"] = cursor_secret_parameter(stage)
    return env


def write_stage_config(config_path: Path, stage: str, env: Mapping[str, str]) -> None:
    """The stage's environment (merged; a cursor key written by an older deploy is removed)
    and each function's own policy file."""
    config = json.loads(config_path.read_text())
    stage_config = config["stages"][stage]
    variables = stage_config.setdefault("environment_variables", {})
    variables.pop("CURSOR_SECRET", None)
    variables.update(env)
    stage_config.pop("iam_policy_file", None)
    functions = stage_config.setdefault("lambda_functions", {})
    for handler in HANDLERS:
        functions.setdefault(handler, {})["iam_policy_file"] = policy_file(stage, handler)
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


def function_name(stage: str, handler: str) -> str:
    """The Lambda function Chalice deploys for a handler (the API handler has the bare name)."""
    return stack_name(stage) if handler == "api_handler" else f"{stack_name(stage)}-{handler}"


def _allow(sid: str, actions: Iterable[str], resources: Iterable[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}


def policy_documents(
    outputs: Mapping[str, str], stage: str, *, scope: tuple[str, str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each function's IAM policy: only what that function's code (and Lambda for it) does,
    only on this stage's resources. tests/integration/test_policy.py runs each function and
    fails if its policy grants more or less than it uses.

    `scope` is the (partition, region, account) of the ARNs built here; by default the table's.
    `make package` passes CloudFormation's pseudo parameters and `${Output}` for each output
    (see `package_policy_documents`)."""
    table_arn = outputs["TableArn"]
    partition, region, account = scope or _arn_parts(table_arn)

    def logs(handler: str) -> dict[str, Any]:
        name = function_name(stage, handler)
        group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{name}"
        return _allow("Logs", LOG_ACTIONS, [group, f"{group}:*"])

    parameter = f"arn:{partition}:ssm:{region}:{account}:parameter{cursor_secret_parameter(stage)}"
    statements = {
        "api_handler": [
            _allow("Table", API_TABLE_ACTIONS, [table_arn]),
            _allow("OwnerIndex", INDEX_ACTIONS, [f"{table_arn}/index/{index}" for index in INDEXES]),
            # The SecureString is encrypted with the AWS managed key aws/ssm, whose key policy
            # lets SSM decrypt for any principal of the account allowed GetParameter: no kms grant.
            _allow("CursorKey", PARAMETER_ACTIONS, [parameter]),
        ],
        "publish_changes": [
            _allow("Table", TAG_ENTRY_ACTIONS, [table_arn]),
            _allow("TableStream", STREAM_ACTIONS, [outputs["TableStreamArn"]]),
            _allow("ChangesTopic", TOPIC_ACTIONS, [outputs["ChangesTopicArn"]]),
            _allow("FailureQueue", QUEUE_ACTIONS, [outputs["StreamFailureQueueArn"]]),
        ],
        "record_notification": [
            _allow("Table", RECORDER_TABLE_ACTIONS, [table_arn]),
            _allow("FailureQueue", QUEUE_ACTIONS, [outputs["SubscriberDeadLetterQueueArn"]]),
        ],
        "fan_out_webhooks": [
            _allow("Table", FAN_OUT_TABLE_ACTIONS, [table_arn]),
            _allow("OwnerIndex", INDEX_ACTIONS, [f"{table_arn}/index/by-owner"]),
            _allow("DeliveryQueue", QUEUE_ACTIONS, [outputs["WebhookDeliveryQueueArn"]]),
            _allow("FailureQueue", QUEUE_ACTIONS, [outputs["SubscriberDeadLetterQueueArn"]]),
        ],
        "deliver_webhooks": [
            _allow("Table", DELIVERER_TABLE_ACTIONS, [table_arn]),
            _allow("DeliveryQueueSource", SQS_SOURCE_ACTIONS, [outputs["WebhookDeliveryQueueArn"]]),
            _allow(
                "DeliveryQueues",
                QUEUE_ACTIONS,
                [outputs["WebhookDeliveryQueueArn"], outputs["WebhookFailureQueueArn"]],
            ),
            _allow("SecretsKey", ("kms:Decrypt",), [outputs["WebhookSecretsKeyArn"]]),
        ],
    }
    statements["api_handler"] += [
        _allow("SecretsKey", ("kms:Encrypt",), [outputs["WebhookSecretsKeyArn"]]),
        _allow("DeliveryQueue", QUEUE_ACTIONS, [outputs["WebhookDeliveryQueueArn"]]),
    ]
    return {
        handler: {"Version": "2012-10-17", "Statement": [*grants, logs(handler)]}
        for handler, grants in statements.items()
    }


def policy_file(stage: str, handler: str) -> str:
    return f"policy-{stage}-{handler}.json"


def placeholder_outputs(stage: str) -> dict[str, str]:
    """Outputs shaped like the stack's, before any deploy (account 000000000000)."""
    prefix = "arn:aws:{service}:us-east-1:000000000000:"
    table = prefix.format(service="dynamodb") + f"table/{stack_name(stage)}"
    sqs = prefix.format(service="sqs") + stack_name(stage)
    return {
        "TableName": stack_name(stage),
        "TableArn": table,
        "TableStreamArn": f"{table}/stream/replace-at-deploy",
        "ChangesTopicArn": prefix.format(service="sns") + f"{stack_name(stage)}-changes",
        "StreamFailureQueueArn": f"{sqs}-stream-failures",
        "SubscriberDeadLetterQueueArn": f"{sqs}-subscriber-dlq",
        "UserPoolId": f"us-east-1_{stage}placeholder",
        "UserPoolArn": prefix.format(service="cognito-idp") + f"userpool/us-east-1_{stage}placeholder",
        "AppClientId": "replace-at-deploy",
        "WebhookDeliveryQueueArn": f"{sqs}-webhook-deliveries",
        "WebhookDeliveryQueueName": f"{stack_name(stage)}-webhook-deliveries",
        "WebhookDeliveryQueueUrl": f"https://sqs.us-east-1.amazonaws.com/000000000000/{stack_name(stage)}-webhook-deliveries",
        "WebhookFailureQueueArn": f"{sqs}-webhook-failures",
        "WebhookFailureQueueUrl": f"https://sqs.us-east-1.amazonaws.com/000000000000/{stack_name(stage)}-webhook-failures",
        "WebhookSecretsKeyArn": prefix.format(service="kms") + "key/00000000-0000-0000-0000-000000000000",
    }


def write_policies(chalice_dir: Path, stage: str, outputs: Mapping[str, str]) -> list[Path]:
    """One policy file per function, named by that function's `iam_policy_file` in config.json."""
    paths = []
    for handler, document in policy_documents(outputs, stage).items():
        path = chalice_dir / policy_file(stage, handler)
        path.write_text(json.dumps(document, indent=2) + "\n")
        paths.append(path)
    return paths


def deployed_resources(chalice_dir: Path, stage: str) -> list[dict[str, Any]]:
    """What `chalice deploy` recorded for the stage (.chalice/deployed/<stage>.json)."""
    path = chalice_dir / "deployed" / f"{stage}.json"
    if not path.exists():
        return []
    resources: list[dict[str, Any]] = json.loads(path.read_text()).get("resources", [])
    return resources


def _of_type(resources: Iterable[Mapping[str, Any]], resource_type: str) -> list[Mapping[str, Any]]:
    return [r for r in resources if r.get("resource_type") == resource_type]


# --- what Chalice cannot express -------------------------------------------------------


def gateway_cors(origins: frozenset[str]) -> dict[str, str]:
    """The CORS headers of the gateway's own answers, for the stage's allowed origins.

    A gateway response can only carry static headers (or echo a request header, which would
    grant every origin), so a stage may list at most one browser origin: that one is granted
    exactly as the app grants it (chalicelib/web/cors.py); with none, only `Vary: Origin`.
    """
    from chalicelib.web.cors import cors_headers

    if len(origins) > 1:
        raise DeployError(
            f"CORS_ALLOWED_ORIGINS lists {len(origins)} origins; the gateway's own answers (401, 403, "
            "throttling) can carry only one: serve the console from one origin per stage"
        )
    origin = next(iter(origins), None)
    return cors_headers(origin, origins)


def gateway_responses(
    table: Mapping[str, Any], origins: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """put_gateway_response arguments: problem+json bodies with the stage's CORS headers."""
    from chalicelib.web.problems import PROBLEM, encode, gateway_problem, problem_headers

    cors = gateway_cors(origins)
    out = []
    for response_type, spec in table.items():
        if response_type.startswith("_"):
            continue
        # API Gateway fills $context variables into the template when it answers.
        template = encode(gateway_problem(spec, request_id="$context.requestId")).decode()
        headers = {**problem_headers(spec["status"] or 0), **cors}
        args: dict[str, Any] = {
            "responseType": response_type,
            "responseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()},
            "responseTemplates": {"application/json": template, PROBLEM: template},
        }
        if spec["status"] is not None:
            args["statusCode"] = str(spec["status"])
        out.append(args)
    return out


def put_gateway_responses(
    apigateway: Any,
    rest_api_id: str,
    stage_name: str,
    table_path: Path,
    origins: frozenset[str] = frozenset(),
) -> None:
    """Install the gateway responses and redeploy the API stage so they take effect."""
    table = json.loads(table_path.read_text())
    for args in gateway_responses(table, origins):
        apigateway.put_gateway_response(restApiId=rest_api_id, **args)
    apigateway.create_deployment(restApiId=rest_api_id, stageName=stage_name, description="gateway responses")


def stage_origins(config: Mapping[str, Any], stage: str) -> frozenset[str]:
    """The browser origins the stage's CORS_ALLOWED_ORIGINS grants (.chalice/config.json)."""
    from chalicelib.config import parse_allowed_origins

    variables = config["stages"][stage]["environment_variables"]
    return parse_allowed_origins(variables.get("CORS_ALLOWED_ORIGINS", ""))


def throttling(stage: str) -> tuple[float, int]:
    """The stage's (requests per second, burst) for every method of the API."""
    return THROTTLING.get(stage, DEFAULT_THROTTLING)


def log_retention_days(stage: str) -> int:
    return LOG_RETENTION_DAYS.get(stage, DEFAULT_LOG_RETENTION_DAYS)


def set_throttling(apigateway: Any, rest_api_id: str, stage_name: str, stage: str) -> tuple[float, int]:
    """Rate and burst limits for every method of the API stage."""
    rate, burst = throttling(stage)
    apigateway.update_stage(
        restApiId=rest_api_id,
        stageName=stage_name,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
        ],
    )
    return rate, burst


def configure_event_handlers(
    lambda_client: Any, sns: Any, resources: list[dict[str, Any]], outputs: Mapping[str, str]
) -> list[str]:
    """Bounded retries + failure destinations for the stream and SNS handlers Chalice wired.

    Chalice's decorators cannot set these, and a later `chalice deploy` leaves them alone.
    Returns a line per change, for the log.
    """
    done = []
    for mapping in _of_type(resources, "dynamodb_event"):
        lambda_client.update_event_source_mapping(
            UUID=mapping["event_uuid"],
            **event_sources.stream_mapping_settings(outputs["StreamFailureQueueArn"]),
        )
        done.append(f"stream mapping {mapping['event_uuid']}: on failure -> stream-failures queue")
    dlq = outputs["SubscriberDeadLetterQueueArn"]
    for subscription in _of_type(resources, "sns_event"):
        sns.set_subscription_attributes(
            SubscriptionArn=subscription["subscription_arn"],
            AttributeName="RedrivePolicy",
            AttributeValue=event_sources.subscription_redrive_policy(dlq),
        )
        # SNS invokes Lambda asynchronously: after Lambda's own retries, park the event.
        lambda_client.put_function_event_invoke_config(
            FunctionName=subscription["lambda_arn"], **event_sources.subscriber_invoke_settings(dlq)
        )
        done.append(f"subscription {subscription['subscription_arn']}: dead letters -> subscriber-dlq")
    for mapping in _of_type(resources, "sqs_event"):
        lambda_client.update_event_source_mapping(
            UUID=mapping["event_uuid"], **event_sources.delivery_mapping_settings()
        )
        done.append(f"queue mapping {mapping['event_uuid']}: partial batch failures")
    return done


def function_log_groups(resources: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        "/aws/lambda/" + str(f["lambda_arn"]).rsplit(":", 1)[-1]
        for f in _of_type(resources, "lambda_function")
    ]


def set_log_retention(logs: Any, resources: Iterable[Mapping[str, Any]], stage: str) -> None:
    """Create each function's log group up front with the stage's retention."""
    days = log_retention_days(stage)
    for group in function_log_groups(resources):
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)


def delete_log_groups(logs: Any, resources: Iterable[Mapping[str, Any]]) -> None:
    for group in function_log_groups(resources):
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=group)


# --- the commands ----------------------------------------------------------------------


def chalice(project: Project, *args: str) -> None:
    """Run the chalice CLI of this interpreter's environment on the project."""
    cli = Path(sys.executable).with_name("chalice")
    command = [str(cli) if cli.exists() else "chalice", "--project-dir", str(project.root), *args]
    # PIP_NO_DEPS: requirements.txt lists the full runtime closure except the AWS SDK, which
    # the Lambda runtime provides (see README "Package size").
    env = {**os.environ, "PIP_NO_DEPS": "1"}
    # Chalice reuses a cached zip keyed on requirements.txt and the Python version alone, which
    # may have been built without PIP_NO_DEPS (a plain `chalice deploy`, with the SDK inside):
    # always rebuild, and leave no zip behind for a later run to pick up either.
    cache = project.chalice_dir / "deployments"
    shutil.rmtree(cache, ignore_errors=True)
    try:
        if subprocess.run(command, env=env, check=False).returncode != 0:
            raise DeployError(f"`chalice {' '.join(args)}` failed")
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def package(stage: str, project: Project, out: Path, *, run_chalice: Callable[..., None] = chalice) -> None:
    """`chalice package` with the event-source settings merged in (infra/event_sources.py),
    then completed with what `make deploy` adds after `chalice deploy` (`complete_package`)."""
    merge = out.parent / f"merge-template-{stage}.json"
    merge.parent.mkdir(parents=True, exist_ok=True)
    merge.write_text(json.dumps(event_sources.merge_template(stage), indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    run_chalice(project, "package", "--stage", stage, "--merge-template", str(merge), str(out))
    sam = out / "sam.json"
    template = json.loads(sam.read_text())
    config = json.loads((project.chalice_dir / "config.json").read_text())
    table = json.loads(project.gateway_responses.read_text())
    complete_package(
        template,
        stage,
        gateway_responses(table, stage_origins(config, stage)),
        config["stages"][stage].get("environment_variables", {}),
    )
    sam.write_text(json.dumps(template, indent=2) + "\n")


# --- make package: the same infrastructure as make deploy, in one SAM template ------------

# CloudFormation's own values for the (partition, region, account) of the ARNs policies build.
PSEUDO_SCOPE = ("${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}")


def export_name(stage: str, output: str) -> str:
    """The name the stage's stack exports an output under (infra/template.yaml)."""
    return f"{stack_name(stage)}-{output}"


class _OutputReferences(dict[str, str]):
    """Any stack output, as a `${Output}` reference for Fn::Sub."""

    def __missing__(self, output: str) -> str:
        return "${" + output + "}"


def _sub(text: str, stage: str) -> Any:
    """`text` as CloudFormation: each `${Output}` imported from the stage's stack."""
    import re

    if "${" not in text:
        return text
    imported = sorted(set(re.findall(r"\$\{(\w+)\}", text)))  # not ${AWS::...}
    if [text] == ["${" + name + "}" for name in imported]:
        return {"Fn::ImportValue": export_name(stage, imported[0])}
    if not imported:
        return {"Fn::Sub": text}
    return {"Fn::Sub": [text, {name: {"Fn::ImportValue": export_name(stage, name)} for name in imported}]}


def package_policy_documents(stage: str) -> dict[str, dict[str, Any]]:
    """`policy_documents` on the resources of the stack the package is deployed beside."""
    documents = policy_documents(_OutputReferences(), stage, scope=PSEUDO_SCOPE)
    for document in documents.values():
        for statement in document["Statement"]:
            statement["Resource"] = [_sub(resource, stage) for resource in statement["Resource"]]
    return documents


def package_stage_env(stage: str) -> dict[str, Any]:
    """`stage_env_from` on the stack the package is deployed beside: each output imported."""
    references = {output: "${" + output + "}" for output in OUTPUT_TO_ENV}
    return {variable: _sub(value, stage) for variable, value in stage_env_from(references, stage).items()}


# Where SAM's event of each type names its source (an ARN, or Chalice's Fn::Sub ARN of a name).
SAM_EVENT_SOURCE = {"SNS": "Topic", "DynamoDB": "Stream", "SQS": "Queue"}


class _StackSources:
    """The sources `chalice package` wrote from the stage's variables in config.json (the topic,
    stream, queue, user pool), each imported from the stack output that variable comes from."""

    def __init__(self, variables: Mapping[str, str], stage: str) -> None:
        self.stage = stage
        self.outputs: dict[str, list[str]] = {}
        for output, variable in OUTPUT_TO_ENV.items():
            if variables.get(variable):
                self.outputs.setdefault(variables[variable], []).append(output)

    def imported(self, value: Any) -> Any:
        # An ARN as given, or the ARN Chalice builds from a name: {"Fn::Sub": "arn:...:<name>"}.
        built = isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str)
        text = value["Fn::Sub"] if built else value
        if isinstance(text, str):
            for given, outputs in self.outputs.items():
                if text == given or (built and text.endswith(":" + given)):
                    if len(outputs) > 1:
                        raise DeployError(f"{outputs} have the same value {given!r} in .chalice/config.json")
                    return _sub(text.removesuffix(given) + "${" + outputs[0] + "}", self.stage)
        raise DeployError(
            f"`chalice package` wrote the source {json.dumps(value)}, which is no stack output's "
            f"variable in .chalice/config.json ({', '.join(OUTPUT_TO_ENV.values())})"
        )


def import_sources(template: dict[str, Any], stage: str, variables: Mapping[str, str]) -> None:
    """The functions' environment, their event sources and the authorizers' user pools, imported
    from the stage's stack instead of the values in .chalice/config.json."""
    sources = _StackSources(variables, stage)
    imported_env = package_stage_env(stage)
    resources = template["Resources"]
    for logical_id in packaged_functions(template).values():
        props = resources[logical_id]["Properties"]
        props.setdefault("Environment", {}).setdefault("Variables", {}).update(imported_env)
        for event in (props.get("Events") or {}).values():
            key = SAM_EVENT_SOURCE.get(event["Type"])
            if key is not None:
                event["Properties"][key] = sources.imported(event["Properties"][key])
    swagger = resources["RestAPI"]["Properties"]["DefinitionBody"]
    for scheme in swagger.get("securityDefinitions", {}).values():
        authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
        if authorizer.get("type") == "cognito_user_pools":
            authorizer["providerARNs"] = [sources.imported(arn) for arn in authorizer["providerARNs"]]


def packaged_functions(template: Mapping[str, Any]) -> dict[str, str]:
    """handler -> logical id of its function in `chalice package` output (Handler `app.<handler>`;
    the API function's is `app.app`)."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = str(resource["Properties"]["Handler"]).split(".", 1)[1]
            found["api_handler" if handler == "app" else handler] = logical_id
    return found


def complete_package(
    template: dict[str, Any],
    stage: str,
    responses: Iterable[Mapping[str, Any]],
    variables: Mapping[str, str],
) -> None:
    """Give `chalice package` output what `make deploy` sets after `chalice deploy`, from the
    same definitions: the functions' names (so the log groups, policies and the stack's alarms
    name them), each function's policy on the stage stack's resources, a log group with the
    stage's retention per function, the SNS subscriptions' redrive policy, the gateway
    responses and the stage's throttling. What the stage's `variables` (config.json) give from
    the stack's outputs is imported from the stack instead (`import_sources`)."""
    import_sources(template, stage, variables)
    resources = template["Resources"]
    documents = package_policy_documents(stage)
    dead_letters = event_sources.stack_queue_arn(event_sources.SUBSCRIBER_DLQ, stage)
    for handler, logical_id in packaged_functions(template).items():
        function = resources[logical_id]
        props = function["Properties"]
        name = function_name(stage, handler)
        props["FunctionName"] = name
        (role_policy,) = resources[props["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"]
        role_policy["PolicyDocument"] = documents[handler]
        # Before the function, so Lambda cannot create the group first without its retention.
        log_group = f"{logical_id}LogGroup"
        resources[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{name}",
                "RetentionInDays": log_retention_days(stage),
            },
        }
        function["DependsOn"] = log_group
        # SAM's SNS event cannot carry a redrive policy cfn-lint accepts: write out what SAM
        # makes of it (a subscription and the topic's permission to invoke), with the policy.
        events = props.get("Events") or {}
        for event_id, event in list(events.items()):
            if event["Type"] != "SNS":
                continue
            del events[event_id]
            topic = event["Properties"]["Topic"]
            resources[event_id] = {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "Protocol": "lambda",
                    "Endpoint": {"Fn::GetAtt": [logical_id, "Arn"]},
                    "TopicArn": topic,
                    "RedrivePolicy": event_sources.subscription_redrive(dead_letters),
                },
            }
            resources[f"{event_id}Permission"] = {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Ref": logical_id},
                    "Principal": "sns.amazonaws.com",
                    "SourceArn": topic,
                },
            }
        if "Events" in props and not events:
            del props["Events"]
    api = resources["RestAPI"]["Properties"]
    api["DefinitionBody"]["x-amazon-apigateway-gateway-responses"] = {
        response["responseType"]: {k: v for k, v in response.items() if k != "responseType"}
        for response in responses
    }
    rate, burst = throttling(stage)
    api["MethodSettings"] = [
        {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
    ]


def existing_user_pool(cognito: Any, pool_id: str, app_client_id: str) -> ExistingUserPool:
    """Describe a pool made elsewhere, and give it the admins group the app relies on."""
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=app_client_id)
    with contextlib.suppress(cognito.exceptions.GroupExistsException):
        cognito.create_group(UserPoolId=pool_id, GroupName="admins")
    return ExistingUserPool(pool_id=pool_id, pool_arn=pool["Arn"], app_client_id=app_client_id)


def deploy(
    stage: str,
    session: Any,
    project: Project,
    *,
    pool: ExistingUserPool | None = None,
    github_repository: str = "",
    run_chalice: Callable[..., None] = chalice,
) -> str:
    """Deploy the stage end to end; return the API URL."""
    if stage == "local":
        raise DeployError("the local stage runs under `make run`, not on AWS")
    check_runtime(tuple(sys.version_info[:3]), os.environ.get("AWS_ENDPOINT_URL"))
    outputs = ensure_stack(
        session.client("cloudformation"),
        stage,
        project.template.read_text(),
        pool=pool,
        github_repository=github_repository,
    )
    ensure_cursor_secret(session.client("ssm"), stage)
    write_stage_config(project.chalice_dir / "config.json", stage, stage_env_from(outputs, stage))
    write_policies(project.chalice_dir, stage, outputs)
    run_chalice(project, "deploy", "--stage", stage)
    resources = deployed_resources(project.chalice_dir, stage)
    apis = _of_type(resources, "rest_api")
    if not apis:
        raise DeployError(f".chalice/deployed/{stage}.json names no REST API; did chalice deploy run?")
    config = json.loads((project.chalice_dir / "config.json").read_text())
    api_stage = config["stages"][stage].get("api_gateway_stage", config.get("api_gateway_stage", "api"))
    apigateway = session.client("apigateway")
    origins = stage_origins(config, stage)
    put_gateway_responses(apigateway, apis[0]["rest_api_id"], api_stage, project.gateway_responses, origins)
    set_throttling(apigateway, apis[0]["rest_api_id"], api_stage, stage)
    set_log_retention(session.client("logs"), resources, stage)
    for line in configure_event_handlers(session.client("lambda"), session.client("sns"), resources, outputs):
        print(line, file=sys.stderr)
    url = str(apis[0]["rest_api_url"]).rstrip("/")
    print(f"\nAPI: {url}")
    print(f"smoke test: curl -sS {url}/health")
    print(
        "then, with a user (README 'Creating the first admin'):\n"
        f'  curl -sS -H "Authorization: $ID_TOKEN" {url}/people'
    )
    return url


def confirm_destroy(stage: str, answer: Callable[[str], str] = input) -> bool:
    """Protected stages need the stage's name typed back; others go ahead."""
    if stage not in PROTECTED_STAGES:
        return True
    typed = answer(
        f"This deletes the {stage} API, stack and cursor key (the table and user pool are "
        f"retained). Type '{stage}' to continue: "
    )
    return typed.strip() == stage


def destroy(
    stage: str, session: Any, project: Project, *, run_chalice: Callable[..., None] = chalice
) -> None:
    resources = deployed_resources(project.chalice_dir, stage)
    if resources:
        run_chalice(project, "delete", "--stage", stage)
        delete_log_groups(session.client("logs"), resources)
    delete_stack(session.client("cloudformation"), stage)
    ssm = session.client("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=cursor_secret_parameter(stage))
    print(f"{stack_name(stage)} is gone", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["deploy", "destroy", "package"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--yes", action="store_true", help="destroy a protected stage without asking")
    parser.add_argument("--project-dir", type=Path, default=ROOT, help="the project to deploy")
    parser.add_argument("--user-pool-id", default="", help="use this user pool instead of creating one")
    parser.add_argument("--app-client-id", default="", help="the app client of --user-pool-id")
    parser.add_argument("--out", type=Path, help="package: where the SAM template and zip go")
    parser.add_argument(
        "--github-repository", default="", help="owner/name: create a deploy role its main branch may assume"
    )
    args = parser.parse_args(argv)
    if bool(args.user_pool_id) != bool(args.app_client_id):
        parser.error("--user-pool-id and --app-client-id go together")
    project = Project(args.project_dir.resolve())
    if args.command == "package":
        try:
            package(
                args.stage, project, (args.out or project.root / "build" / f"package-{args.stage}").resolve()
            )
        except DeployError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    import boto3

    session = boto3.session.Session()  # type: ignore[no-untyped-call]
    if session.region_name is None:
        print("set a region (AWS_DEFAULT_REGION or your AWS profile)", file=sys.stderr)
        return 2
    try:
        if args.command == "deploy":
            pool = None
            if args.user_pool_id:
                cognito = session.client("cognito-idp")  # type: ignore[no-untyped-call]
                pool = existing_user_pool(cognito, args.user_pool_id, args.app_client_id)
            deploy(args.stage, session, project, pool=pool, github_repository=args.github_repository)
        else:
            if not args.yes and not confirm_destroy(args.stage):
                print("not destroyed", file=sys.stderr)
                return 1
            destroy(args.stage, session, project)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
