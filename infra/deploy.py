"""`make deploy` / `make destroy`: one stage of people-api on AWS, with boto3 only.

deploy:  create or update the stage's CloudFormation stack (infra/template.yaml), write its
         outputs and the cursor key into the stage's `environment_variables` and its IAM
         policy file in `.chalice/`, run `chalice deploy --stage <stage>`, then do what
         Chalice cannot express: problem+json gateway responses with CORS headers, bounded
         retries and an on-failure queue for the stream handler, a dead-letter queue for the
         SNS subscriber. Every step converges, so re-running is safe.
destroy: `chalice delete`, then the stack and the cursor key (asks first on prod).

Usage: python -m infra.deploy deploy --stage dev
       python -m infra.deploy destroy --stage dev [--yes]
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
GATEWAY_RESPONSES = ROOT / "infra" / "gateway-responses.json"
CHALICE_DIR = ROOT / ".chalice"
APP_NAME = "people-api"
PROTECTED_STAGES = frozenset({"prod"})

# Stack output -> environment variable the app reads (chalicelib/config.py).
OUTPUT_TO_ENV = {
    "TableName": "TABLE_NAME",
    "TableStreamArn": "TABLE_STREAM_ARN",
    "ChangesTopicArn": "CHANGES_TOPIC_ARN",
    "UserPoolArn": "COGNITO_USER_POOL_ARN",
    "UserPoolId": "COGNITO_USER_POOL_ID",
    "AppClientId": "COGNITO_APP_CLIENT_ID",
}

# The stream handler gives up on a batch after this many retries (halving it on each error
# first), and sends the batch's location to the stack's StreamFailureQueue.
STREAM_MAX_RETRIES = 5
STREAM_MAX_RECORD_AGE_SECONDS = 6 * 3600

# Least privilege: the only actions the code performs, on this stage's resources only.
# tests/integration/test_policy.py derives the DynamoDB actions by running the API and
# fails if this grants more or less than the code uses.
# Query on the table itself reads a person's history (one partition); the index serves listings.
# IAM has no TransactWriteItems action: each item of a transaction is authorised as the
# operation it performs (Put -> dynamodb:PutItem, ConditionCheck -> dynamodb:ConditionCheckItem),
# so the idempotent POST's transaction of two Puts needs only PutItem.
# DeleteItem: the stream handler removes tag entries (the API itself never deletes an item).
TABLE_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
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
# Lambda sends failed stream batches and failed SNS-triggered events with the function's role.
QUEUE_ACTIONS = ("sqs:SendMessage",)
# Set here, not with Chalice's log_retention_in_days: `chalice package` then emits a log group
# referring to a function resource that does not exist (ApiHandler vs APIHandler).
LOG_RETENTION_DAYS = {"prod": 90}
DEFAULT_LOG_RETENTION_DAYS = 14
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")


class DeployError(RuntimeError):
    """A step of the deployment failed in a way the user must fix."""


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def cursor_secret_parameter(stage: str) -> str:
    return f"/{APP_NAME}/{stage}/cursor-secret"


# --- the stack -------------------------------------------------------------------------


def _stack_outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def ensure_stack(cfn: Any, stage: str, template_body: str, *, wait: bool = True) -> dict[str, str]:
    """Create the stage's stack or update it to the template; return its outputs."""
    from botocore.exceptions import ClientError

    name = stack_name(stage)
    args: dict[str, Any] = {
        "StackName": name,
        "TemplateBody": template_body,
        "Parameters": [{"ParameterKey": "Stage", "ParameterValue": stage}],
        "Tags": [{"Key": "app", "Value": APP_NAME}, {"Key": "stage", "Value": stage}],
    }
    try:
        existing = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" not in str(exc):
            raise
        existing = None
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


def stage_env_from(outputs: Mapping[str, str], cursor_secret: str) -> dict[str, str]:
    """The environment variables the stack and the key give the stage."""
    missing = sorted(set(OUTPUT_TO_ENV) - set(outputs))
    if missing:
        raise DeployError(f"the stack has no outputs {missing}; is infra/template.yaml deployed?")
    env = {variable: outputs[output] for output, variable in OUTPUT_TO_ENV.items()}
    env["CURSOR_SECRET"] = cursor_secret
    return env


def write_stage_environment(config_path: Path, stage: str, env: Mapping[str, str]) -> None:
    """Merge `env` into the stage's environment_variables, keeping everything else."""
    config = json.loads(config_path.read_text())
    stage_config = config["stages"][stage]
    stage_config.setdefault("environment_variables", {}).update(env)
    config_path.write_text(json.dumps(config, indent=2) + "\n")


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


def policy_document(outputs: Mapping[str, str]) -> dict[str, Any]:
    """The stage's IAM policy: only what the code does, only on this stage's resources."""
    table_arn = outputs["TableArn"]
    partition, region, account = _arn_parts(table_arn)
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{APP_NAME}-*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Table", "Effect": "Allow", "Action": list(TABLE_ACTIONS), "Resource": [table_arn]},
            {
                "Sid": "OwnerIndex",
                "Effect": "Allow",
                "Action": list(INDEX_ACTIONS),
                "Resource": [f"{table_arn}/index/{index}" for index in INDEXES],
            },
            {
                "Sid": "TableStream",
                "Effect": "Allow",
                "Action": list(STREAM_ACTIONS),
                "Resource": [outputs["TableStreamArn"]],
            },
            {
                "Sid": "ChangesTopic",
                "Effect": "Allow",
                "Action": list(TOPIC_ACTIONS),
                "Resource": [outputs["ChangesTopicArn"]],
            },
            {
                "Sid": "FailureQueues",
                "Effect": "Allow",
                "Action": list(QUEUE_ACTIONS),
                "Resource": [outputs["StreamFailureQueueArn"], outputs["SubscriberDeadLetterQueueArn"]],
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": [log_group, f"{log_group}:*"],
            },
        ],
    }


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
    }


def write_policy(chalice_dir: Path, stage: str, outputs: Mapping[str, str]) -> Path:
    path = chalice_dir / f"policy-{stage}.json"
    path.write_text(json.dumps(policy_document(outputs), indent=2) + "\n")
    return path


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


def gateway_responses(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """put_gateway_response arguments: problem+json bodies with CORS headers."""
    from chalicelib.web.problems import PROBLEM, encode, gateway_problem, problem_headers

    out = []
    for response_type, spec in table.items():
        if response_type.startswith("_"):
            continue
        # API Gateway fills $context variables into the template when it answers.
        template = encode(gateway_problem(spec, request_id="$context.requestId")).decode()
        headers = {
            **problem_headers(spec["status"] or 0),
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Headers": "Authorization,Content-Type,If-Match",
            "Access-Control-Expose-Headers": "ETag,Link,Location",
        }
        args: dict[str, Any] = {
            "responseType": response_type,
            "responseParameters": {f"gatewayresponse.header.{k}": f"'{v}'" for k, v in headers.items()},
            "responseTemplates": {"application/json": template, PROBLEM: template},
        }
        if spec["status"] is not None:
            args["statusCode"] = str(spec["status"])
        out.append(args)
    return out


def put_gateway_responses(apigateway: Any, rest_api_id: str, stage_name: str) -> None:
    """Install the gateway responses and redeploy the API stage so they take effect."""
    table = json.loads(GATEWAY_RESPONSES.read_text())
    for args in gateway_responses(table):
        apigateway.put_gateway_response(restApiId=rest_api_id, **args)
    apigateway.create_deployment(restApiId=rest_api_id, stageName=stage_name, description="gateway responses")


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
            MaximumRetryAttempts=STREAM_MAX_RETRIES,
            MaximumRecordAgeInSeconds=STREAM_MAX_RECORD_AGE_SECONDS,
            BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": outputs["StreamFailureQueueArn"]}},
        )
        done.append(f"stream mapping {mapping['event_uuid']}: on failure -> stream-failures queue")
    dlq = outputs["SubscriberDeadLetterQueueArn"]
    for subscription in _of_type(resources, "sns_event"):
        sns.set_subscription_attributes(
            SubscriptionArn=subscription["subscription_arn"],
            AttributeName="RedrivePolicy",
            AttributeValue=json.dumps({"deadLetterTargetArn": dlq}),
        )
        # SNS invokes Lambda asynchronously: after Lambda's own retries, park the event.
        lambda_client.put_function_event_invoke_config(
            FunctionName=subscription["lambda_arn"],
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": dlq}},
        )
        done.append(f"subscription {subscription['subscription_arn']}: dead letters -> subscriber-dlq")
    return done


def function_log_groups(resources: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        "/aws/lambda/" + str(f["lambda_arn"]).rsplit(":", 1)[-1]
        for f in _of_type(resources, "lambda_function")
    ]


def set_log_retention(logs: Any, resources: Iterable[Mapping[str, Any]], stage: str) -> None:
    """Create each function's log group up front with the stage's retention."""
    days = LOG_RETENTION_DAYS.get(stage, DEFAULT_LOG_RETENTION_DAYS)
    for group in function_log_groups(resources):
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)


def delete_log_groups(logs: Any, resources: Iterable[Mapping[str, Any]]) -> None:
    for group in function_log_groups(resources):
        with contextlib.suppress(logs.exceptions.ResourceNotFoundException):
            logs.delete_log_group(logGroupName=group)


# --- the commands ----------------------------------------------------------------------


def chalice(*args: str) -> None:
    """Run the chalice CLI of this interpreter's environment on the project."""
    cli = Path(sys.executable).with_name("chalice")
    command = [str(cli) if cli.exists() else "chalice", "--project-dir", str(ROOT), *args]
    # PIP_NO_DEPS: requirements.txt lists the full runtime closure except the AWS SDK, which
    # the Lambda runtime provides (see README "Package size").
    env = {**os.environ, "PIP_NO_DEPS": "1"}
    # Chalice reuses a cached zip keyed on requirements.txt alone, which may have been built
    # without PIP_NO_DEPS (a plain `chalice deploy`, with the SDK inside): always rebuild.
    shutil.rmtree(ROOT / ".chalice" / "deployments", ignore_errors=True)
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise DeployError(f"`chalice {' '.join(args)}` failed")


def deploy(stage: str, session: Any, *, run_chalice: Callable[..., None] = chalice) -> str:
    """Deploy the stage end to end; return the API URL."""
    if stage == "local":
        raise DeployError("the local stage runs under `make run`, not on AWS")
    outputs = ensure_stack(session.client("cloudformation"), stage, TEMPLATE.read_text())
    secret = ensure_cursor_secret(session.client("ssm"), stage)
    write_stage_environment(CHALICE_DIR / "config.json", stage, stage_env_from(outputs, secret))
    write_policy(CHALICE_DIR, stage, outputs)
    run_chalice("deploy", "--stage", stage)
    resources = deployed_resources(CHALICE_DIR, stage)
    apis = _of_type(resources, "rest_api")
    if not apis:
        raise DeployError(f".chalice/deployed/{stage}.json names no REST API; did chalice deploy run?")
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    api_stage = config["stages"][stage].get("api_gateway_stage", config.get("api_gateway_stage", "api"))
    put_gateway_responses(session.client("apigateway"), apis[0]["rest_api_id"], api_stage)
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


def destroy(stage: str, session: Any, *, run_chalice: Callable[..., None] = chalice) -> None:
    resources = deployed_resources(CHALICE_DIR, stage)
    if resources:
        run_chalice("delete", "--stage", stage)
        delete_log_groups(session.client("logs"), resources)
    delete_stack(session.client("cloudformation"), stage)
    ssm = session.client("ssm")
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=cursor_secret_parameter(stage))
    print(f"{stack_name(stage)} is gone", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["deploy", "destroy"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--yes", action="store_true", help="destroy a protected stage without asking")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.session.Session()  # type: ignore[no-untyped-call]
    if session.region_name is None:
        print("set a region (AWS_DEFAULT_REGION or your AWS profile)", file=sys.stderr)
        return 2
    try:
        if args.command == "deploy":
            deploy(args.stage, session)
        else:
            if not args.yes and not confirm_destroy(args.stage):
                print("not destroyed", file=sys.stderr)
                return 1
            destroy(args.stage, session)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
